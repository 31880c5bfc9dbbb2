"""``jug count``: how many tasks of each name the jugfile defines.

Layer 5 (docs/subcommands.rst).
"""
from collections import defaultdict

from .. import task as _task_module
from ..io import print_task_summary_table
from . import SubCommand


class CountCommand(SubCommand):
    """Count tasks

    count: print how many tasks of each name the jugfile defines (up to the first
    barrier that is not yet passed).
    """

    name = 'count'

    def run(self, options, *args, **kwargs):
        counts = defaultdict(int)
        for t in _task_module.alltasks:
            counts[t.name] += 1
        print_task_summary_table(options, [('Count', counts)])


count = CountCommand()
