"""Leases (layer 1): what every leased lock needs, whatever the store.

A lock taken by ``jug execute`` is *leased*: it stays valid only while its holder
refreshes it, so that a lock whose worker died (killed, crashed node, pre-empted job)
can be recognised and taken over instead of stranding its task.  The file store
(:mod:`jug.backends.file_locks`) and the redis store (:mod:`jug.backends.redis_locks`)
build their locks on the pieces of this module (``docs/backends.rst``, "Leases"):

* :class:`LeaseSettings`: how long a lock lives without a refresh, and how often its
  holder refreshes it (``--lease-time``, ``--heartbeat-interval``);
* who a process is: its host name, its pid's start time (to tell a reused pid) and
  the boot and pid namespace its pids mean something in (two containers may share a
  host name), and whether a pid of this host is alive;
* owner tokens: :func:`new_token` names one lock instance and the process holding it;
  :func:`token_is_ours` tells whether a token was made by this process;
* :data:`heartbeat`: the one background thread of a process that refreshes every
  lock the process holds, of every store (no extra process).  A store registers a
  :class:`Lease` per lock taken, with the function that refreshes leases of its kind
  (called with all of them at once, so a server can be asked in one round trip).

Imports nothing from jug.
"""
from __future__ import annotations

import logging
import os
import threading

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Hashable

__all__ = ['LeaseSettings', 'DEFAULT_LEASE', 'DEFAULT_LEASE_TIME',
           'DEFAULT_HEARTBEAT_INTERVAL', 'nodename', 'process_start_id', 'own_start_id',
           'process_space_id', 'pid_alive', 'new_token', 'token_is_ours', 'Lease',
           'Heartbeat', 'heartbeat']

#: Default lease: a lock not refreshed for this many seconds is stale.  Generous, so
#: that clocks of NFS clients and servers may disagree by minutes.
DEFAULT_LEASE_TIME = 600.0
#: Default time between two refreshes of a held lock.
DEFAULT_HEARTBEAT_INTERVAL = 30.0


class LeaseSettings:
    """How long a lock lives without a refresh, and how often a holder refreshes it.

    Usage: ``LeaseSettings(lease_time=600, heartbeat_interval=30)``

    Raises
    ------
    ValueError
        Unless ``0 < heartbeat_interval < lease_time``.
    """

    __slots__ = ('lease_time', 'heartbeat_interval')

    def __init__(self, lease_time: float = DEFAULT_LEASE_TIME,
                 heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL) -> None:
        lease_time = float(lease_time)
        heartbeat_interval = float(heartbeat_interval)
        if not 0 < heartbeat_interval < lease_time:
            raise ValueError(f'the heartbeat interval ({heartbeat_interval:g} s) must be '
                             f'positive and shorter than the lease ({lease_time:g} s)')
        self.lease_time = lease_time
        self.heartbeat_interval = heartbeat_interval

    def __repr__(self) -> str:
        return f'LeaseSettings({self.lease_time:g}, {self.heartbeat_interval:g})'


DEFAULT_LEASE = LeaseSettings()


def nodename() -> str:
    """Return this host's name, as written in lock files."""
    return os.uname().nodename


def process_start_id(pid: int) -> str | None:
    """Return a string that differs between two processes that had the same pid.

    On Linux: the process start time (in clock ticks since boot) from ``/proc``.
    Elsewhere, or if the process does not exist: None.
    """
    try:
        with open(f'/proc/{pid}/stat', 'rb') as stat:
            fields = stat.read().rsplit(b')', 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields[0] is field 3 of proc(5)'s list; the start time is field 22
    return fields[19].decode('ascii') if len(fields) > 19 else None


_own_start: dict = {}


def own_start_id() -> str:
    """Return :func:`process_start_id` of this very process ('-' if unknown)."""
    pid = os.getpid()  # per pid: a forked child has its own start time
    if pid not in _own_start:
        _own_start[pid] = process_start_id(pid) or '-'
    return _own_start[pid]


_own_space: list = []


def process_space_id() -> str:
    """Identify the space where this process's pids mean something: the boot of the
    machine and the pid namespace (two containers with one host name differ here)."""
    if not _own_space:
        parts = []
        for path, read in (('/proc/sys/kernel/random/boot_id', _read_text),
                           ('/proc/self/ns/pid', _pid_namespace)):
            try:
                parts.append(read(path))
            except OSError:
                parts.append('')
        _own_space.append(':'.join(parts) if any(parts) else '-')
    return _own_space[0]


def _read_text(path: str) -> str:
    with open(path) as f:
        return f.read().strip()[:8]


def _pid_namespace(path: str) -> str:
    return str(os.stat(path).st_ino)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but belongs to another user
    return True


def new_token() -> str:
    """Return a new owner token: ``<host>:<pid>:<16 hex digits>`` (no spaces).

    Usage: ``token = new_token()``

    It names one lock instance (the random part) and the process that took it.
    """
    return f'{nodename()}:{os.getpid()}:{os.urandom(8).hex()}'


def token_is_ours(token: str) -> bool:
    """Whether `token` was made by :func:`new_token` in this very process."""
    return token.startswith(f'{nodename()}:{os.getpid()}:')


class Lease:
    """A lock this process holds, as the heartbeat knows it.

    Usage: ``heartbeat.hold(Lease(key, token, group, refresh, target), interval)``

    Parameters
    ----------
    key : hashable
        Names the lock within this process (a lock file's path; a redis server and key).
    token : str
        The owner token written into the lock when it was taken.
    group : hashable
        Leases of one group are refreshed together, by one call of `refresh`.
    refresh : callable
        ``refresh(leases)`` refreshes a list of leases of one group; it runs in the
        heartbeat thread, and must check (under :attr:`Heartbeat.guard` if the check
        and the write are local) that each lease is still held.
    target : any
        What `refresh` needs to find the lock (a path; a client and key names...).
    """

    __slots__ = ('key', 'token', 'group', 'refresh', 'target', 'lost', 'interval')

    def __init__(self, key: Hashable, token: str, group: Hashable,
                 refresh: Callable[[list], None], target: Any) -> None:
        self.key = key
        self.token = token
        self.group = group
        self.refresh = refresh
        self.target = target
        self.lost = False  # set by `refresh` when it finds the lock is no longer ours
        self.interval: float | None = None  # set by Heartbeat.hold


class Heartbeat:
    """The one daemon thread of a process that refreshes the locks it holds.

    The thread wakes every ``interval`` seconds, the shortest interval the held
    leases asked for (it sleeps until the next :meth:`hold` while none is held), and
    calls each group's ``refresh`` with the group's leases.  Taking or releasing a lock
    only updates a dict, under :attr:`guard` (a re-entrant lock, which a store may also
    hold while it releases or fails a lock, so that no refresh happens in between).  In a
    forked child the thread does not exist and the parent's guard may be held: everything
    is reset.
    """

    thread_name = 'jug-lock-heartbeat'

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, 'register_at_fork'):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        """Start afresh (at creation, and in a forked child)."""
        self.guard = threading.RLock()
        self._interval: float | None = None
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None
        self._held: dict = {}
        #: Completed refresh rounds (tests wait on it).
        self.rounds = 0

    def hold(self, lease: Lease, interval: float) -> None:
        """Start refreshing `lease` (a lock just taken), at most `interval` s apart."""
        with self.guard:
            lease.interval = interval
            self._held[lease.key] = lease
            self._set_interval()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.thread_name,
                                                daemon=True)
                self._thread.start()

    def _set_interval(self) -> None:
        """Beat as often as the most demanding held lease asks (never, without any);
        call with :attr:`guard` held."""
        interval = min((lease.interval for lease in self._held.values()), default=None)
        if interval != self._interval:
            self._interval = interval
            self._wakeup.set()  # sleep again, for the new interval

    def token(self, key: Hashable) -> str | None:
        """The token of the held lock `key`, or None if this process does not hold it."""
        with self.guard:
            lease = self._held.get(key)
        return None if lease is None else lease.token

    def drop(self, key: Hashable) -> str | None:
        """Stop refreshing `key`; return its token, or None if it was not held."""
        with self.guard:
            lease = self._held.pop(key, None)
            self._set_interval()
        return None if lease is None else lease.token

    def drop_where(self, predicate: Callable[[Lease], bool]) -> None:
        """Stop refreshing every lease for which `predicate` is true."""
        with self.guard:
            for key in [k for k, lease in self._held.items() if predicate(lease)]:
                del self._held[key]
            self._set_interval()

    def holds(self, lease: Lease) -> bool:
        """Whether `lease` is still held (call with :attr:`guard` held to act on it)."""
        with self.guard:
            return self._held.get(lease.key) is lease

    def _run(self) -> None:
        while True:
            if self._wakeup.wait(self._interval):
                self._wakeup.clear()  # the interval changed: sleep again with it
                continue
            if self._interval is not None:
                self.beat()

    def beat(self) -> None:
        """Refresh every held lease now (one call per group); never raises."""
        with self.guard:
            leases = list(self._held.values())
        groups: dict = {}
        for lease in leases:
            groups.setdefault(lease.group, []).append(lease)
        for group in groups.values():
            try:
                group[0].refresh(group)
            except Exception as e:  # never let one error end the heartbeat
                logging.warning(f'jug: {self.thread_name}: {e}')
        self.rounds += 1


heartbeat = Heartbeat()
