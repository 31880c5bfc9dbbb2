"""``jug invalidate``: forget the results of some tasks and of everything downstream.

Layer 5 (docs/subcommands.rst).  The downstream walk is ``jug.task.downstream``, shared with
the shell's ``invalidate``.
"""
from __future__ import annotations

from collections import defaultdict

from .. import task as _task_module
from ..io import print_task_summary_table
from ..task import downstream
from ..utils import add_task_selection_options, prepare_matcher_from_options
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from ..optionchain import Options


class InvalidateCommand(SubCommand):
    """Invalidate the results of a task

    invalidate: remove the stored results of the tasks selected by --name or
    --pattern and of every task that depends on them.
    """

    name = 'invalidate'

    def run(self, store: Any, options: Options, *args: Any, **kwargs: Any) -> None:
        matcher = prepare_matcher_from_options(name=options.invalid_name,
                                               pattern=options.invalid_pattern)
        if matcher is None:
            raise ValueError('jug invalidate: no task selected (use --name or --pattern)')
        invalid = downstream(_task_module.alltasks, lambda t: matcher(t.name))
        if not invalid:
            options.print_out('No results invalidated.')
            return
        name_of = {t.hash(): t.name for t in invalid}
        removed = store.remove_many(list(name_of))
        if not removed:
            options.print_out('Tasks invalidated, but no results removed')
            return
        counts: defaultdict[str, int] = defaultdict(int)
        for key in removed:
            counts[name_of[key]] += 1
        print_task_summary_table(options, [('Invalidated', counts)])

    def parse(self, parser: argparse._ActionsContainer) -> None:
        add_task_selection_options(parser, 'invalid_name', 'invalid_pattern', True,
                                   'invalidate')

    def parse_defaults(self) -> dict[str, Any]:
        return {'invalid_name': None, 'invalid_pattern': None}


invalidate = InvalidateCommand()
