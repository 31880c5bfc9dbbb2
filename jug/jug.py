"""The runtime: loading a jugfile, the execution loop, and the ``jug`` entry point.

Layer 4 (docs/architecture.rst): imports the model, the vocabulary and ``jug.options``; reaches
the subcommands only through ``main``, which looks them up in the registry.
"""
from __future__ import annotations

import logging
import os
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
        with fewer_collections():  # a jugfile may create millions of tasks
            exec(code, jugspace)
    except BarrierError:
        jugspace['__jug__hasbarrier__'] = True
    except Exception as e:
        _jugfile_error(jugfile, e, on_error)
    return _task_module.Task.store, jugspace


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the ``jug`` command line (``argv`` includes the program name).

    Usage: ``jug.jug.main(['jug', 'status', 'analysis.py'])``
    """
    global _is_jug_running
    _is_jug_running = True
    if argv is None:
        argv = sys.argv
    try:
        retval = _main(argv)
    except JugExit as e:  # a command's own exit code (check, execute...)
        if e.message:
            sys.stderr.write(e.message + '\n')
        retval = e.exit_status
    except KeyboardInterrupt:
        sys.stderr.write('jug: interrupted\n')
        retval = EXIT_INTERRUPTED
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
