"""``jug cleanup``: remove results no task of the jugfile refers to, and locks.

Layer 5 (SPEC.md §4.8).
"""
from .. import task as _task_module
from ..options import add_flag
from . import SubCommand


class CleanupCommand(SubCommand):
    """Cleanup

    cleanup: remove stored results that no task of the jugfile needs, and all locks
    (see --locks-only, --failed-only, --keep-locks).
    """

    name = 'cleanup'

    def run(self, store, options, *args, **kwargs):
        if options.cleanup_locks_only:
            options.print_out(f'Removed {store.remove_locks()} locks')
            return
        if options.cleanup_failed_only:
            removed = 0
            for name in list(store.listlocks()):
                lock = store.getlock(name)
                if lock.is_failed():
                    lock.release()
                    removed += 1
            options.print_out(f'Removed {removed} failure locks')
            return
        removed = store.cleanup(_task_module.alltasks, keeplocks=True)
        options.print_out(f'Removed {removed} objects')
        if not options.cleanup_keep_locks:
            options.print_out(f'Removed {store.remove_locks()} locks')

    def parse(self, parser):
        exclusive = parser.add_mutually_exclusive_group()
        add_flag(exclusive, '--locks-only', 'cleanup_locks_only',
                 'Only remove locks (all of them: make sure no jug execute is running)')
        add_flag(exclusive, '--failed-only', 'cleanup_failed_only',
                 'Only remove the locks of failed tasks')
        add_flag(exclusive, '--keep-locks', 'cleanup_keep_locks',
                 'Remove unused results but keep every lock')

    def parse_defaults(self):
        return {'cleanup_keep_locks': False, 'cleanup_failed_only': False,
                'cleanup_locks_only': False}


cleanup = CleanupCommand()
