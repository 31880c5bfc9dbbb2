"""The states of a task, computed by one function (docs/architecture.rst).

``classify`` decides a task's state from four questions asked lazily (so a finished
task never has its lock looked at); ``task_state`` asks them of a live Task.  Status
(cached or not), check and the other views all go through ``classify``.

Layer 3: imports nothing from jug (it works on anything with the Task methods).
"""
from __future__ import annotations

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Collection

FAILED = 'failed'
WAITING = 'waiting'
READY = 'ready'
RUNNING = 'running'
FINISHED = 'finished'
#: Locked by a worker that is gone (killed, or its lease expired); the next
#: ``jug execute`` takes the lock over.  Jug 2.7 would show these as running.
STALE = 'stale'
#: Every state, in the order status tables show them.
STATES = (FAILED, WAITING, READY, FINISHED, RUNNING, STALE)


def _never() -> bool:
    return False


def classify(is_loadable: Callable[[], object], can_run: Callable[[], object],
             is_locked: Callable[[], object], is_failed: Callable[[], object],
             is_stale: Callable[[], object] = _never) -> str:
    """Return the state of a task from zero-argument callables.

    Usage: ``classify(t.can_load, t.can_run, t.is_locked, t.is_failed, t.is_stale)``

    A task with a stored result is finished; otherwise one whose inputs are not all
    available is waiting; otherwise its lock decides: none → ready, marked failed →
    failed, held by a live worker → running, by a worker that is gone → stale.
    """
    if is_loadable():
        return FINISHED
    if not can_run():
        return WAITING
    if not is_locked():
        return READY
    if is_failed():
        return FAILED
    return STALE if is_stale() else RUNNING


def task_state(t: Any, listing: tuple[Collection[bytes], Collection[bytes]] | None = None
               ) -> str:
    """Return the state of the Task ``t`` (one of the constants of this module).

    Usage: ``task_state(t)``, or ``task_state(t, (results, locks))``

    Parameters
    ----------
    t : Task
    listing : (set, set), optional
        The keys of every stored result and of every lock (``store.list()`` and
        ``store.listlocks()`` as sets of bytes), when the caller has them: whether
        ``t`` and its dependencies have results and whether ``t`` is locked are then
        set lookups (``jug status`` of a million tasks), and only a locked task's
        lock is asked whether it is failed or stale.
    """
    if listing is None:
        return classify(t.can_load, t.can_run, t.is_locked, t.is_failed, t.is_stale)
    results, locks = listing
    key = t.hash()
    return classify(lambda: key in results,
                    lambda: all(dep.hash() in results or hasattr(dep, '_result')
                                for dep in t.dependencies()),
                    lambda: key in locks, t.is_failed, t.is_stale)
