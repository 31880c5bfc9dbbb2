"""The status of a jugfile's tasks by task name and state: one view for every display.

Layer 4 (runtime).  ``jug status``, ``jug webstatus``, ``jug graph`` and ``jug shell``
read their counts, columns and failures from a :class:`StatusView`, so that a state
is counted, titled and shown the same way everywhere.  The state of each task comes
from :func:`jug.taskstate.task_state` (one decision for all), asked against one
listing of the store (no per-task system call); tasks locked by a worker that is gone
are their own state, *stale*, shown in a column of its own only when there are some.
Failures (:func:`jug.records.find_failed`) are attached when asked for; otherwise a
*note* says how many tasks failed in their last run (their locks were released, so the
counts show them as ready or waiting), from the store's failure marks (one listing).
Notes also say which results another version of their function's code computed
(:mod:`jug.codeversions`).

Imports the model (``jug.task``: while states are asked, ``Task.store`` is the listed
store), ``jug.taskstate``, ``jug.records``, ``jug.codeversions``, ``jug.gctuning`` and
``jug.backends.memoize_store``.
"""
from __future__ import annotations

from collections import defaultdict

from . import task as _task_module
from .backends.base import as_bytes
from .backends.memoize_store import memoize_store
from .codeversions import code_change_notes
from .gctuning import fewer_collections
from .records import describe_call, find_failed
from .taskstate import FAILED, FINISHED, READY, RUNNING, STALE, STATES, WAITING, task_state
from .workersview import workers_of

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Iterator

__all__ = ['StatusView', 'view_of_tasks', 'workers_of_rows', 'task_states', 'TITLES', 'COLUMNS']

#: The title of each state in tables (Jug 2.7's titles; Stale is ours).
TITLES = {FAILED: 'Failed', WAITING: 'Waiting', READY: 'Ready', FINISHED: 'Complete',
          RUNNING: 'Active', STALE: 'Stale'}
#: The columns every table shows, in Jug 2.7's order; Stale follows when non-zero.
COLUMNS = (FAILED, WAITING, READY, FINISHED, RUNNING)


class StatusView:
    """How many tasks of each name are in each state (``failed``, ``waiting``,
    ``ready``, ``running``, ``finished``, ``stale``: one ``defaultdict(int)`` of name
    → count each), and, if asked for, the failed tasks with their run records.

    Usage: ``view = view_of_tasks(tasks, store); view.groups()``

    Attributes
    ----------
    failures : list of (name, key, record) or None
        What :func:`jug.records.find_failed` found, when it was asked for.
    interrupted : list of (name, key, record) or None
        With the failures: the tasks whose last run was interrupted.
    workers : jug.workersview.WorkersView or None
        The workers holding tasks, when asked for.
    notes : list of str
        What the counts do not show: tasks that failed in their last run (their locks
        were released, so they count as ready or waiting), results computed by another
        version of their function's code.  Empty when there is nothing to say.
    """

    failures: list | None = None
    interrupted: list | None = None
    workers: Any = None  # a jug.workersview.WorkersView, when asked for
    notes: list
    # the counts of each state of STATES (set by __init__)
    failed: defaultdict[str, int]
    waiting: defaultdict[str, int]
    ready: defaultdict[str, int]
    finished: defaultdict[str, int]
    running: defaultdict[str, int]
    stale: defaultdict[str, int]

    def __init__(self) -> None:
        for state in STATES:
            setattr(self, state, defaultdict(int))
        self.notes = []

    def add(self, state: str, name: str) -> None:
        """Count one task called ``name`` in ``state``."""
        getattr(self, state)[name] += 1

    def total(self, state: str) -> int:
        """How many tasks are in ``state``."""
        return sum(getattr(self, state, {}).values())

    def all_complete(self) -> bool:
        """Whether every task is finished."""
        return not any(self.total(state) for state in STATES if state != FINISHED)

    def columns(self) -> tuple:
        """The states a table shows: Jug 2.7's five, then stale when there are some."""
        return COLUMNS + ((STALE,) if self.total(STALE) else ())

    def groups(self) -> list:
        """``[(title, counts), ...]`` of :meth:`columns`, for the summary tables."""
        return [(TITLES[state], getattr(self, state)) for state in self.columns()]

    def names(self) -> list:
        """Every task name counted in a shown column, sorted."""
        names: set = set()
        for state in self.columns():
            names.update(getattr(self, state))
        return sorted(names)


def task_states(tasks: Iterable, store: Any) -> list:
    """Return ``[(task, state), ...]`` for ``tasks``, from one listing of ``store``.

    Usage: ``for t, state in task_states(alltasks, store): ...``

    The store is listed once (results and locks); only locked tasks have their lock
    asked whether it is failed or stale.  A store that cannot list is asked task by
    task (its answers are cached).
    """
    return list(_states(tasks, memoize_store(store, list_base=True)))


def _states(tasks: Iterable, listed: memoize_store) -> Iterator:
    """Yield ``(task, state)``; iterate to the end (``Task.store`` is restored then)."""
    listing = None if listed.keys is None or listed.locks is None else \
        (listed.keys, listed.locks)
    saved, _task_module.Task.store = _task_module.Task.store, listed  # tasks ask it
    try:
        with fewer_collections():
            for t in tasks:
                yield t, task_state(t, listing)
    finally:
        _task_module.Task.store = saved


def view_of_tasks(tasks: Iterable, store: Any, with_failures: bool = False,
                  with_workers: bool = False) -> StatusView:
    """Return the :class:`StatusView` of ``tasks`` against ``store``.

    Usage: ``view = view_of_tasks(jug.task.alltasks, store, with_failures=True)``
    """
    listed = memoize_store(store, list_base=True)
    view = StatusView()
    unfinished: list | None = [] if with_failures else None
    marks = listed.failure_marks()  # one listing: tasks whose last run failed
    failed_last = 0
    finished: dict = defaultdict(list)  # name -> finished tasks (for code versions)
    unfinished_names: dict = {}  # hash -> name (what --workers names a lock's task by)
    for t, state in _states(tasks, listed):
        view.add(state, t.name)
        if state == FINISHED:
            finished[t.name].append(t)
            continue
        if with_workers:  # (all of them: a lock may be taken after the listing)
            unfinished_names[t.hash()] = t.name
        if unfinished is not None:
            unfinished.append((describe_call(t), t.hash()))
        if marks and t.hash() in marks:
            failed_last += 1
    if unfinished is not None:
        view.interrupted = []
        view.failures = find_failed(listed, unfinished, view.interrupted)
    elif failed_last:
        view.notes.append(failure_note(failed_last))
    view.notes.extend(code_change_notes(listed, finished))
    if with_workers:
        view.workers = workers_of(store, unfinished_names)
    return view


def failure_note(count: int) -> str:
    """The line saying that `count` tasks failed in their last run."""
    if count == 1:
        return ('1 task failed in its last run (jug status --failed shows it, with its '
                'error).')
    return (f'{count} tasks failed in their last run (jug status --failed lists them, '
            'with their errors).')


def unfinished_failure_note(store: Any, keys: Iterable) -> list:
    """``[failure_note(n)]`` if `n` of the unfinished tasks `keys` failed in their last
    run, else ``[]`` (for views built without the tasks: the status cache)."""
    marks = store.failure_marks()
    count = sum(1 for key in keys if as_bytes(key) in marks) if marks else 0
    return [failure_note(count)] if count else []


def workers_of_rows(store: Any, rows: Iterable) -> Any:
    """The :class:`jug.workersview.WorkersView` of `store` for cached rows ``[id, name,
    hash, state]`` (whose unfinished ones name the tasks locked)."""
    return workers_of(store, {as_bytes(key): name for _, name, key, state in rows
                              if state != FINISHED})


def view_of_rows(rows: Iterable, failures: list | None = None,
                 interrupted: list | None = None) -> StatusView:
    """Return the :class:`StatusView` of cached rows ``[id, name, hash, state]``.

    Usage: ``view = view_of_rows(ht, failures)`` (``jug status --cache``, webstatus)
    """
    view = StatusView()
    for _, name, _, state in rows:
        view.add(state, name)
    view.failures = failures
    view.interrupted = interrupted
    return view
