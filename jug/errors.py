"""User-facing errors of jug, and the one place that names their exit codes.

Library and subcommand code raises these; only ``jug.jug.main`` turns them into one
line on stderr and an exit code (DESIGN.md, habit 5).  A traceback is shown only for
bugs (any other exception) and with ``--debug``.

This module imports nothing from jug.
"""

#: Exit code for a user error that SPEC.md does not give a more specific code for.
EXIT_USER_ERROR = 1


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

    exit_code = 2


def mark_store_error(error: BaseException, message: str) -> BaseException:
    """Note on ``error`` (raised by a store) the one-line message ``main`` shows for it.

    The exception itself propagates unchanged (callers may catch its own type, e.g.
    ``PermissionError``); only ``main`` reads the message.
    """
    error.jug_store_message = message
    return error


def store_error_message(error: BaseException):
    """Return the message ``mark_store_error`` put on ``error``, or None."""
    return getattr(error, 'jug_store_message', None)


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
