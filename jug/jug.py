"""The runtime: loading a jugfile, the execution loop, and the ``jug`` entry point.

Layer 4 (docs/architecture.rst): imports the model, the vocabulary and ``jug.options``; reaches
the subcommands only through ``main``, which looks them up in the registry.
"""
from __future__ import annotations

import logging
import os
import shlex
import sys
import traceback
import types

from . import task as _task_module
from .barrier import BarrierError
from .errors import JugError, JugExit, JugfileError, JugfileNotFoundError, store_error_message
from .gctuning import fewer_collections
from .options import commands, parse, set_jugdir
from .scheduler import ExecutionState, execution_loop  # noqa: F401  (their public home)

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, Sequence

    from .optionchain import Options

silent = False  # kept for callers that set it (Jug 2.7 compatibility); unused

_is_jug_running = False

#: Exit code when the store cannot be used (as for any other user error).
EXIT_STORE_ERROR = 1
#: Exit code after Ctrl-C (SIGINT), the shell's convention of 128 + signal number.
EXIT_INTERRUPTED = 130
#: Exit code when stdout or stderr is a pipe whose reader is gone (``jug status | head
#: -1``): 128 + SIGPIPE, what the shell reports for any program a closed pipe stopped.
EXIT_BROKEN_PIPE = 141



def is_jug_running() -> bool:
    """Whether this process is running under the ``jug`` command.

    Usage: ``if not jug.is_jug_running(): ...`` (e.g. in a jugfile also run as a script)
    """
    return _is_jug_running


def _jugfile_error(jugfile: str, error: Exception, on_error: str) -> NoReturn:
    """Report an error raised while loading the jugfile (as Jug 2.7 does)."""
    logging.critical(f"Could not import file '{jugfile}' (error: {error})")
    if on_error == 'propagate':
        raise error
    if isinstance(error, JugfileError):
        pass  # the file could not be read: the line above says it all
    elif isinstance(error, SyntaxError):
        sys.stdout.write(''.join(traceback.format_exception_only(type(error), error)))
    else:
        # Show the jugfile's frames, not init's own (a caught exception has a traceback).
        traceback.print_exception(type(error), error,
                                  error.__traceback__.tb_next,  # type: ignore[union-attr]
                                  file=sys.stdout)
    raise JugExit(1)


def check_jugfile(jugfile: str) -> None:
    """Raise the JugfileError ``init`` would raise if `jugfile` cannot be read.

    Usage: ``check_jugfile('analysis.py')`` (before starting workers that load it)
    """
    _read_jugfile(jugfile)


def _read_jugfile(jugfile: str) -> bytes:
    try:
        with open(jugfile, 'rb') as source:
            return source.read()
    except FileNotFoundError:
        raise JugfileNotFoundError(f"jugfile '{jugfile}' not found") from None
    except IsADirectoryError:
        raise JugfileError(f"jugfile '{jugfile}' is a directory, not a Python file") from None
    except OSError as e:
        raise JugfileError(f"cannot read jugfile '{jugfile}': {e.strerror}") from None


def init(jugfile: str | None = None, jugdir: Any = None, on_error: str = 'exit',
         store: Any = None) -> tuple[Any, dict[str, Any]]:
    """Load a jugfile (creating its tasks) and set up the store.

    Usage: ``store, jugspace = jug.init('analysis.py', 'analysis.jugdata')``

    Parameters
    ----------
    jugfile : str, optional
        Path of the jugfile (default ``jugfile.py``).
    jugdir : str or store, optional
        Where results are stored (see ``jug.backends.select``).  If None: the
        command line's default ``<jugfile minus .py>.jugdata`` if that directory
        exists, else Jug 2.7's default ``jugdata`` if it exists, else the former
        (docs/idioms.rst).
    on_error : {'exit', 'propagate'}
        What to do when the jugfile raises: log and exit 1, or re-raise.
    store : store, optional
        A store object to use instead of selecting one from ``jugdir``.

    Returns
    -------
    store : store
        The store of the tasks (``Task.store``, which the jugfile may have replaced).
    jugspace : dict
        The jugfile module's namespace (its names: tasks, functions, variables).
    """
    assert on_error in ('exit', 'propagate'), f'init: invalid on_error={on_error!r}'
    if jugfile is None:
        jugfile = 'jugfile.py'
    if jugdir is None and store is None:
        jugdir = default_jugdir(jugfile)
    set_jugdir(jugdir if store is None else store)
    _task_module.execute_command = command_line('execute', jugfile, jugdir)
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
        with fewer_collections():  # a jugfile may create millions of tasks
            exec(code, jugspace)
    except BarrierError:
        jugspace['__jug__hasbarrier__'] = True
    except Exception as e:
        if isinstance(e, BrokenPipeError) and _closed_outputs():
            raise  # stdout was closed (| head -1): main ends quietly
        _jugfile_error(jugfile, e, on_error)
    return _task_module.Task.store, jugspace


def default_jugdir(jugfile: str) -> str:
    """Return the jugdir ``init`` uses for `jugfile` when given none.

    Usage: ``default_jugdir('pipeline.py')``  →  ``'pipeline.jugdata'``

    The command line's default, ``%(jugfile)s.jugdata`` (``pipeline.jugdata``), if that
    directory exists; else Jug 2.7's default for ``init``, ``jugdata``, if it exists;
    else the command line's (where ``jug execute pipeline.py`` will write).
    """
    ours = _command_line_jugdir(jugfile)
    if not os.path.isdir(ours) and os.path.isdir(_JUG27_JUGDIR):
        return _JUG27_JUGDIR
    return ours


#: Where Jug 2.7's ``init`` (and ``jug.set_jugdir(None)``) stores results.
_JUG27_JUGDIR = 'jugdata'


def _command_line_jugdir(jugfile: str) -> str:
    """The default ``--jugdir`` of the command line for `jugfile` (as ``parse`` makes it)."""
    return jugfile[:-3] + '.jugdata'


def command_line(subcommand: str, jugfile: str, jugdir: Any) -> str:
    """The command running `subcommand` on `jugfile` in `jugdir`, to show to people.

    Usage: ``command_line('execute', 'a.py', 'a.jugdata')`` → ``'jug execute a.py'``
    (``--jugdir`` only when it is not the command line's default; no redis password)
    """
    command = f'jug {subcommand} ' + shlex.quote(jugfile)
    if isinstance(jugdir, str) and jugdir != _command_line_jugdir(jugfile):
        if jugdir.startswith('redis:'):
            from .backends.redis_client import masked  # lazy: rarely needed
            jugdir = masked(jugdir)  # no password in messages
        command += ' --jugdir ' + shlex.quote(jugdir)
    return command


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the ``jug`` command line (``argv`` includes the program name).

    Usage: ``jug.jug.main(['jug', 'status', 'analysis.py'])``
    """
    global _is_jug_running
    _is_jug_running = True
    if argv is None:
        argv = sys.argv
    try:
        try:
            retval = _main(argv)
        except JugExit as e:  # a command's own exit code (check, execute...)
            if e.message:
                sys.stderr.write(e.message + '\n')
            retval = e.exit_status
        except KeyboardInterrupt:
            sys.stderr.write('jug: interrupted\n')
            retval = EXIT_INTERRUPTED
        except SystemExit:  # argparse's (--help, --version, errors): passes through
            _quiet_if_closed()
            raise
        _flush_outputs()  # now, not at exit, where Python reports a closed pipe
    except BrokenPipeError:
        if not _closed_outputs():
            raise  # some other pipe (e.g. one a task writes to): a real error
        retval = EXIT_BROKEN_PIPE
    _quiet_if_closed()  # also for what atexit functions write, and the flush at exit
    sys.exit(retval)  # the one place where jug ends the process


def _main(argv: Sequence[str]) -> int:
    """Parse the command line and run the subcommand; return its exit code."""
    options = parse(argv[1:])
    store = None
    try:
        jugspace = None
        if not commands().get(options.subcommand).loads_jugfile_itself:
            store, jugspace = init(options.jugfile, options.jugdir,
                                   on_error='propagate' if options.pdb else 'exit')
        return commands().run(options.subcommand, options=options, store=store,
                              jugspace=jugspace)
    except Exception as e:
        retval = _report(options, e)
        if retval is None:
            raise
        return retval
    finally:
        if store is not None:
            store.close()


def _report(options: Options, error: Exception) -> int | None:
    """Handle an exception that reached ``main``; return the exit code, or None to let
    it propagate (a bug or a task's error: Python prints the traceback, exit 1).

    Must be called while ``error`` is being handled (the debugger inspects it).
    """
    if isinstance(error, BrokenPipeError) and _closed_outputs():
        return None  # stdout or stderr was closed (| head -1): main ends quietly
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


# --- a closed stdout or stderr (``jug status | head -1``) --------------------------------
# Ends jug quietly with EXIT_BROKEN_PIPE (docs/subcommands.rst).  Not by restoring the
# default action of SIGPIPE, which Python ignores: a task writing to a pipe or a socket
# that closes (a redis connection...) would then kill the worker without releasing its
# locks, where it now gets an exception.

def _flush_outputs() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and not getattr(stream, 'closed', False):
            stream.flush()


def _closed_outputs() -> list[int]:
    """Return the file descriptors among stdout's and stderr's whose reader is gone."""
    fds = []
    for stream in (sys.stdout, sys.stderr):
        try:
            fds.append(stream.fileno())  # None, or without fileno: caught below
        except (AttributeError, ValueError, OSError):
            continue  # None, closed, or not a file (e.g. captured by a test)
    import select  # lazy: only main needs it
    if not fds or not hasattr(select, 'poll'):
        return []
    poll = select.poll()
    for fd in fds:
        poll.register(fd, select.POLLOUT)
    # a pipe (or socket) whose reader closed polls as an error
    return [fd for fd, events in poll.poll(0) if events & select.POLLERR]


def _discard_closed_outputs() -> None:
    """Send what is written to a closed stdout or stderr to /dev/null from now on.

    What Python's documentation recommends after a ``BrokenPipeError`` (its note on
    SIGPIPE): else the flush at exit fails again, and Python prints that error.
    """
    closed = _closed_outputs()
    if not closed:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in closed:
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _quiet_if_closed() -> None:
    """Flush stdout and stderr; send what is still written to a closed one (now, or
    at exit) to /dev/null."""
    try:
        _flush_outputs()
    except BrokenPipeError:
        pass  # its reader is gone: found below
    _discard_closed_outputs()


def main_execute() -> NoReturn:
    """Entry point of ``jug-execute``: ``jug execute`` with the given arguments."""
    argv = list(sys.argv)
    argv.insert(1, 'execute')
    main(argv)


if __name__ == '__main__':
    # `python -m jug.jug` runs a second copy of this module as __main__; delegate to
    # the imported jug.jug so that module state (is_jug_running) is the one jugfiles see.
    from jug.jug import main as _imported_main
    _imported_main()
