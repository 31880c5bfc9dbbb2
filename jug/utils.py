"""Small tools for jugfiles and commands: ``identity`` and task selection by name/pattern.

Owns ``identity`` (SPEC.md §5.5, §2.2) and the task selection of ``--name`` /
``--pattern`` / ``--target`` used by ``execute`` and ``invalidate`` (SPEC.md §4.7).
(``CustomHash``, ``hash_with_mtime_size``, ``timed_path``, ``jug_execute``,
``sync_move``, ``glob_sort`` and ``cached_glob`` of SPEC.md §1.10 belong here too and
come in a later change.)

Layer 3: may import ``jug.task``, ``jug.hash`` and ``jug.backends``; never ``jug.jug``,
``jug.options`` or ``jug.subcommands``.
"""
import argparse
import fnmatch
import re
import sys

from .task import Task, Tasklet

# Only what exists so far; SPEC.md §1.10's full list (timed_path, identity, jug_execute,
# CustomHash, sync_move, cached_glob) is reached as the other helpers are added.
__all__ = ['identity']

#: The name of the tasks ``identity`` creates.  It has no module part, and it enters the
#: hash, so changing it would change the hash of every identity task (SPEC.md §2.2).
_IDENTITY_TASK_NAME = 'identity'


def _identity(x):
    """Return ``x`` unchanged (the function behind ``identity`` tasks)."""
    return x


def identity(x):
    """Return a task whose value is ``x`` (tasks are returned as they are).

    Usage: ``t = identity([a, b, 3])`` (a single task depending on ``a`` and ``b``)

    Useful to store a value computed in the jugfile, or to turn a structure containing
    several tasks into one task.

    Parameters
    ----------
    x : object
        Anything hashable by jug, possibly containing tasks.

    Returns
    -------
    t : Task or Tasklet
        ``x`` itself if it is a Task or Tasklet, else a new Task named ``identity``.
    """
    if isinstance(x, (Task, Tasklet)):
        return x
    t = Task(_identity, x)
    # Must happen before anything computes (and caches) the hash.
    t.name = _IDENTITY_TASK_NAME
    return t


# --------------------------------------------------------------------------------------
# Task selection (SPEC.md §4.7)

#: A ``--pattern`` written like this is a regular expression; otherwise it is a substring.
_REGEX_DELIMITER = '/'


def _parse_pattern(pattern: str) -> 're.Pattern[str]':
    """Compile a ``--pattern``: ``/regex/`` is a regular expression, else a literal substring.

    Raises
    ------
    ValueError
        If the pattern (or the regular expression inside the slashes) is empty.
    re.error
        If the regular expression is invalid.
    """
    if len(pattern) >= 2 and pattern.startswith(_REGEX_DELIMITER) \
            and pattern.endswith(_REGEX_DELIMITER):
        regex = pattern[1:-1]
    else:
        regex = re.escape(pattern)
    if not regex:
        raise ValueError(f'empty pattern: {pattern!r} would match every task')
    return re.compile(regex)


def _check_pattern(pattern: str) -> str:
    """Validate a ``--pattern`` value for argparse (bad values exit 2 with a message).

    Returns the pattern unchanged; it is compiled again when the matcher is built.
    """
    try:
        _parse_pattern(pattern)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    except re.error as e:
        raise argparse.ArgumentTypeError(
            f'invalid regular expression in pattern {pattern!r}: {e}') from None
    return pattern


def prepare_task_matcher(pattern):
    """Return a function telling whether a task name matches a loose ``--pattern``.

    Usage: ``prepare_task_matcher('/^mod\\.f/')('mod.func')`` → a (truthy) match

    Parameters
    ----------
    pattern : str
        ``/regex/`` (searched anywhere in the name) or a literal substring.

    Returns
    -------
    matcher : callable
        ``matcher(name)`` returns a match object (truthy) or None.

    Raises
    ------
    ValueError
        If the pattern is empty (``''`` or ``'//'``); the message says ``empty pattern``.
    """
    return _parse_pattern(pattern).search


def prepare_name_matcher(name):
    """Return a function telling whether a task name matches a strict ``--name``.

    Usage: ``prepare_name_matcher('func')('pkg.mod.func')`` → True

    ``name`` is a shell-style pattern (``*`` and ``?``; ``*`` also crosses dots) that
    must match the whole task name, or the whole part after one of its dots: ``func``
    matches ``mod.func`` and ``pkg.mod.func`` but not ``mod.func_other``; ``mod.func``
    matches ``pkg.mod.func`` but not ``pkg.xmod.func``.  An empty name matches nothing.

    Parameters
    ----------
    name : str

    Returns
    -------
    matcher : callable
        ``matcher(task_name)`` returns a bool.
    """
    if not name:
        return _match_nothing
    regex = re.compile(fnmatch.translate(name))

    def matcher(task_name: str) -> bool:
        if regex.match(task_name):
            return True
        start = task_name.find('.')
        while start != -1:
            if regex.match(task_name, start + 1):
                return True
            start = task_name.find('.', start + 1)
        return False

    return matcher


def _match_nothing(task_name: str) -> bool:
    return False


def prepare_matcher_from_options(name=None, pattern=None):
    """Return the task-name matcher for ``--name`` and/or ``--pattern``, or None.

    Usage: ``matcher = prepare_matcher_from_options(options.execute_name, options.execute_pattern)``

    Parameters
    ----------
    name : str, optional
        Strict name (see ``prepare_name_matcher``).
    pattern : str, optional
        Loose pattern (see ``prepare_task_matcher``).

    Returns
    -------
    matcher : callable or None
        None if neither is given; if both are, a warning is written to stderr and a
        name must match both.
    """
    name_matcher = prepare_name_matcher(name) if name is not None else None
    pattern_matcher = prepare_task_matcher(pattern) if pattern is not None else None
    if name_matcher is None:
        return pattern_matcher
    if pattern_matcher is None:
        return name_matcher
    sys.stderr.write('jug: warning: both a name and a pattern were given; '
                     'only tasks matching both are selected.\n')

    def both(task_name: str) -> bool:
        return bool(name_matcher(task_name)) and bool(pattern_matcher(task_name))

    return both


class _DeprecatedTargetAction(argparse.Action):
    """argparse action of ``--target``/``--invalid``: store like ``--name``, with a warning."""

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stderr.write(f'jug: warning: {option_string} is deprecated; use --name '
                         '(exact task name) or --pattern (substring or /regex/) instead.\n')
        setattr(namespace, self.dest, values)


def add_task_selection_options(parser, name_dest, pattern_dest, required, what):
    """Add the mutually exclusive ``--name``/``--pattern``/``--target`` options.

    Usage: ``add_task_selection_options(group, 'invalid_name', 'invalid_pattern', True, 'invalidate')``

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
        Where to add the options.
    name_dest : str
        Destination of ``--name`` and of the deprecated ``--target``/``--invalid``.
    pattern_dest : str
        Destination of ``--pattern`` (validated: an empty pattern exits with status 2).
    required : bool
        Whether one of the options must be given.
    what : str
        The action applied to the selected tasks (a verb such as ``'execute'``), for
        the help texts.

    Returns
    -------
    group : argparse mutually exclusive group
    """
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument('--name', dest=name_dest, metavar='NAME',
                       help=f'{what} only the tasks whose name is NAME, either in full or '
                            "its last dotted parts ('func' matches 'mod.func'); the shell "
                            'wildcards * and ? are allowed')
    group.add_argument('--pattern', dest=pattern_dest, metavar='PATTERN', type=_check_pattern,
                       help=f'{what} only the tasks whose name contains PATTERN, or matches '
                            'the regular expression R when PATTERN is /R/')
    group.add_argument('--target', '--invalid', dest=name_dest, metavar='NAME',
                       action=_DeprecatedTargetAction,
                       help='deprecated: same as --name')
    return group
