"""User-facing errors of jug, and the one place that names their exit codes.

Library and subcommand code raises these; only ``jug.jug.main`` turns them into a
line on stderr and an exit code (``docs/architecture.rst``, "Errors and exit codes").
A traceback is shown only for bugs (any other exception) and with ``--debug``.

Two families:

* :class:`JugError` — something is wrong (a missing jugfile, an unusable jugdir, a bad
  option value, a missing optional package...): ``main`` writes
  ``jug: error: <message>`` and exits with the class's :attr:`~JugError.exit_code`.
* :class:`JugExit` — a command ends with an exit code of its own (``jug check``: 1 when
  some task is not done; ``jug execute``: 1 after failures...), and maybe a line to say
  why.  It is a ``SystemExit``, as in Jug 2.7, whose callers of these commands catch
  one; ``main`` writes its message (as is) and exits with its code.

An exception raised by a store keeps its own type (callers catch e.g.
``PermissionError``); :func:`mark_store_error` adds, as a note (PEP 678), the one line
``main`` shows for it.

:class:`MissingResultError` (``value()`` of a task without a result) is an
``AssertionError``, as Jug 2.7's was, and reaches the user as it is.

This module imports nothing from jug.
"""
from __future__ import annotations

#: Exit code for a user error that has no more specific code.
EXIT_USER_ERROR = 1
#: Exit code of a command-line error (argparse's).
EXIT_USAGE = 2


class JugError(Exception):
    """Base class of the errors that ``main`` reports as one clear line.

    Attributes
    ----------
    exit_code : int
        The process exit code ``main`` uses for this error.
    """

    exit_code = EXIT_USER_ERROR


class JugfileError(JugError):
    """The jugfile is missing, unreadable, or cannot be compiled or imported."""


class JugfileNotFoundError(JugfileError, FileNotFoundError):
    """The jugfile does not exist."""


class StoreError(JugError):
    """The store (jugdir) cannot be read or written."""


class OptionError(JugError):
    """An option value is invalid."""

    exit_code = EXIT_USAGE


class MissingOptionError(OptionError, ValueError):
    """A command was given none of the options it needs one of (a ``ValueError`` for
    the callers of the command functions, as before)."""


class DependencyCycleError(JugError):
    """Tasks depend on each other in a cycle (a graph built by hand): nothing of it
    can ever run.

    Parameters
    ----------
    names : list of str
        The names of the tasks of the cycle, in order (the first is repeated last).
    """

    def __init__(self, names: list) -> None:
        super().__init__('the tasks depend on each other in a cycle, so none of them can '
                         'run: ' + ' -> '.join(names))
        self.names = names


class MissingPackageError(JugError):
    """An optional package needed by a command is not installed.

    Parameters
    ----------
    package : str
        The import name of the missing package.
    purpose : str
        What needs it, e.g. ``'jug shell'``.
    extra : str, optional
        The name of the ``pip install jug[extra]`` extra that installs it.
    """

    def __init__(self, package: str, purpose: str, extra: str = '') -> None:
        install = f'pip install "Jug[{extra}]"' if extra else f'pip install {package}'
        super().__init__(f'{purpose} needs the {package!r} package, which is not installed. '
                         f'Install it with: {install}')
        self.package = package


class RedisMissingError(MissingPackageError, OSError):
    """The ``redis`` package is not installed (an ``OSError``, as in Jug 2.7)."""


class GraphvizError(JugError):
    """graphviz's ``dot`` is not installed, or it failed."""


class SubmitError(JugError):
    """``jug submit``: the batch scheduler's submit command is missing or refused the job."""


class SubCommandError(JugError):
    """A subcommand is defined or called incorrectly."""


class NoSuchCommandError(SubCommandError):
    """No subcommand has the requested name."""


class JugExit(SystemExit):
    """A command ends with exit code `code`, after `message` (a whole line) if given.

    Usage: ``raise JugExit(1)``; ``raise JugExit(2, 'jug install-skills: say where')``;
    ``raise JugExit('jug status: the cache is damaged')`` (a message alone: exit code
    1, and ``code`` is the message, as for ``SystemExit('...')``).

    ``str()`` of it is the message (or the code).  ``main`` writes the message to stderr
    and exits with the code; a caller of the command catches it as a ``SystemExit``.
    """

    def __init__(self, code: int | str = 0, message: str | None = None) -> None:
        super().__init__(code)
        self.message = code if message is None and isinstance(code, str) else message

    @property
    def exit_status(self) -> int:
        """The process's exit status: the code, or 1 when the code is a message."""
        return self.code if isinstance(self.code, int) else EXIT_USER_ERROR

    def __str__(self) -> str:
        return self.message if self.message is not None else str(self.code)


class StopRequested(JugExit):
    """``jug execute`` stops, exit code 0: a ``JUG_MAX_*`` limit or the stop file.

    ``main`` says why in one line (``jug: stopping: <reason>``).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(0, f'jug: stopping: {reason}')
        self.reason = reason


class Terminated(JugExit):
    """``jug execute`` received SIGTERM: exit code 1, unwinding (locks are released, and
    the run record of the task it was running says it was interrupted)."""

    signal_name = 'SIGTERM'

    def __init__(self) -> None:
        super().__init__(1)


def mark_store_error(error: BaseException, message: str) -> BaseException:
    """Note on ``error`` (raised by a store) the one-line message ``main`` shows for it.

    Usage: ``raise mark_store_error(e, f'cannot write the result file {path}: ...')``

    The exception itself propagates unchanged (callers may catch its own type, e.g.
    ``PermissionError``); the message is added as a note (PEP 678: tracebacks show it).
    """
    notes = list(getattr(error, '__notes__', ()))
    notes.append(_STORE_NOTE + message)
    # what BaseException.add_note does (Python 3.11+, whose stubs alone declare __notes__)
    error.__notes__ = notes  # type: ignore[attr-defined,unused-ignore]
    return error


#: Start of the note that :func:`mark_store_error` adds.
_STORE_NOTE = 'jug: error: '


def store_error_message(error: BaseException) -> str | None:
    """Return the message ``mark_store_error`` noted on ``error``, or None."""
    for note in reversed(getattr(error, '__notes__', ())):
        if isinstance(note, str) and note.startswith(_STORE_NOTE):
            return note[len(_STORE_NOTE):]
    return None


class MissingResultError(AssertionError):
    """``value(t)`` of a task whose result is not stored (docs/idioms.rst).

    An ``AssertionError``, which Jug 2.7's ``Task.load`` raised: its callers' ``except``
    clauses still catch it.  Attributes: ``name``, ``hash`` (hex str) and ``store``.
    """

    name: str
    hash: str
    store: object

    @classmethod
    def of(cls, name: str, key: bytes, store: object, command: str) -> MissingResultError:
        """The error for task `name` (key `key`) missing in `store`; `command` runs it."""
        text = key.decode('ascii', 'replace')
        error = cls(f'Task {name} (hash {text}) has no result in {store!r}: '
                    f'run `{command}` first.')
        error.name, error.hash, error.store = name, text, store
        return error
