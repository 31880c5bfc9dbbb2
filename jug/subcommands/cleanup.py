"""``jug cleanup``: remove results no task of the jugfile refers to, and locks.

Layer 5 (docs/subcommands.rst).
"""
from __future__ import annotations

import logging

from .. import task as _task_module
from ..options import add_flag
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from ..optionchain import Options


def _remove_locks(store: Any, options: Options) -> int:
    """Remove the locks no live worker holds (all of them with --force); return how many.

    Locks of live workers of ours (leased, refreshed, not this process) are kept, so
    cleanup is safe while ``jug execute`` runs.  Jug 2.7's locks carry no lease: as in
    Jug 2.7, they are removed.
    """
    if options.cleanup_force:
        return store.remove_locks()
    kept = removed = 0
    for name in list(store.listlocks()):
        if store.getlock(name).remove_unless_live():
            removed += 1
        else:
            kept += 1
    if kept:
        logging.warning(f'Kept {kept} locks held by running workers '
                        '(jug cleanup --force removes them too).')
    return removed


class CleanupCommand(SubCommand):
    """Cleanup

    cleanup: remove stored results that no task of the jugfile needs, and all locks
    (see --locks-only, --failed-only, --keep-locks).
    """

    name = 'cleanup'

    def run(self, store: Any, options: Options, *args: Any, **kwargs: Any) -> None:
        if options.cleanup_locks_only:
            options.print_out(f'Removed {_remove_locks(store, options)} locks')
            return
        if options.cleanup_failed_only:
            removed = 0
            for name in list(store.listlocks()):
                removed += store.getlock(name).remove_if_failed()
            options.print_out(f'Removed {removed} failure locks')
            return
        removed = store.cleanup(_task_module.alltasks, keeplocks=True)
        options.print_out(f'Removed {removed} objects')
        if not options.cleanup_keep_locks:
            options.print_out(f'Removed {_remove_locks(store, options)} locks')

    def parse(self, parser: argparse._ActionsContainer) -> None:
        exclusive = parser.add_mutually_exclusive_group()
        add_flag(exclusive, '--locks-only', 'cleanup_locks_only',
                 'Only remove locks (those of running workers are kept)')
        add_flag(exclusive, '--failed-only', 'cleanup_failed_only',
                 'Only remove the locks of failed tasks')
        add_flag(exclusive, '--keep-locks', 'cleanup_keep_locks',
                 'Remove unused results but keep every lock')
        add_flag(parser, '--force', 'cleanup_force',
                 'Also remove the locks of workers that are running (as Jug 2.7 did)')

    def parse_defaults(self) -> dict[str, Any]:
        return {'cleanup_keep_locks': False, 'cleanup_failed_only': False,
                'cleanup_locks_only': False, 'cleanup_force': False}


cleanup = CleanupCommand()
