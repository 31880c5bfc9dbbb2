"""``jug count``: how many tasks of each name the jugfile defines.

Layer 5 (docs/subcommands.rst).
"""
from __future__ import annotations

from collections import defaultdict

from .. import task as _task_module
from ..io import print_task_summary_table
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..optionchain import Options


class CountCommand(SubCommand):
    """Count the tasks of each name (runs nothing)

    count: print how many tasks of each name the jugfile defines (up to the first
    barrier that is not yet passed).
    """

    name = 'count'

    def run(self, options: Options, *args: Any, **kwargs: Any) -> None:
        counts: defaultdict[str, int] = defaultdict(int)
        for t in _task_module.alltasks:
            counts[t.name] += 1
        print_task_summary_table(options, [('Count', counts)])


count = CountCommand()
