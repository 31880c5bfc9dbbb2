"""The runtime: loading a jugfile, the execution loop, and the ``jug`` entry point.

Layer 4 (DESIGN.md): imports the model, the vocabulary and ``jug.options``; reaches
the subcommands only through ``main``, which looks them up in the registry.
"""
import logging
import os
import sys
import time
import traceback
import types

from . import task as _task_module
from .barrier import BarrierError
from .errors import JugError, JugfileError, JugfileNotFoundError, mark_store_error, store_error_message
from .hooks import jug_hook
from .options import parse, set_jugdir
from .records import finish_record, start_record
from .utils import prepare_matcher_from_options

silent = False  # kept for callers that set it (Jug 2.7 compatibility); unused

_is_jug_running = False

#: Exit code when the store cannot be used (as for any other user error).
EXIT_STORE_ERROR = 1
#: Exit code after Ctrl-C (SIGINT), the shell's convention of 128 + signal number.
EXIT_INTERRUPTED = 130

#: Subcommands that load the jugfile themselves (or not at all), so ``main`` does not.
_SELF_INITIALISING = frozenset(['demo', 'install-skills', 'status', 'execute',
                                'webstatus', 'test-jug'])


def is_jug_running():
    """Whether this process is running under the ``jug`` command.

    Usage: ``if not jug.is_jug_running(): ...`` (e.g. in a jugfile also run as a script)
    """
    return _is_jug_running


class ExecutionState:
    """What one ``jug execute`` run remembers across passes over the jugfile.

    Attributes
    ----------
    nr_waits : int
        Consecutive waits for tasks locked by other processes.
    failed : set of bytes
        Hashes of the tasks that failed in this run (not retried).
    """

    def __init__(self):
        self.nr_waits = 0
        self.failed = set()


def _jugfile_error(jugfile, error, on_error):
    """Report an error raised while loading the jugfile (SPEC.md §5.1)."""
    logging.critical(f"Could not import file '{jugfile}' (error: {error})")
    if on_error == 'propagate':
        raise error
    if isinstance(error, JugfileError):
        pass  # the file could not be read: the line above says it all
    elif isinstance(error, SyntaxError):
        sys.stdout.write(''.join(traceback.format_exception_only(type(error), error)))
    else:
        # Show the jugfile's frames, not init's own.
        traceback.print_exception(type(error), error, error.__traceback__.tb_next,
                                  file=sys.stdout)
    sys.exit(1)


def _read_jugfile(jugfile):
    try:
        with open(jugfile, 'rb') as source:
            return source.read()
    except FileNotFoundError:
        raise JugfileNotFoundError(f"jugfile '{jugfile}' not found") from None
    except IsADirectoryError:
        raise JugfileError(f"jugfile '{jugfile}' is a directory, not a Python file") from None
    except OSError as e:
        raise JugfileError(f"cannot read jugfile '{jugfile}': {e.strerror}") from None


def init(jugfile=None, jugdir=None, on_error='exit', store=None):
    """Load a jugfile (creating its tasks) and set up the store.

    Usage: ``store, jugspace = jug.init('analysis.py', 'analysis.jugdata')``

    Parameters
    ----------
    jugfile : str, optional
        Path of the jugfile (default ``jugfile.py``).
    jugdir : str or store, optional
        Where results are stored (see ``jug.backends.select``).
    on_error : {'exit', 'propagate'}
        What to do when the jugfile raises: log and exit 1, or re-raise.
    store : store, optional
        A store object to use instead of selecting one from ``jugdir``.

    Returns
    -------
    store : the store (``Task.store``, which the jugfile may have replaced)
    jugspace : dict, the jugfile module's namespace
    """
    assert on_error in ('exit', 'propagate'), f'init: invalid on_error={on_error!r}'
    if jugfile is None:
        jugfile = 'jugfile.py'
    set_jugdir(jugdir if store is None else store)
    here = os.path.abspath('.')
    if not sys.path or sys.path[0] != here:
        sys.path.insert(0, here)
    module_name = os.path.basename(jugfile)[:-3]
    module = types.ModuleType(module_name)
    module.__file__ = os.path.abspath(jugfile)
    sys.modules[module_name] = module
    jugspace = module.__dict__
    try:
        code = compile(_read_jugfile(jugfile), jugfile, 'exec')
        exec(code, jugspace)
    except BarrierError:
        jugspace['__jug__hasbarrier__'] = True
    except Exception as e:
        _jugfile_error(jugfile, e, on_error)
    return _task_module.Task.store, jugspace


def _log_dependents_of_failure(failed, queued):
    for other in queued:
        if any(dep is failed for dep in other.dependencies()):
            logging.critical(f'Task {other.name} depends on the failed task {failed.name} '
                             'and cannot run.')


def _unload_unneeded(previous, current):
    """Aggressive unload: free the previous task and its dependencies, except the
    values ``current`` is about to use (its direct dependencies)."""
    needed = {id(dep) for dep in current.dependencies()}
    for t in [previous, *_task_module.recursive_dependencies(previous)]:
        if id(t) not in needed:
            t.unload()


def _take_runnable_batch(tasks, options, state):
    """Remove and return the next run of runnable tasks, waiting if none is runnable.

    Returns an empty list when giving up after ``execute_nr_wait_cycles`` waits.
    """
    waited = False
    while True:
        first = next((i for i, t in enumerate(tasks) if t.can_run()), None)
        if first is not None:
            break
        if state.nr_waits >= int(options.execute_nr_wait_cycles):
            logging.info('No tasks can be run: giving up (they wait for tasks that are '
                         'locked by other processes or failed).')
            return []
        logging.info('No tasks can be run now: waiting for tasks locked by other processes.')
        time.sleep(float(options.execute_wait_cycle_time))
        state.nr_waits += 1
        waited = True
    if waited:
        state.nr_waits = 0
    end = first + 1
    while end < len(tasks) and tasks[end].can_run():
        end += 1
    batch = tasks[first:end]
    tasks[:] = tasks[end:] + tasks[:first]
    return batch


def _take_lock(t):
    """``t.lock()``; an OSError (an unusable jugdir) is marked for ``main`` to report."""
    try:
        return t.lock()
    except OSError as e:
        mark_store_error(e, f'cannot create the lock of task {t.name} in the jug data '
                            f'directory: {e}')
        raise


# What _run_one did with a task.
_DONE = 'done'          # ran it, found it already computed, or skipped it
_FAILED = 'failed'      # it raised (and --keep-going is on)
_DEFERRED = 'deferred'  # a live worker of ours holds its lock: look at it again later


def _save_record(t, record, error=None):
    """Store the run record of ``t``; a record that cannot be written only warns."""
    try:
        t.store.save_record(t.hash(), finish_record(record, error))
    except Exception as e:
        logging.warning(f'Could not save the run record of task {t.name}: {e}')


def _run_one(t, options, state, queued, previous):
    """Lock, run and store one task; return _DONE, _FAILED or _DEFERRED."""
    if t.can_load():
        jug_hook('execute.task-loadable', (t,))
        return _DONE
    locked = failed = False
    record = None
    try:
        locked = _take_lock(t)
        if t.can_load():
            jug_hook('execute.task-loadable', (t,))
        elif locked:
            logging.info(f'Executing {t.name}...')
            jug_hook('execute.task-pre-execute', (t,))
            if options.aggressive_unload and previous is not None:
                _unload_unneeded(previous, t)
            state.nr_waits = 0
            ntasks = len(_task_module.alltasks)
            record = start_record(t)
            t.run(save=False, debug_mode=options.debug)
            # result, run record and lock release together (one round trip on redis)
            t.store.commit(t._result, t.hash(), finish_record(record))
            locked = False
            record = None
            jug_hook('execute.task-executed1', (t,))
            if options.debug and len(_task_module.alltasks) != ntasks:
                raise RuntimeError(f'jug: task {t.name} created new tasks while running; '
                                   'tasks must be created by the jugfile, not by other tasks.')
        elif t._get_lock().is_held_by_live_worker():
            # It may finish, or its worker may die (its lock then goes stale and is
            # taken over): either way this worker must come back to it.
            logging.info(f'Task {t.name} is being executed by another process.')
            return _DEFERRED
        else:
            logging.info(f'Task {t.name} already in execution by another process. Skipping it.')
        return _DONE
    except SystemExit:
        raise
    except Exception as e:
        failed = True
        if record is not None:
            _save_record(t, record, e)
        if locked:
            state.failed.add(t.hash())
        if options.pdb:
            from .internal.debugger import debug_exception  # looked up at call time
            debug_exception()
            e._jug_debugged = True  # main must not start the debugger on it again
        else:
            logging.critical(f'Exception while running {t.name}: {e}')
            _log_dependents_of_failure(t, queued)
        if options.execute_keep_failed and locked:
            t.fail()
        if not options.execute_keep_going:
            raise
        return _FAILED
    finally:
        if locked and not (failed and options.execute_keep_failed):
            t.unlock()


def execution_loop(tasks, options, state=None):
    """Run every runnable task of ``tasks`` (removing them from the list).

    Usage: ``failures = execution_loop(jug.task.alltasks, options)``

    Returns
    -------
    bool
        Whether some task raised (only returned with ``--keep-going``).
    """
    if state is None:
        state = ExecutionState()
    logging.info(f'Execute start ({len(tasks)} tasks)')
    matcher = prepare_matcher_from_options(name=options.execute_name,
                                           pattern=options.execute_pattern)
    if matcher is not None:
        tasks = [t for t in tasks if matcher(t.name)]
    skip = 0
    while skip < len(tasks) and tasks[skip].can_load():
        jug_hook('execute.task-loadable', (tasks[skip],))
        skip += 1
    del tasks[:skip]
    failures = False
    previous = None
    while tasks:
        batch = _take_runnable_batch(tasks, options, state)
        if not batch:
            break
        deferred = []
        for t in batch:
            if t.hash() in state.failed:
                continue
            outcome = _run_one(t, options, state, tasks, previous)
            failures |= outcome is _FAILED
            if outcome is _DEFERRED:
                deferred.append(t)
            if options.aggressive_unload and previous is not None:
                previous.unload()
            previous = t
        if deferred and not _wait_for_others(tasks, deferred, batch, options, state):
            break
    return failures


def _wait_for_others(tasks, deferred, batch, options, state):
    """Put back the tasks other live workers are executing; wait if that was all.

    Returns False when it is time to give up (after ``execute_nr_wait_cycles`` waits).
    """
    tasks.extend(deferred)
    if len(deferred) < len(batch):
        return True  # some progress was made: no need to wait
    if state.nr_waits >= int(options.execute_nr_wait_cycles):
        logging.info('Giving up waiting for tasks that other processes are executing.')
        return False
    logging.info('Waiting for tasks that other processes are executing.')
    time.sleep(float(options.execute_wait_cycle_time))
    state.nr_waits += 1
    return True


def main(argv=None):
    """Run the ``jug`` command line (``argv`` includes the program name).

    Usage: ``jug.jug.main(['jug', 'status', 'analysis.py'])``
    """
    global _is_jug_running
    _is_jug_running = True
    if argv is None:
        argv = sys.argv
    options = parse(argv[1:])
    store = None
    try:
        try:
            jugspace = None
            if options.subcommand not in _SELF_INITIALISING:
                store, jugspace = init(options.jugfile, options.jugdir,
                                       on_error='propagate' if options.pdb else 'exit')
            retval = _run_subcommand(options, store, jugspace)
        except Exception as e:
            retval = _report(options, e)
            if retval is None:
                raise
    except KeyboardInterrupt:
        sys.stderr.write('jug: interrupted\n')
        retval = EXIT_INTERRUPTED
    finally:
        if store is not None:
            store.close()
    sys.exit(retval)


def _run_subcommand(options, store, jugspace):
    from .subcommands import cmdapi  # the command modules sit above this layer
    return cmdapi.run(options.subcommand, options=options, store=store, jugspace=jugspace)


def _report(options, error):
    """Handle an exception that reached ``main``; return the exit code, or None to let
    it propagate (a bug or a task's error: Python prints the traceback, exit 1).

    Must be called while ``error`` is being handled (the debugger inspects it).
    """
    message = str(error) if isinstance(error, JugError) else store_error_message(error)
    if message is not None:
        if options.debug:
            traceback.print_exc()
        sys.stderr.write(f'jug: error: {message}\n')
        return getattr(error, 'exit_code', EXIT_STORE_ERROR)
    if not options.pdb:
        return None
    if not getattr(error, '_jug_debugged', False):
        from .internal.debugger import debug_exception  # looked up at call time
        debug_exception()
    return 1


def main_execute():
    """Entry point of ``jug-execute``: ``jug execute`` with the given arguments."""
    argv = list(sys.argv)
    argv.insert(1, 'execute')
    main(argv)


if __name__ == '__main__':
    # `python -m jug.jug` runs a second copy of this module as __main__; delegate to
    # the imported jug.jug so that module state (is_jug_running) is the one jugfiles see.
    from jug.jug import main as _imported_main
    _imported_main()
