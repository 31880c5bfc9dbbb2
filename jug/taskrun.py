"""Running one task in ``jug execute``: lock it, run it, commit its result, record it.

Layer 4 (runtime), used by :mod:`jug.scheduler`, which decides *which* task runs;
this module decides what becomes of one (:func:`run_one`'s outcome):

* ``DONE``: it has a result now (it ran here, or it was found stored);
* ``FAILED``: it raised here (or its lock could not be taken);
* ``FAILED_ELSEWHERE``: its lock is marked failed, or it failed in another worker since
  this one started (``docs/parallel.rst``): not retried;
* ``HELD_ELSEWHERE``: another process holds its lock (the scheduler watches it); also
  when this worker lost its lock while running the task (it was frozen or starved
  beyond its lease and another worker took the task over): the commit stores nothing,
  the other worker's result will be the one (``docs/failures.rst``).

Every run leaves a run record (:mod:`jug.records`): finished, failed, or
*interrupted* (Ctrl-C, SIGTERM, ``sys.exit`` inside the task: the worker stops, the
lock is released, and the task is not marked failed).
"""
from __future__ import annotations

import logging

from . import task as _task_module
from .backends.base import LOCK_FAILED
from .codeversions import note_version
from .errors import mark_store_error
from .hooks import jug_hook
from .records import failure_id, failure_line, finish_record, start_record

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .scheduler import _Pass
    from .task import Task

__all__ = ['run_one', 'DONE', 'FAILED', 'FAILED_ELSEWHERE', 'HELD_ELSEWHERE']

# What processing one task came to (compared by identity).
DONE = 'done'
FAILED = 'failed'
FAILED_ELSEWHERE = 'failed elsewhere'
HELD_ELSEWHERE = 'held elsewhere'


def _log_dependents_of_failure(failed: Task, run: _Pass) -> None:
    for j in run._waiting_for(failed.hash()):
        logging.critical(f'Task {run.order[j].name} depends on the failed task '
                         f'{failed.name} and cannot run.')


def _unload_unneeded(previous: Task, current: Task) -> None:
    """Aggressive unload: free the previous task and its dependencies, except the
    values ``current`` is about to use (its direct dependencies)."""
    needed = {id(dep) for dep in current.dependencies()}
    for t in [previous, *_task_module.recursive_dependencies(previous)]:
        if id(t) not in needed:
            t.unload()


def _take_lock(t: Task) -> bool:
    """``t.lock()``; an OSError (an unusable jugdir) is marked for ``main`` to report."""
    try:
        return t.lock()
    except OSError as e:
        mark_store_error(e, f'cannot create the lock of task {t.name} in the jug data '
                            f'directory: {e}')
        raise


def _save_record(t: Task, record: dict, error: BaseException | None = None) -> None:
    """Store the run record of ``t``; a record that cannot be written only warns."""
    t.store.save_record_or_warn(t.hash(), finish_record(record, error), f'task {t.name}')


def _recorded_failure(run: _Pass, t: Task) -> tuple:
    """Return ``(record, is_new)``: the failure record the store keeps for ``t`` (None
    if it has none) and whether that failure happened after this run started."""
    record = run.store.failure_mark(t.hash())
    if record is None:
        return None, False
    known = run.state.failure_ids.get(t.hash()) if run.state.failure_ids else None
    return record, known != failure_id(record)


def run_one(t: Task, run: _Pass) -> str:
    """Lock, run and store one task; return what came of it (``DONE``...)."""
    options, state = run.options, run.state
    if t.can_load():
        jug_hook('execute.task-loadable', (t,))
        return DONE
    state.check_deadline()  # (before the lock: nothing to release)
    locked = failed = False
    record = None
    try:
        locked = _take_lock(t)
        if t.can_load():
            jug_hook('execute.task-loadable', (t,))
            return DONE
        if not locked:
            return _not_locked(t, run)
        earlier, is_new = _recorded_failure(run, t)
        if is_new:
            run._failed_elsewhere(t, 'it failed in another worker: ' + failure_line(earlier))
            logging.warning(f'Task {t.name} failed in another worker since this one '
                            f'started; not retrying it ({failure_line(earlier)}).')
            return FAILED_ELSEWHERE
        logging.info(f'Executing {t.name}...')
        jug_hook('execute.task-pre-execute', (t,))
        if options.aggressive_unload and run.previous is not None:
            _unload_unneeded(run.previous, t)
        state.nr_waits = 0
        ntasks = len(_task_module.alltasks)
        record = start_record(t)
        note_version(t.store, record)
        t.run(save=False, debug_mode=options.debug)
        # result, run record and lock release together, while the lock is still ours
        committed = t.store.commit(t._result, t.hash(), finish_record(record))
        locked = False
        record = None
        if not committed:
            return _lost_lock(t)
        if earlier is not None:
            t.store.clear_failure_mark(t.hash())  # retried with success
        jug_hook('execute.task-executed1', (t,))
        if options.debug and len(_task_module.alltasks) != ntasks:
            raise RuntimeError(f'jug: task {t.name} created new tasks while running; '
                               'tasks must be created by the jugfile, not by other tasks.')
        return DONE
    except (SystemExit, KeyboardInterrupt) as e:
        if record is not None:  # interrupted while running: say so, but not as failed
            _save_record(t, record, e)
        raise
    except Exception as e:
        failed = True
        if record is not None:
            _save_record(t, record, e)
        if locked:
            state.failed.add(t.hash())
            state.errors[t.hash()] = (t.name, f'{type(e).__name__}: {e}')
        if options.pdb:
            from .internal.debugger import debug_exception  # looked up at call time
            debug_exception()
            # main must not start the debugger on it again (a marker on the exception)
            e._jug_debugged = True  # type: ignore[attr-defined]
        else:
            logging.critical(f'Exception while running {t.name}: {e}')
            _log_dependents_of_failure(t, run)
        if options.execute_keep_failed and locked:
            t.fail()
        if not options.execute_keep_going:
            raise
        return FAILED
    finally:
        if locked and not (failed and options.execute_keep_failed):
            t.unlock()


def _lost_lock(t: Task) -> str:
    """The commit of ``t`` stored nothing: another worker took its lock over."""
    t.unload()
    logging.warning(f'Task {t.name}: this worker lost its lock while running it (it was '
                    'stopped or starved for longer than its lease, and another worker '
                    'took the task over); its result is discarded, the other worker\'s '
                    'will be kept.')
    return HELD_ELSEWHERE


def _not_locked(t: Task, run: _Pass) -> str:
    """``t``'s lock is taken: failed (for good) or held by another process."""
    if t.lock_state() == LOCK_FAILED:
        run._failed_elsewhere(t, 'its lock is marked as failed')
        logging.info(f'Task {t.name} has a failed lock: not running it.')
        return FAILED_ELSEWHERE
    logging.info(f'Task {t.name} is being executed by another process.')
    return HELD_ELSEWHERE
