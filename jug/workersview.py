"""Who is working: the workers holding tasks now, from the locks of a store.

Layer 4 (runtime; ``docs/subcommands.rst``, "status").  Each lock says who holds it
(``lock.holder()``: host, pid, when it was taken, and whether its holder is alive,
overdue or gone); :func:`workers_of` groups the locks by holder.  A worker that waits
for others holds no lock, so it is not listed; a worker that is gone (its lock is
*stale*) is counted apart: the next ``jug execute`` takes its task over.  Used by
``jug status --workers`` and ``jug webstatus``; works with any store whose locks can
be listed (a directory, redis).

Imports ``jug.backends.base`` (the lock states) and ``jug.records`` (times).
"""
from __future__ import annotations

from .backends.base import LOCK_EXPIRING, LOCK_FAILED, LOCK_STALE, as_bytes
from .records import local_time

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

__all__ = ['Worker', 'WorkersView', 'workers_of', 'format_workers', 'remarks']

#: How the state of a holder is shown.
_STATE_WORDS = {LOCK_EXPIRING: 'overdue'}


class Worker:
    """One worker holding tasks: ``host``, ``pid``, ``since`` (when it took the
    earliest of its locks, seconds since the epoch), ``state`` (``alive`` or
    ``overdue``: its lock's refreshes are late) and ``tasks`` (``[(name, hex hash)]``);
    any of host, pid and since may be None when its locks do not say."""

    __slots__ = ('host', 'pid', 'since', 'state', 'tasks')

    def __init__(self, host: str | None, pid: int | None) -> None:
        self.host = host
        self.pid = pid
        self.since: float | None = None
        self.state = 'alive'
        self.tasks: list = []

    def to_dict(self) -> dict:
        return {'host': self.host, 'pid': self.pid, 'since': self.since, 'state': self.state,
                'tasks': [{'name': name, 'hash': key} for name, key in self.tasks]}


class WorkersView:
    """The live workers (a list of :class:`Worker`, by host, pid), how many locks are
    held by workers that are gone (``stale``) and by workers that do not say who they
    are (``unknown``: Jug 2.7's redis locks)."""

    def __init__(self) -> None:
        self.workers: list = []
        self.stale = 0
        self.unknown = 0


def workers_of(store: Any, names: Mapping[bytes, str]) -> WorkersView:
    """The workers holding locks of `store`; `names` gives the task name of a hash
    (a lock of a task not in it is shown as ``?``).

    Usage: ``view = workers_of(store, {t.hash(): t.name for t in running})``
    """
    view = WorkersView()
    by_holder: dict = {}
    for key in store.listlocks():
        holder = store.getlock(key).holder()
        if holder is None or holder['state'] == LOCK_FAILED:
            continue
        if holder['state'] == LOCK_STALE:
            view.stale += 1
            continue
        if holder['host'] is None and holder['pid'] is None:
            view.unknown += 1
            continue
        identity = (holder['host'], holder['pid'])
        worker = by_holder.get(identity)
        if worker is None:
            worker = by_holder[identity] = Worker(*identity)
        key = as_bytes(key)
        worker.tasks.append((names.get(key, '?'), key.decode('ascii', 'replace')))
        since = holder['since']
        if since is not None and (worker.since is None or since < worker.since):
            worker.since = since
        if holder['state'] == LOCK_EXPIRING:
            worker.state = _STATE_WORDS[LOCK_EXPIRING]
    view.workers = sorted(by_holder.values(), key=lambda w: (str(w.host), w.pid or 0))
    return view


def format_workers(view: WorkersView) -> list:
    """The lines ``jug status --workers`` prints for `view`."""
    lines = [f'Workers holding tasks: {len(view.workers)}']
    if view.workers:
        rows = [(w.host or '?', str(w.pid or '?'), local_time(w.since), w.state,
                 ', '.join(f'{name} ({key[:12]})' for name, key in w.tasks))
                for w in view.workers]
        header = ('Host', 'PID', 'Since', 'State', 'Task')
        widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
        for row in [header] + rows:
            cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]),
                     row[2].ljust(widths[2]), row[3].ljust(widths[3]), row[4]]
            lines.append('    ' + '  '.join(cells))
    else:
        lines.append('    (none: no worker is running a task; a worker waiting for others '
                     'holds no lock)')
    return lines + remarks(view)


def remarks(view: WorkersView) -> list:
    """The lines about the locks whose holders are not listed (none if there are none)."""
    lines = []
    if view.stale:
        lines.append(f'Locks of workers that are gone (stale; the next jug execute takes '
                     f'their tasks over): {view.stale}')
    if view.unknown:
        lines.append(f'Locks held by workers that do not say who they are (Jug 2.7): '
                     f'{view.unknown}')
    return lines

