"""``jug cleanup``: remove results no task of the jugfile refers to, and locks.

Layer 5 (docs/subcommands.rst).  ``--dry-run`` asks the store the same questions
through its public methods (``list``, ``listlocks``, ``getlock(name).is_failed()`` and
``is_held_by_live_worker()``) and removes nothing.
"""
from __future__ import annotations

import logging

from .. import task as _task_module
from ..backends.base import as_bytes
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
    Jug 2.7, they are removed.  With --dry-run: how many would be removed.
    """
    dry_run = options.cleanup_dry_run
    if options.cleanup_force:
        return len(list(store.listlocks())) if dry_run else store.remove_locks()
    kept = removed = 0
    for name in list(store.listlocks()):
        lock = store.getlock(name)
        if dry_run:
            gone = not lock.is_held_by_live_worker()
        else:
            gone = lock.remove_unless_live()
        if gone:
            removed += 1
        else:
            kept += 1
    if kept:
        logging.warning(f'{"Would keep" if dry_run else "Kept"} {kept} locks held by '
                        'running workers (jug cleanup --force removes them too).')
    return removed


def _remove_failure_locks(store: Any, dry_run: bool) -> int:
    """Remove the locks marked failed; return how many (would be) removed."""
    removed = 0
    for name in list(store.listlocks()):
        lock = store.getlock(name)
        removed += bool(lock.is_failed() if dry_run else lock.remove_if_failed())
    return removed


def _remove_results(store: Any, dry_run: bool) -> int:
    """Remove the results no task of the jugfile needs; return how many (would be)
    removed (``store.cleanup`` also removes their run records and what killed workers
    left; those are not counted)."""
    tasks = _task_module.alltasks
    if not dry_run:
        return store.cleanup(tasks, keeplocks=True)
    active = {as_bytes(t.hash()) for t in tasks}
    # a key both packed and in a file is listed (and removed) twice
    return sum(as_bytes(key) not in active for key in store.list())


class CleanupCommand(SubCommand):
    """Remove unused results, and locks no running worker holds

    cleanup: remove stored results that no task of the jugfile needs, and the locks
    of no running worker (see --locks-only, --failed-only, --keep-locks, --force;
    --dry-run only says what would be removed).
    """

    name = 'cleanup'

    def run(self, store: Any, options: Options, *args: Any, **kwargs: Any) -> None:
        dry_run = options.cleanup_dry_run
        removed = 'Would remove' if dry_run else 'Removed'
        if options.cleanup_locks_only:
            options.print_out(f'{removed} {_remove_locks(store, options)} locks')
            return
        if options.cleanup_failed_only:
            options.print_out(f'{removed} {_remove_failure_locks(store, dry_run)} '
                              'failure locks')
            return
        options.print_out(f'{removed} {_remove_results(store, dry_run)} objects')
        if not options.cleanup_keep_locks:
            options.print_out(f'{removed} {_remove_locks(store, options)} locks')

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
        add_flag(parser, '--dry-run', 'cleanup_dry_run',
                 'Remove nothing: only say what would be removed')

    def parse_defaults(self) -> dict[str, Any]:
        return {'cleanup_keep_locks': False, 'cleanup_failed_only': False,
                'cleanup_locks_only': False, 'cleanup_force': False,
                'cleanup_dry_run': False}


cleanup = CleanupCommand()
