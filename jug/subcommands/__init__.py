"""The subcommand framework: ``SubCommand``, the ``cmdapi`` registry and the usage text.

Each module in this package defines one command by instantiating a ``SubCommand``
subclass, which registers it with ``cmdapi`` (docs/architecture.rst, "Adding a command or
a hook").  Users add commands in ``~/.config/jug/jug_user_commands.py``.

This ``__init__`` is the framework only: it imports nothing from the runtime (just
``jug.optionchain``, ``jug.errors`` and ``jug.jug_version``), so that ``jug.options`` can build its
parser from it.  The command modules (layer 5) are plug-ins, imported by name when
the registry is first used.
"""
from __future__ import annotations

import abc
import argparse  # already imported by jug.options
import importlib
import os
import sys
import traceback
import warnings

from ..errors import JugExit, NoSuchCommandError, SubCommandError, store_error_message
from ..jug_version import CITATION
from ..optionchain import Options
from ..options import register_commands

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Generator

__all__ = ['cmdapi', 'SubCommand', 'SubCommandError', 'NoSuchCommandError']

#: Where user-defined commands are looked for (``jug_user_commands.py`` in it).
USER_COMMANDS_PATH = '~/.config/jug/'
_USER_COMMANDS_MODULE = 'jug_user_commands'

_USAGE_HEADER = '''\
jug SUBCOMMAND [JUGFILE] [OPTIONS...]

Documentation:  https://jug.readthedocs.io/
Citation:       Coelho, L.P., (2017). Jug: Software for Parallel Reproducible
                Computation in Python. JORS 5(1), p.30. doi:10.5334/jors.161

Subcommands
-----------
'''

_USAGE_FOOTER = '''
help:
   Use 'jug <subcommand> --help' for subcommand specific options.
'''


def _get_helptext(command: Any) -> str:
    """Return the first line of a command's docstring (its one-line help)."""
    doc = type(command).__doc__
    if not doc or not doc.strip():
        raise SubCommandError(f'Subcommand {type(command).__name__} has no docstring; '
                              'its first line is the help text and is required.')
    return doc.strip().splitlines()[0]


def _invalid_module(name: str, error: BaseException) -> None:
    """Warn that a subcommand module could not be imported."""
    warnings.warn(f'jug: could not load the subcommand module {name!r}: {error}')


def _module_names(directory: str) -> list[str]:
    """Names of the modules in `directory` (``pkgutil.iter_modules`` would do, but it
    imports ``inspect``, which costs more start-up time than all of jug)."""
    return sorted(name[:-3] for name in os.listdir(directory)
                  if name.endswith('.py') and name != '__init__.py')


class SubCommandDict(dict):
    """The registry's dict: looking up a name first loads every command module."""

    def __init__(self) -> None:
        super().__init__()
        self._builtin_loaded = False
        self._user_loaded = False

    def load_builtin(self) -> None:
        """Import every module of ``jug.subcommands`` (each registers its commands)."""
        if self._builtin_loaded:
            return
        self._builtin_loaded = True
        for name in _module_names(__path__[0]):
            module_name = f'{__name__}.{name}'
            if module_name in sys.modules:
                continue
            try:
                importlib.import_module(module_name)
            except Exception as e:
                _invalid_module(module_name, e)

    def _load_user_commands(self, user_path: str = USER_COMMANDS_PATH) -> None:
        """Import ``jug_user_commands`` from ``user_path`` if that file exists."""
        directory = os.path.expanduser(user_path)
        if not os.path.isfile(os.path.join(directory, _USER_COMMANDS_MODULE + '.py')):
            return
        if directory not in sys.path:
            sys.path.append(directory)
        try:
            importlib.import_module(_USER_COMMANDS_MODULE)
        except Exception as e:
            _invalid_module(_USER_COMMANDS_MODULE, e)

    def load_all(self) -> None:
        """Load built-in commands, then (once) the user's."""
        self.load_builtin()
        if not self._user_loaded:
            self._user_loaded = True
            self._load_user_commands()

    def __getitem__(self, name: str) -> SubCommand:
        self.load_all()
        return super().__getitem__(name)


class CommandListHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The help formatter of ``jug --help``, whose description is the usage text.

    That text lists every command with its one-line help; argparse would list them
    all again under the SUBCOMMAND argument, which this formatter leaves out (and
    says where they are).  ``jug <command> --help`` and shell completion (shtab reads
    the parser, not its help) are unchanged.
    """

    def add_argument(self, action: argparse.Action) -> None:
        if isinstance(action, argparse._SubParsersAction) and action.help is None:
            import copy  # lazy: only for jug --help
            action = copy.copy(action)  # the parser's own action stays as it is
            action.help = 'the subcommand to run: one of those listed above'
        super().add_argument(action)

    def _iter_indented_subactions(self, action: argparse.Action
                                  ) -> Generator[argparse.Action, None, None]:
        if not isinstance(action, argparse._SubParsersAction):
            yield from super()._iter_indented_subactions(action)


class SubCommandManager:
    """The registry of subcommands (``cmdapi``), their defaults and the usage text.

    Attributes
    ----------
    help_formatter : type
        The ``formatter_class`` of the ``jug`` parser (see CommandListHelpFormatter).
    """

    help_formatter = CommandListHelpFormatter

    def __init__(self) -> None:
        self._commands = SubCommandDict()
        self.default_options = Options(None)

    def _register(self, name: str, instance: SubCommand) -> None:
        if name in dict.keys(self._commands):
            warnings.warn(f'jug: subcommand {name!r} registered again; '
                          'the new definition replaces the previous one')
        dict.__setitem__(self._commands, name, instance)
        self.default_options.update(instance.parse_defaults())

    def load_builtin_commands(self) -> None:
        """Import the built-in command modules (idempotent)."""
        self._commands.load_builtin()

    def commands(self) -> dict[str, SubCommand]:
        """Return a dict name → command of every command, user commands included."""
        self._commands.load_all()
        return dict(self._commands)

    def get(self, name: str) -> SubCommand:
        """Return the command called ``name``.

        Raises
        ------
        NoSuchCommandError
        """
        try:
            return self._commands[name]
        except KeyError:
            raise NoSuchCommandError(f'Unknown subcommand: {name}') from None

    def run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run the command ``name``; an unknown name prints the usage and exits 1."""
        try:
            command = self.get(name)
        except NoSuchCommandError as e:
            self.usage(error=str(e))
        try:
            return command.run(*args, **kwargs)
        except TypeError as e:
            if store_error_message(e) is not None:
                raise  # e.g. a task's result that cannot be pickled: main reports it
            if 'unexpected keyword' in str(e):
                raise SubCommandError(f'Subcommand {name!r} was called with arguments it '
                                      f'does not accept: {e}') from e
            traceback.print_exc()
            self.usage()

    def usage(self, error: str = '', exit: bool = True, _print: bool = True) -> str:
        """Return (and print, and exit 1 unless told otherwise) the usage text."""
        lines = [_USAGE_HEADER]
        for name, command in sorted(self.commands().items()):
            lines.append(f'   {name + ":":<15} {command.helptext()}\n')
        lines.append(_USAGE_FOOTER)
        if error:
            lines.append(f'\nError: {error}\n')
        text = ''.join(lines)
        if _print:
            sys.stdout.write(text)
        if exit:
            raise JugExit(1)
        return text


cmdapi = SubCommandManager()
register_commands(cmdapi)  # the command line (jug.options, below) reaches us through it


class SubCommand(abc.ABC):
    """Base class of jug's subcommands; instantiating one registers it.

    Subclasses set the class attribute ``name``, write a docstring whose first line is
    the help text, and implement ``run``; they may override ``parse(parser)`` to add
    options and ``parse_defaults()`` to give their defaults.

    Attributes
    ----------
    loads_jugfile_itself : bool
        False (the default): ``jug.jug.main`` loads the jugfile (``init``) before
        ``run``, which gets the store and the jugfile's namespace.  True: the command
        loads it itself, or never needs it.
    """

    loads_jugfile_itself = False
    name: str  # set by each subclass

    def __init__(self) -> None:
        if not getattr(self, 'name', None):
            raise SubCommandError(f'{type(self).__name__} must set the class attribute name')
        _get_helptext(self)
        cmdapi._register(self.name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(*args, **kwargs)

    def helptext(self) -> str:
        """Return the one-line help (first docstring line)."""
        return _get_helptext(self)

    @abc.abstractmethod
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command."""

    def parse(self, parser: argparse._ActionsContainer) -> None:
        """Add this command's options to ``parser`` (an argparse group)."""

    def parse_defaults(self) -> dict[str, Any]:
        """Return a dict of this command's option defaults."""
        return {}


def maybe_print_citation_info(options: Options) -> None:
    """Print the citation notice unless ``--will-cite`` was given."""
    if options.will_cite:
        return
    print()
    print(CITATION)
    print('Use --will-cite (or will-cite=yes in the [main] section of a jugrc) to '
          'silence this notice.')
    print()

