"""Small tools for jugfiles and commands (docs/utilities.rst).

Owns the helpers jugfiles use on top of the task model: ``identity``, ``CustomHash``
and ``timed_path`` (with ``hash_with_mtime_size``), the ``jug_execute`` task generator,
``sync_move``, and ``cached_glob`` (with ``glob_sort``); and the task selection of
``--name`` / ``--pattern`` / ``--target`` used by ``execute`` and ``invalidate``.

Layer 3: may import ``jug.task``, ``jug.hash`` and ``jug.backends``; never ``jug.jug``,
``jug.options`` or ``jug.subcommands``.  ``subprocess`` and ``jug.backends.file_store``
are imported where they are used, to keep ``import jug`` cheap.
"""
from __future__ import annotations

import argparse
import fnmatch
import glob
import os
import re
import stat
import sys

from .hash import hash_one
from .task import CachedFunction, Task, TaskGenerator, Tasklet, value

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Sequence

__all__ = [
    'timed_path',
    'identity',
    'jug_execute',
    'CustomHash',
    'sync_move',
    'cached_glob',
]

#: The name of the tasks ``identity`` creates.  It has no module part, and it enters the
#: hash, so changing it would change the hash of every identity task (docs/hashing.rst).
_IDENTITY_TASK_NAME = 'identity'


def _identity(x: Any) -> Any:
    """Return ``x`` unchanged (the function behind ``identity`` tasks)."""
    return x


def identity(x: Any) -> Task | Tasklet:
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
# Objects with a hash of their own (docs/hashing.rst)

class CustomHash:
    """Wrap an object so that jug hashes it with a function of your choice.

    Usage: ``CustomHash(big_table, lambda t: t.checksum().encode())``

    Useful for arguments that are slow to hash (large data with a cheap fingerprint) or
    that cannot be pickled.  Tasks receive ``value(obj)``, and tasks inside ``obj`` are
    dependencies, as if ``obj`` had been passed directly.

    Parameters
    ----------
    obj : object
        The wrapped argument (may be or contain tasks).
    hash_function : callable
        ``hash_function(obj)`` returns the bytes that enter the hash of any task
        receiving this argument.  It should change whenever ``obj``'s meaning does.

    Attributes
    ----------
    obj, hash_function
        The constructor arguments.
    """

    def __init__(self, obj: Any, hash_function: Callable[[Any], bytes]) -> None:
        self.obj = obj
        self.hash_function = hash_function

    def __jug_hash__(self) -> bytes:
        return self.hash_function(self.obj)

    def __jug_value__(self) -> Any:
        return value(self.obj)

    def __jug_dependencies__(self) -> list[Any]:
        return [self.obj]

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.obj!r}, {self.hash_function!r})'


def hash_with_mtime_size(path: str) -> bytes:
    """Hash a path together with its file's modification time and size.

    Usage: ``hash_with_mtime_size('data/input.csv')``  →  ``b'3f2a...'``

    Parameters
    ----------
    path : str
        An existing file (or directory).

    Returns
    -------
    digest : bytes
        ``hash_one((path, mtime, size))``, 40 hex characters, with the mtime in
        whole seconds (an ``int``): touching a file within the same second keeps it.
    """
    st = os.stat(path)
    # the mtime in whole seconds, as an int: what Jug 2.7 hashes (it takes the stat
    # result's tuple form, whose mtime field is the integral one)
    return hash_one((path, st[stat.ST_MTIME], st.st_size))


def timed_path(path: str) -> CustomHash:
    """Pass a file path to a task so that rewriting the file invalidates the task.

    Usage: ``count_lines(timed_path('input.txt'))`` (the task receives the path)

    The hash includes the file's modification time and size (``hash_with_mtime_size``),
    read when the hash is computed.  Timestamps may be as coarse as one second on some
    filesystems, so a rewrite within the same second with the same size can go unseen.

    Parameters
    ----------
    path : str
        An existing file.

    Returns
    -------
    wrapped : CustomHash
        Its value is ``path`` itself.
    """
    return CustomHash(path, hash_with_mtime_size)


# --------------------------------------------------------------------------------------
# Files and external programs

@TaskGenerator
def jug_execute(args: Sequence[str], check_exit: bool = True, run_after: Any = None,
                return_value: Any = None) -> Any:
    """Task that runs an external program.

    Usage: ``jug_execute(['gzip', '-k', 'output.txt'], run_after=write_task)``

    Parameters
    ----------
    args : list of str
        The command line, passed to ``subprocess.call`` (no shell).
    check_exit : bool, optional
        Raise if the program exits with a non-zero status (default True).
    run_after : object, optional
        Ignored; pass tasks here to make this one wait for them.
    return_value : object, optional
        The value of the task (default None).

    Returns
    -------
    return_value

    Raises
    ------
    SystemError
        If ``check_exit`` and the exit status is not zero; the message gives the
        command line and the status.
    """
    import subprocess  # here rather than at the top: keeps ``import jug`` cheap
    status = subprocess.call(args)
    if check_exit and status != 0:
        raise SystemError(f'jug_execute: command {args!r} failed with exit status {status}')
    return return_value


def sync_move(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst`` and make the rename durable.

    Usage: ``sync_move('out.tmp', 'out.csv')`` after writing (and flushing) ``out.tmp``

    The rename is atomic when both paths are on one filesystem, so readers see either
    the old file or the complete new one.  Afterwards the directory holding ``dst`` is
    synced to disk, so the new name survives a crash.  Syncing the file's own contents
    (``os.fsync``) before the move is the caller's job.

    Parameters
    ----------
    src, dst : str
        Paths; ``dst`` is replaced if it exists.
    """
    # Imported at call time (and looked up on the module, which tests may patch).
    from .backends import file_store
    os.rename(src, dst)
    file_store.fsync_dir(dst)


def glob_sort(pat: str) -> list[str]:
    """Return the paths matching a glob pattern, sorted.

    Usage: ``glob_sort('data/*.csv')``

    Parameters
    ----------
    pat : str
        A pattern for ``glob.glob``.

    Returns
    -------
    paths : list of str
    """
    return sorted(glob.glob(pat))


def cached_glob(pat: str) -> list[str]:
    """Glob once and remember the answer, so later runs see the same file list.

    Usage: ``for fname in cached_glob('data/*.csv'): process(fname)``

    Creates a task named ``jug.utils.glob_sort`` (visible in ``jug status``), runs it
    now if it has no stored result, and returns its value.  Files added later are
    therefore not seen until that task is invalidated; this keeps the tasks created
    from the list (and their hashes) stable while the directory changes.

    Parameters
    ----------
    pat : str
        A pattern for ``glob.glob``.

    Returns
    -------
    paths : list of str
        Sorted.
    """
    return CachedFunction(glob_sort, pat)


# --------------------------------------------------------------------------------------
# Task selection (docs/subcommands.rst, --name and --pattern)

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


def prepare_task_matcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
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


def prepare_name_matcher(name: str) -> Callable[[str], bool]:
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


def prepare_matcher_from_options(name: str | None = None, pattern: str | None = None
                                 ) -> Callable[[str], object] | None:
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

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        sys.stderr.write(f'jug: warning: {option_string} is deprecated; use --name '
                         '(exact task name) or --pattern (substring or /regex/) instead.\n')
        setattr(namespace, self.dest, values)


def add_task_selection_options(parser: argparse._ActionsContainer, name_dest: str,
                               pattern_dest: str, required: bool,
                               what: str) -> argparse._MutuallyExclusiveGroup:
    """Add the mutually exclusive ``--name``/``--pattern``/``--target`` options.

    Usage::

        add_task_selection_options(group, 'invalid_name', 'invalid_pattern', True, 'invalidate')

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
