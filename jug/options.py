"""Options: the command line, configuration files and defaults, as one lookup chain.

An ``Options`` object answers an attribute from itself or, failing that, from the
next object in its chain: command line > closest local jugrc > ... > global jugrc >
defaults > subcommand defaults (docs/configuration.rst).

Layer 4.  The subcommand framework (``jug.subcommands``, layer 5) sits above this
module: it registers itself here when it is imported (:func:`register_commands`;
``import jug`` imports it), and this module reaches the subcommands' defaults and
parsers only through what was registered.  The command modules themselves are
plug-ins that the framework imports by name the first time they are needed.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from .backends.select import select
from .errors import JugExit
from .jug_version import __version__
from .optionchain import Options
from .task import Task

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, Iterable, NoReturn, Sequence

__all__ = ['Options', 'default_options', 'parse', 'set_jugdir']

#: Global configuration files, first existing and readable one wins.
_GLOBAL_CONFIG_FILES = ('~/.config/jug/jugrc', '~/.config/jugrc', '~/.jug/configrc')
#: Local configuration file names, looked up in this order in each directory.
_LOCAL_CONFIG_NAMES = ('.jugrc', 'jugrc')
_FALSE_STRINGS = ('', '0', 'false', 'off', 'no', 'n')


#: The subcommand framework (``jug.subcommands.cmdapi``), once it registered itself.
_command_api: Any = None


def register_commands(api: Any) -> None:
    """Make `api` the subcommand framework of the command line (see the module doc).

    Usage: ``register_commands(cmdapi)`` (``jug.subcommands`` does it when imported)

    `api` has ``default_options`` (an Options chain of the commands' defaults),
    ``load_builtin_commands()``, ``commands()`` (name → command) and ``usage()``.
    """
    global _command_api
    _command_api = api


def commands() -> Any:
    """Return the registered subcommand framework (``jug.subcommands.cmdapi``)."""
    if _command_api is None:
        raise RuntimeError('jug.subcommands was not imported (import jug does it)')
    return _command_api


def load_default_options(opt: Options) -> None:
    """Fill ``opt`` with jug's defaults (the autoinit of ``default_options``)."""
    cmdapi = commands()
    cmdapi.load_builtin_commands()
    opt.jugdir = '%(jugfile)s.jugdata'
    opt.jugfile = 'jugfile.py'
    opt.subcommand = None
    opt.aggressive_unload = False
    opt.argv = None
    opt.print_out = print
    opt.short = False
    opt.pdb = False
    opt.verbose = 'quiet'
    opt.debug = False
    opt.will_cite = False
    opt.next = cmdapi.default_options


default_options = Options(None, autoinit=load_default_options)


def _str_to_bool(s: str) -> bool:
    """Interpret a configuration string as a boolean (``no``, ``off``, ``0``... are False)."""
    return s.strip().lower() not in _FALSE_STRINGS


def key_to_option(s: str) -> str:
    """Turn a configuration key into an option name (``wait-cycle-time`` → ``wait_cycle_time``)."""
    return s.replace('-', '_')


def find_local_configuration_files() -> list[str]:
    """Return the local jugrc files that apply to the current directory, closest first.

    Searches the current directory and, when it is inside a git repository, every
    parent up to the repository's root.
    """
    cwd = os.path.abspath('.')
    directories = [cwd]
    root = _enclosing_git_root(cwd)
    if root is not None:
        current = cwd
        while current != root:
            current = os.path.dirname(current)
            directories.append(current)
    found = []
    for directory in directories:
        for name in _LOCAL_CONFIG_NAMES:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                found.append(path)
    return found


def _enclosing_git_root(start: str) -> str | None:
    current = start
    while True:
        if os.path.exists(os.path.join(current, '.git')):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _convert_value(option: str, raw: str, defaults: Any) -> Any:
    default = getattr(defaults, option, None) if defaults is not None else None
    if isinstance(default, bool):
        return _str_to_bool(raw)
    if default is not None:
        return type(default)(raw)
    return raw


def _parse_config_file(fp: Iterable[str], next_options: Options,
                       default_options: Options | None = None) -> Options:
    """Read one INI configuration file into a new ``Options`` in front of ``next_options``."""
    import configparser  # lazy: only needed when a configuration file exists
    parser = configparser.RawConfigParser()
    parser.read_file(fp)
    options = Options(next_options)
    for section in parser.sections():
        prefix = '' if section == 'main' else key_to_option(section) + '_'
        for key, raw in parser.items(section):
            option = prefix + key_to_option(key)
            setattr(options, option, _convert_value(option, raw, default_options))
    return options


def _open_first_readable(paths: Iterable[str]) -> IO[str] | None:
    for path in paths:
        try:
            return open(os.path.expanduser(path), encoding='utf-8')
        except OSError:
            continue
    return None


def read_configuration_file(fp: Iterable[str] | None = None,
                            default_options: Options | None = None) -> Options:
    """Build the configuration chain: explicit file, or global then local jugrc files.

    Usage: ``chain = read_configuration_file(None, default_options)``
    """
    if default_options is None:
        default_options = globals()['default_options']
    if fp is not None:
        return _parse_config_file(fp, default_options, default_options)
    chain = default_options
    global_file = _open_first_readable(_GLOBAL_CONFIG_FILES)
    if global_file is not None:
        with global_file:
            chain = _parse_config_file(global_file, chain, default_options)
    for path in reversed(find_local_configuration_files()):
        with open(path, encoding='utf-8') as local_file:
            chain = _parse_config_file(local_file, chain, default_options)
    return chain


def add_flag(parser: argparse._ActionsContainer, option: str, dest: str, help: str) -> None:
    """Add a boolean flag that is None when absent, so configuration files can set it.

    Usage: ``add_flag(group, '--keep-going', 'execute_keep_going', 'Go on after errors')``
    """
    parser.add_argument(option, action='store_const', const=True, dest=dest, help=help)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Add the options every subcommand accepts to ``parser``."""
    parser.add_argument('jugfile', nargs='?',
                        help='Jugfile (the Python file defining the tasks; default jugfile.py)')
    add_flag(parser, '--aggressive-unload', 'aggressive_unload',
             'Free memory by unloading results as soon as possible')
    parser.add_argument('--jugdir', dest='jugdir',
                        help='Where to store results: a directory (default: '
                             '%%(jugfile)s.jugdata), redis://host:port/ or dict_store')
    parser.add_argument('--verbose', dest='verbose',
                        help='Logging level: debug, info or quiet (default)')
    add_flag(parser, '--short', 'short', 'Short output')
    add_flag(parser, '--pdb', 'pdb', 'Start the debugger when a task raises an exception')
    add_flag(parser, '--debug', 'debug', 'Debug mode: extra checks, tracebacks for every error')
    add_flag(parser, '--will-cite', 'will_cite', 'Do not print the citation notice')


def build_parser() -> argparse.ArgumentParser:
    """Return the ``argparse`` parser of the ``jug`` command with every subcommand."""
    cmdapi = commands()
    parser = argparse.ArgumentParser(prog='jug', description=cmdapi.usage(_print=False, exit=False),
                                     formatter_class=cmdapi.help_formatter)
    parser.add_argument('--version', action='version', version=__version__)
    parser.add_argument('--print-completion', choices=['bash', 'zsh', 'tcsh'],
                        action=_PrintCompletionAction,
                        help='Print a shell completion script (needs the shtab package)')
    subparsers = parser.add_subparsers(dest='subcommand', metavar='SUBCOMMAND')
    subparsers.required = True
    for name, command in sorted(cmdapi.commands().items()):
        subparser = subparsers.add_parser(name, help=command.helptext(),
                                          description=command.helptext())
        group = subparser.add_argument_group(f'{name} options')
        command.parse(group)
        add_common_options(subparser)
        subparser.add_argument('user_args', nargs='*', default=[],
                               help='Arguments passed to the jugfile (in sys.argv)')
    _maybe_autocomplete(parser)
    return parser


class _PrintCompletionAction(argparse.Action):
    """``--print-completion SHELL``: print a completion script made by shtab, exit."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 shell: Any, option_string: str | None = None) -> NoReturn:
        try:
            import shtab  # optional; imported only when asked for
        except ImportError:
            # printed here, as argparse's --help and --version print: parse() is used
            # without jug.jug.main too
            sys.stderr.write('jug: --print-completion needs the shtab package '
                             '(pip install shtab)\n')
            raise JugExit(1) from None
        sys.stdout.write(shtab.complete(parser, shell=shell))
        raise JugExit(0)


def _maybe_autocomplete(parser: argparse.ArgumentParser) -> None:
    if '_ARGCOMPLETE' not in os.environ:
        return
    try:
        import argcomplete  # optional
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def _set_logging_level(verbose: Any) -> None:
    level = {'debug': logging.DEBUG, 'info': logging.INFO}.get(str(verbose).lower())
    if level is not None:
        logging.getLogger().setLevel(level)


def parse(args: Sequence[str] | None = None,
          optionsfile: Iterable[str] | None = None) -> Options:
    """Parse a command line (without the program name) into an ``Options`` chain.

    Usage: ``options = parse(['execute', 'jugfile.py', '--keep-going'])``

    With no arguments, prints the usage and exits with code 1.  Also rewrites
    ``sys.argv`` in place to ``[jugfile] + user_args`` so the jugfile sees its own
    arguments.
    """
    if args is None:
        args = sys.argv[1:]
    if not args:
        commands().usage(exit=True)
    args = list(args)
    # Everything after a `--` goes to the jugfile untouched (argparse would otherwise
    # reject options after the positional arguments).
    passthrough: list[str] = []
    if '--' in args:
        split = args.index('--')
        args, passthrough = args[:split], args[split + 1:]
    parser = build_parser()
    parsed = parser.parse_args(args)
    _check_arguments(parser, parsed)
    chain = read_configuration_file(optionsfile, default_options)
    options = Options(chain)
    parsed.user_args = parsed.user_args + passthrough
    for key, val in vars(parsed).items():
        if val is not None:
            setattr(options, key, val)
    if options.pdb:
        options.debug = True
    _set_logging_level(options.verbose)
    options.jugdir = options.jugdir % {'date': time.strftime('%Y-%m-%d'),  # local date
                                       'jugfile': options.jugfile[:-3]}
    sys.argv[:] = [options.jugfile] + parsed.user_args
    return options


def _check_arguments(parser: argparse.ArgumentParser, parsed: argparse.Namespace) -> None:
    """Let the command check its arguments together (argparse checks them one by one):
    its ``check_arguments(parsed)``, if it has one, returns what is wrong, and then the
    command's usage and that line are printed and the exit code is 2, as argparse does."""
    command = commands().get(parsed.subcommand)
    check = getattr(command, 'check_arguments', None)
    problem = check(parsed) if check is not None else None
    if problem:
        subparsers = next(action for action in parser._actions
                          if isinstance(action, argparse._SubParsersAction))
        subparsers.choices[parsed.subcommand].error(problem)


def set_jugdir(jugdir: Any) -> Any:
    """Select the store for ``jugdir`` and install it as ``Task.store``; return it.

    Usage: ``store = set_jugdir('analysis.jugdata')``

    ``None`` selects ``'jugdata'`` (Jug 2.7's default).
    """
    if jugdir is None:
        jugdir = 'jugdata'
    store = select(jugdir)
    Task.store = store
    return store
