"""``jug shell``: an IPython session with the jugfile's names and helpers for its tasks.

Layer 5 (docs/subcommands.rst).  IPython is imported only when the command runs
(``import jug`` must stay cheap); without it the command raises
``MissingPackageError``, which ``main`` reports as one line.  The helpers ask no graph
question of their own: the downstream walk of ``invalidate`` is
``jug.task.downstream`` (shared with ``jug invalidate``), the filters of
``get_filtered_tasks`` read ``jug.statusview`` and, for failures, the rule of
``jug status --failed`` (``jug.records.find_failed``).  Must not import IPython at
module level.
"""
from __future__ import annotations

import types

from .. import task as _task_module
from ..backends.memoize_store import memoize_store
from ..errors import MissingPackageError
from ..records import find_failed
from ..task import MissingResultError, Task, base_task, describe, downstream, value
from ..statusview import task_states
from ..taskstate import FINISHED, WAITING
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

    from ..optionchain import Options

#: Printed when the shell starts, below IPython's own banner.
BANNER = '''\
jug shell: the jugfile's names are defined here; its tasks are in get_tasks().
Helpers:
  value(t)              the result of t (also of lists/dicts of tasks)
  load_all()            load the results of every name; returns {name: value}
  invalidate(t)         remove the results of t and of every task depending on it
  get_tasks()           a list of all tasks (get_tasks(copy=False): the list itself)
  get_filtered_tasks(loadable=False, failed=False, available=False)
                        tasks with a result / that failed (as in jug status
                        --failed) / that can run now
  task_by_hash('3f2a')  the task whose hash starts with these hex digits
  describe(t)           how t is computed, with its stored metadata and run record
  record(t)             the run record of t (None if there is none)
invalidate and record also take a hash (or its start), as str or bytes.
'''


def load_all(jugspace: dict[str, Any], local_ns: Any = None,
             print_out: Callable[..., Any] = print) -> dict[str, Any]:
    """Load the value of every non-dunder name of the jugfile namespace.

    Usage: ``values = load_all(jugspace)``

    Parameters
    ----------
    jugspace : dict
        The jugfile's namespace.
    local_ns : dict, optional
        Unused; kept for compatibility with the shell of Jug 2.7.
    print_out : callable, optional
        Where a line is written for each name whose value cannot be loaded.

    Returns
    -------
    dict
        Name → value, for the names whose value could be computed.
    """
    values = {}
    for name, obj in list(jugspace.items()):
        if name.startswith('__'):
            continue
        try:
            values[name] = value(obj)
        except MissingResultError as e:  # also for a task inside a list or a dict
            print_out(f'{name}: no result: {e}')
        except Exception as e:
            print_out(f'{name}: could not load its value ({type(e).__name__}: {e})')
    return values


def invalidate(tasklist: Iterable[Task], reverse: Any, task: Any) -> list[Task]:
    """Remove the results of ``task`` and of every task depending on it, directly or not.

    Usage: ``invalidate(alltasks, {}, t)``

    Parameters
    ----------
    tasklist : list of Task
        The tasks among which dependents are looked for.
    reverse : dict
        Unused (Jug 2.7 cached its reverse-dependency map there); the walk is
        ``jug.task.downstream``.
    task : Task, Tasklet, str or bytes
        The task to invalidate (a Tasklet stands for its base task), or its hash (or
        the start of it: see :func:`task_by_hash`), hex as str or bytes.

    Returns
    -------
    list of Task
        The tasks invalidated, in dependency order (each hash once).
    """
    if isinstance(task, (str, bytes)):
        tasklist = list(tasklist)
        task = task_by_hash(task, tasklist)
    root = base_task(task).hash()
    invalid = downstream(list(tasklist) + [base_task(task)], lambda t: t.hash() == root)
    hashes = {t.hash() for t in invalid}
    store = base_task(task).store
    store.remove_many(sorted(hashes))
    # results held in memory would otherwise still answer value(t)
    for t in list(tasklist) + [base_task(task)]:
        if isinstance(t, Task) and t.hash() in hashes:
            t.unload()
    return invalid


def get_tasks(copy: bool = True) -> list[Task]:
    """Return the list of all tasks (a copy, unless ``copy=False``).

    Usage: ``tasks = get_tasks()``
    """
    tasks = _task_module.alltasks
    return list(tasks) if copy else tasks


def get_filtered_tasks(loadable: bool = False, failed: bool = False,
                       available: bool = False) -> list[Task]:
    """Return the tasks matching any of the given flags (none set → no task).

    Usage: ``get_filtered_tasks(failed=True)``

    Parameters
    ----------
    loadable : bool
        Tasks whose result is stored.
    failed : bool
        Tasks without a result that failed: the ones ``jug status --failed`` lists
        (their lock is marked failed, or their last run record says they failed; see
        :func:`jug.records.find_failed`).
    available : bool
        Tasks without a result that can run now (every input is available).
    """
    store = _task_module.Task.store
    states = task_states(_task_module.alltasks, store)
    failed_keys: set[bytes] = set()
    if failed:
        unfinished = [(t.name, t.hash()) for t, state in states if state != FINISHED]
        failed_keys = {key for _, key, _ in
                       find_failed(memoize_store(store, list_base=True), unfinished)}
    selected = []
    for t, state in states:
        if ((loadable and state == FINISHED)
                or (failed and state != FINISHED and t.hash() in failed_keys)
                or (available and state not in (FINISHED, WAITING))):
            selected.append(t)
    return selected


def task_by_hash(prefix: str | bytes, tasks: Iterable[Task] | None = None) -> Task:
    """Return the task whose hash is, or starts with, ``prefix`` (hex, str or bytes).

    Usage: ``t = task_by_hash('3f2a')`` (the hashes that ``jug status --failed`` and
    run records show)

    Parameters
    ----------
    prefix : str or bytes
        A whole hash or its first hex digits (case and surrounding spaces ignored).
    tasks : iterable of Task, optional
        Where to look (default: every task of the jugfile).

    Raises
    ------
    LookupError
        If no task, or tasks with different hashes, match (the message says which).
    """
    if isinstance(prefix, bytes):
        prefix = prefix.decode('ascii', 'replace')
    wanted = prefix.strip().lower().encode('ascii', 'replace')
    if not wanted:
        raise LookupError('task_by_hash: give the hash of a task, or its first digits')
    found: dict[bytes, Task] = {}
    for t in (_task_module.alltasks if tasks is None else tasks):
        key = t.hash()
        if key.startswith(wanted):
            found.setdefault(key, t)  # the same task may have been created twice
    if not found:
        raise LookupError(f'task_by_hash: no task has a hash starting with {prefix!r}')
    if len(found) > 1:
        names = ', '.join(f'{t.name} ({k.decode()})' for k, t in sorted(found.items())[:5])
        raise LookupError(f'task_by_hash: {len(found)} tasks have a hash starting with '
                          f'{prefix!r}: {names}{", ..." if len(found) > 5 else ""}; '
                          'give more digits')
    return next(iter(found.values()))


def _as_task(t: Any) -> Any:
    """A task given as itself, or by its hash (see :func:`task_by_hash`)."""
    return task_by_hash(t) if isinstance(t, (str, bytes)) else t


def record(t: Any) -> dict | None:
    """Return the run record of ``t`` (a task, or its hash: see :func:`task_by_hash`),
    or None.

    Usage: ``record(t)['duration']``, ``record('3f2a')``
    """
    t = base_task(_as_task(t))
    return t.store.load_record(t.hash())


def shell_namespace(jugspace: dict[str, Any],
                    print_out: Callable[..., Any] = print) -> dict[str, Any]:
    """Return the namespace of the shell: the jugfile's names plus the helpers.

    Usage: ``ns = shell_namespace(jugspace)``
    """
    ns = dict(jugspace)

    def shell_load_all() -> dict[str, Any]:
        """Load the results of every name of the jugfile; return {name: value}."""
        return load_all(jugspace, print_out=print_out)

    def shell_invalidate(t: Any) -> None:
        """Remove the results of t (a task, or its hash) and of every task that
        depends on it."""
        invalid = invalidate(_task_module.alltasks, {}, t)
        print_out(f'Invalidated {len(invalid)} task(s).')

    ns.update({
        'value': value,
        'load_all': shell_load_all,
        'invalidate': shell_invalidate,
        'get_tasks': get_tasks,
        'get_filtered_tasks': get_filtered_tasks,
        'task_by_hash': task_by_hash,
        'describe': describe,
        'record': record,
    })
    return ns


class ShellCommand(SubCommand):
    """Explore tasks and results in an IPython shell

    shell: start an IPython shell with the jugfile's names and helpers to inspect
    and invalidate tasks (needs IPython).
    """

    name = 'shell'

    def run(self, store: Any, options: Options, jugspace: dict[str, Any], *args: Any,
            **kwargs: Any) -> None:
        try:
            import IPython  # noqa: F401  (first: a submodule may already be cached)
            from IPython.terminal.embed import InteractiveShellEmbed
        except ImportError:
            raise MissingPackageError('IPython', 'jug shell', 'shell') from None
        ns = shell_namespace(jugspace, print_out=options.print_out)
        module = types.ModuleType(jugspace.get('__name__') or 'jugfile')
        module.__dict__.update(ns)
        ipshell = InteractiveShellEmbed(banner2=BANNER)
        ipshell(local_ns=ns, module=module, compile_flags=0)


shell = ShellCommand()
