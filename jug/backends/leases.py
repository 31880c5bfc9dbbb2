"""Leased file locks: who holds a lock, whether that holder is still alive, and how a
lock whose holder is gone (a *stale* lock) is taken over by exactly one worker.

A lock file keeps Jug 2.7's two lines, so that Jug 2.7 workers and ours can share a
jugdir, and adds a third line of ours::

    PID 4242 on HOSTNAME node17
    Lock created on 2026-11-27 (14h05.31)
    Jug-lease: 600 8123456 5f2c0d9e6a1b4c3d 3e0a1f27:4026531836

(lease seconds, the holder's process start time — to tell a reused pid —, a token
naming this lock instance, and the boot and pid namespace of the holder — pids are
looked up only by processes of the same machine boot and namespace, since two
containers may share a host name).  While a process holds leased locks, one background thread
of that process (the *heartbeat*, no extra process) touches each of them every few
seconds; a lock file not touched for longer than its lease is stale.  A lock is also
stale when it was written on this host (same boot and pid namespace) by a process
that no longer exists, or when it is empty (its writer died before writing it) and
older than the default lease.  A lock
without the third line (written by Jug 2.7) is never judged stale by its age, only by a
dead process on this host.  Failed locks (mtime of 1 s, Jug's marker) are never stale.

Taking over a stale lock: the worker that judged the lock stale creates, with
``O_EXCL``, a *takeover marker* named after that very lock file (its inode and mtime).
Of several workers judging the same stale lock, exactly one creates the marker; it
checks that the lock file is still the one it judged (same inode and mtime: not
refreshed, not replaced), removes it and creates its own lock with ``O_EXCL``.  A marker
left by a worker that died while taking over is itself abandoned after
:data:`TAKEOVER_TIMEOUT` seconds; the next attempt then uses a marker of the next
generation, again creatable by one worker only.

Layer 1: imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import logging
import os
import threading
import time

__all__ = ['LeaseSettings', 'DEFAULT_LEASE', 'lease_line', 'parse_lock', 'stale_reason',
           'take_over', 'heartbeat', 'nodename']

#: Marker of our line in a lock file (after Jug's two lines).
LEASE_LINE_PREFIX = 'Jug-lease:'
#: Default lease: a lock not refreshed for this many seconds is stale.  Generous, so
#: that clocks of NFS clients and servers may disagree by minutes.
DEFAULT_LEASE_TIME = 600.0
#: Default time between two refreshes of a held lock.
DEFAULT_HEARTBEAT_INTERVAL = 30.0
#: A takeover marker older than this many seconds was abandoned by a dead worker.
TAKEOVER_TIMEOUT = 60.0
#: Takeover generations tried before giving up (each needs an abandoned predecessor).
MAX_TAKEOVER_GENERATIONS = 8
#: Same value as jug.backends.file_store.FAILED_LOCK_MTIME (Jug's failed marker).
_FAILED_LOCK_MTIME = 1


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

    def __repr__(self):
        return f'LeaseSettings({self.lease_time:g}, {self.heartbeat_interval:g})'


DEFAULT_LEASE = LeaseSettings()


def nodename() -> str:
    """Return this host's name, as written in lock files."""
    return os.uname().nodename


def process_start_id(pid: int):
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


_own_start = {}


def _own_start_id():
    pid = os.getpid()  # per pid: a forked child has its own start time
    if pid not in _own_start:
        _own_start[pid] = process_start_id(pid) or '-'
    return _own_start[pid]


_own_space = []


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


def _read_text(path):
    with open(path) as f:
        return f.read().strip()[:8]


def _pid_namespace(path):
    return str(os.stat(path).st_ino)


def lease_line(settings: LeaseSettings, token: str) -> str:
    """Return our third line of a lock file (see the module docstring)."""
    return (f'{LEASE_LINE_PREFIX} {settings.lease_time:g} {_own_start_id()} {token} '
            f'{process_space_id()}\n')


class LockInfo:
    """What a lock file says about its holder (fields are None when absent)."""

    __slots__ = ('pid', 'host', 'lease_time', 'start_id', 'token', 'space')

    def __init__(self, pid=None, host=None, lease_time=None, start_id=None, token=None,
                 space=None):
        self.pid = pid
        self.host = host
        self.lease_time = lease_time
        self.start_id = start_id
        self.token = token
        self.space = space


def parse_lock(text: str) -> LockInfo:
    """Parse a lock file's text; tolerates Jug 2.7's two lines, extra lines and garbage."""
    info = LockInfo()
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 5 and words[0] == 'PID' and words[2:4] == ['on', 'HOSTNAME']:
            try:
                info.pid = int(words[1])
            except ValueError:
                pass
            info.host = words[4]
        elif len(words) >= 4 and words[0] == LEASE_LINE_PREFIX:
            try:
                info.lease_time = float(words[1])
            except ValueError:
                continue
            info.start_id = None if words[2] == '-' else words[2]
            info.token = words[3]
            info.space = words[4] if len(words) >= 5 else None
    return info


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but belongs to another user
    return True


def read_lock(path: str):
    """Return ``(stat, LockInfo)`` of the lock file at `path`, or None if it is gone."""
    try:
        with open(path, 'rb') as lock:
            stat = os.fstat(lock.fileno())
            text = lock.read(4096).decode('utf-8', 'replace')
    except FileNotFoundError:
        return None
    return stat, parse_lock(text)


def stale_reason(stat: os.stat_result, info: LockInfo, now: float = None):
    """Return why the lock (its stat and content) is stale, or None if it is not.

    A failed lock is never stale.  A lock written on this host by a process that is
    gone (or whose pid now belongs to another process) is stale; so is a lock with a
    lease that was not refreshed within it.
    """
    if stat.st_mtime == _FAILED_LOCK_MTIME:
        return None
    if info.pid is None and info.lease_time is None:
        # empty or unreadable: its writer died between creating and writing it
        age = (time.time() if now is None else now) - stat.st_mtime
        return f'it is empty and {age:.0f} s old' if age > DEFAULT_LEASE_TIME else None
    if info.pid is not None and info.host == nodename() and _same_pid_space(info):
        if not _pid_alive(info.pid):
            return f'process {info.pid} on {info.host} is gone'
        if info.start_id is not None and process_start_id(info.pid) not in (None, info.start_id):
            return f'process {info.pid} on {info.host} is gone (its pid was reused)'
    if info.lease_time is not None:
        age = (time.time() if now is None else now) - stat.st_mtime
        if age > info.lease_time:
            return f'its lease of {info.lease_time:g} s expired {age - info.lease_time:.0f} s ago'
    return None


def _same_pid_space(info: LockInfo) -> bool:
    """Whether the lock's pid can be looked up here (same boot and pid namespace)."""
    if info.lease_time is None:
        return True  # Jug 2.7's lock: only the host name is known
    return info.space is not None and info.space == process_space_id()


def _create_exclusive(path: str, content: bytes, mode: int) -> bool:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.write(fd, content)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return True


def _win_takeover_marker(path: str, judged: os.stat_result, timeout: float):
    """Create the takeover marker of the judged lock instance; its path, or None."""
    base = f'{path}.takeover.{judged.st_ino}.{judged.st_mtime_ns}'
    for generation in range(MAX_TAKEOVER_GENERATIONS):
        marker = f'{base}.{generation}'
        if _create_exclusive(marker, f'{os.getpid()} {nodename()}\n'.encode(), 0o666):
            return marker
        try:
            age = time.time() - os.stat(marker).st_mtime
        except FileNotFoundError:
            return None  # its winner finished: the lock is not the judged one any more
        if age < timeout:
            return None  # another worker is taking it over right now
    return None


def take_over(path: str, judged: os.stat_result, content: bytes, mode: int,
              judged_info: LockInfo = None) -> bool:
    """Replace the stale lock file `path` (as `judged` by ``os.stat``) by our own.

    Returns True if this process now holds the lock, False if another worker got it
    first or the lock changed since it was judged (see the module docstring).  With
    `content` None the judged lock is only removed (``jug cleanup``), by the same
    protocol, so that a worker taking it over at that moment does not lose it.
    """
    lease = judged_info.lease_time if judged_info is not None else None
    # clocks of hosts may differ: a marker counts as abandoned only after the lease too
    marker = _win_takeover_marker(path, judged, max(TAKEOVER_TIMEOUT, lease or 0))
    if marker is None:
        return False
    try:
        current = read_lock(path)  # open(): also revalidates NFS's cached attributes
        if current is None or not _same_lock(current, judged, judged_info):
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass  # released meanwhile: then the exclusive create decides
        return True if content is None else _create_exclusive(path, content, mode)
    finally:
        try:
            os.unlink(marker)
        except FileNotFoundError:
            pass


def _same_lock(current, judged: os.stat_result, judged_info) -> bool:
    stat, info = current
    if (stat.st_ino, stat.st_mtime_ns) != (judged.st_ino, judged.st_mtime_ns):
        return False
    return judged_info is None or (info.token, info.pid, info.host) == \
        (judged_info.token, judged_info.pid, judged_info.host)


class PeriodicRefresher:
    """One daemon thread of a process that calls :meth:`beat` periodically.

    The thread wakes every ``interval`` seconds, the shortest interval any caller of
    :meth:`_ensure_running` asked for; asking for a shorter one wakes it to sleep
    anew.  ``guard`` protects the subclass's state.  In a forked child the thread does
    not exist and the parent's guard may be held: everything is reset.  The file
    store's and the redis store's heartbeats are subclasses.
    """

    thread_name = 'jug-heartbeat'

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, 'register_at_fork'):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        """Start afresh (at creation, and in a forked child)."""
        self.guard = threading.Lock()
        self._interval = None
        self._wakeup = threading.Event()
        self._thread = None

    def _ensure_running(self, interval: float) -> None:
        """Make sure the thread runs, at most `interval` seconds apart.  Call with guard."""
        if self._interval is None or interval < self._interval:
            self._interval = interval
            self._wakeup.set()  # sleep for the new, shorter interval
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.thread_name,
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            if self._wakeup.wait(self._interval):
                self._wakeup.clear()  # the interval changed: sleep again with it
                continue
            try:
                self.beat()
            except Exception as e:  # never let one error end the heartbeat
                logging.warning(f'jug: {self.thread_name}: {e}')

    def beat(self) -> None:
        """Do one round of work (subclasses)."""
        raise NotImplementedError


class _Heartbeat(PeriodicRefresher):
    """The one thread of a process that keeps its held leased lock files fresh.

    Each beat touches every held lock that is still ours.  Taking or releasing a lock
    only updates a dict, under ``guard``, which is also held while locks are refreshed
    and while one is released or marked failed: a refresh can never undo the failed
    marker or touch a lock that was just released.
    """

    thread_name = 'jug-lock-heartbeat'

    def _reset(self) -> None:
        super()._reset()
        self._held = {}  # path -> token

    def hold(self, path: str, token: str, interval: float) -> None:
        """Start refreshing `path` (a lock this process just created with `token`)."""
        with self.guard:
            self._held[path] = token
            self._ensure_running(interval)

    def drop(self, path: str):
        """Stop refreshing `path`; return its token, or None if this process does not
        hold it.  Call with ``guard`` held."""
        return self._held.pop(path, None)

    def beat(self) -> None:
        with self.guard:
            for path, token in self._held.items():
                try:
                    refresh(path, token)
                except Exception as e:  # e.g. a transient NFS error: next round
                    logging.warning(f'Could not refresh the lock {path}: {e}')


def refresh(path: str, token: str) -> bool:
    """Touch the lock file `path` if it is still ours (holds `token`); return whether."""
    if not holds(path, token):
        return False  # lost (taken over while we were frozen): release() will see that
    os.utime(path)
    return True


def holds(path: str, token: str) -> bool:
    """Whether the lock file `path` exists and carries `token` (is still ours)."""
    try:
        with open(path, 'rb') as lock:
            return token.encode() in lock.read(4096)
    except FileNotFoundError:
        return False


heartbeat = _Heartbeat()
