"""File locks (layer 1): ``<jugdir>/locks/<key>.lock``, shared with Jug 2.7, with a lease.

A lock is the existence of its file, created with ``O_CREAT | O_EXCL`` (atomic, also
on NFS v3+).  The file keeps Jug 2.7's two lines, so that Jug 2.7 workers and ours can
share a jugdir, and adds a third line of ours (``docs/backends.rst``, "Locks")::

    PID 4242 on HOSTNAME node17
    Lock created on 2026-11-27 (14h05.31)
    Jug-lease: 600 8123456 node17:4242:5f2c0d9e6a1b4c3d 3e0a1f27:4026531836

(lease seconds, the holder's process start time — to tell a reused pid —, the owner
token of this lock instance (:func:`jug.backends.leases.new_token`), and the boot and
pid namespace of the holder — pids are looked up only by processes of the same machine
boot and namespace, since two containers may share a host name).  While a process holds
leased locks, the process's heartbeat thread (:data:`jug.backends.leases.heartbeat`)
touches each of them every few seconds; a lock file not touched for longer than its
lease is *stale*.  A lock is also stale when it was written on this host (same boot and
pid namespace) by a process that no longer exists, or when it is empty (its writer died
before writing it) and older than the default lease.  A lock without the third line
(written by Jug 2.7) is never judged stale by its age, only by a dead process on this
host.  Failed locks (mtime of 1 s, Jug's marker) are never stale.

Taking over a stale lock: the worker that judged the lock stale creates, with
``O_EXCL``, a *takeover marker* named after that very lock file (its inode and mtime).
Of several workers judging the same stale lock, exactly one creates the marker; it
checks that the lock file is still the one it judged (same inode and mtime: not
refreshed, not replaced), removes it and creates its own lock with ``O_EXCL``.  A marker
left by a worker that died while taking over is itself abandoned after
:data:`TAKEOVER_TIMEOUT` seconds; the next attempt then uses a marker of the next
generation, again creatable by one worker only.

Also :class:`file_keepalive_based_lock` (``file_keepalive:<dir>``), refreshed by a helper
process (:mod:`jug.backends.file_keepalive_monitor`) instead.

Imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import logging
import os
import sys
import time

from .base import LOCK_FAILED, LOCK_FREE, LOCK_HELD, LOCK_STALE, base_lock
from .leases import (DEFAULT_LEASE, DEFAULT_LEASE_TIME, Lease, LeaseSettings, heartbeat,
                     new_token, nodename, own_start_id, pid_alive, process_space_id,
                     process_start_id)

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

__all__ = ['file_based_lock', 'file_keepalive_based_lock', 'parse_lock', 'read_lock',
           'stale_reason', 'take_over', 'FAILED_LOCK_MTIME', 'KEEPALIVE_FAILED_AGE']

# --- compatibility constants ---------------------------------------------------------

#: First line of a lock file.  Jug 2.7 writes exactly these two lines; workers of both
#: projects share jugdirs, so they must stay.  Code reading lock files must accept extra
#: lines after them (we may add our own, e.g. leases) and files with only these two.
LOCK_PID_LINE = 'PID {pid} on HOSTNAME {hostname}\n'
#: Second line of a lock file; the time is local time formatted with LOCK_TIME_FORMAT.
LOCK_CREATED_LINE = 'Lock created on {created}\n'
LOCK_TIME_FORMAT = '%Y-%m-%d (%Hh%M.%S)'

#: A failed lock is a lock file whose atime and mtime are set to 1 second after the
#: epoch.  Jug 2.7 uses this marker (it survives NFS, needs no rewrite of the file and
#: leaves the lock in place so no other worker retries the task); existing jugdirs carry it.
FAILED_LOCK_MTIME = 1

#: A keepalive lock not touched for this many seconds counts as failed (its worker died).
KEEPALIVE_FAILED_AGE = 30 * 60

#: Marker of our line in a lock file (after Jug's two lines).
LEASE_LINE_PREFIX = 'Jug-lease:'
#: A takeover marker older than this many seconds was abandoned by a dead worker.
TAKEOVER_TIMEOUT = 60.0
#: Takeover generations tried before giving up (each needs an abandoned predecessor).
MAX_TAKEOVER_GENERATIONS = 8
#: Permission bits of new lock files (before the umask).
_LOCK_FILE_MODE = 0o666


# --- the lock file's text --------------------------------------------------------------

def _lock_text() -> bytes:
    """Jug 2.7's two lines of a new lock file (a lease line of ours follows them)."""
    return (LOCK_PID_LINE.format(pid=os.getpid(), hostname=nodename())
            + LOCK_CREATED_LINE.format(created=time.strftime(LOCK_TIME_FORMAT))).encode('utf-8')


def lease_line(settings: LeaseSettings, token: str) -> str:
    """Return our third line of a lock file (see the module docstring)."""
    return (f'{LEASE_LINE_PREFIX} {settings.lease_time:g} {own_start_id()} {token} '
            f'{process_space_id()}\n')


class LockInfo:
    """What a lock file says about its holder (fields are None when absent)."""

    __slots__ = ('pid', 'host', 'lease_time', 'start_id', 'token', 'space')

    def __init__(self, pid: int | None = None, host: str | None = None,
                 lease_time: float | None = None, start_id: str | None = None,
                 token: str | None = None, space: str | None = None) -> None:
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


def read_lock(path: str) -> tuple[os.stat_result, LockInfo] | None:
    """Return ``(stat, LockInfo)`` of the lock file at `path`, or None if it is gone."""
    try:
        with open(path, 'rb') as lock:
            stat = os.fstat(lock.fileno())
            text = lock.read(4096).decode('utf-8', 'replace')
    except FileNotFoundError:
        return None
    return stat, parse_lock(text)


# --- stale locks and takeover -----------------------------------------------------------

def stale_reason(stat: os.stat_result, info: LockInfo, now: float | None = None) -> str | None:
    """Return why the lock (its stat and content) is stale, or None if it is not.

    A failed lock is never stale.  A lock written on this host by a process that is
    gone (or whose pid now belongs to another process) is stale; so is a lock with a
    lease that was not refreshed within it.
    """
    if stat.st_mtime == FAILED_LOCK_MTIME:
        return None
    if info.pid is None and info.lease_time is None:
        # empty or unreadable: its writer died between creating and writing it
        age = (time.time() if now is None else now) - stat.st_mtime
        return f'it is empty and {age:.0f} s old' if age > DEFAULT_LEASE_TIME else None
    if info.pid is not None and info.host == nodename() and _same_pid_space(info):
        if not pid_alive(info.pid):
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


def _win_takeover_marker(path: str, judged: os.stat_result, timeout: float) -> str | None:
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


def take_over(path: str, judged: os.stat_result, content: bytes | None, mode: int,
              judged_info: LockInfo | None = None) -> bool:
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


def _same_lock(current: tuple[os.stat_result, LockInfo], judged: os.stat_result,
               judged_info: LockInfo | None) -> bool:
    stat, info = current
    if (stat.st_ino, stat.st_mtime_ns) != (judged.st_ino, judged.st_mtime_ns):
        return False
    return judged_info is None or (info.token, info.pid, info.host) == \
        (judged_info.token, judged_info.pid, judged_info.host)


# --- refreshing (in the heartbeat thread) ----------------------------------------------

def _refresh_leases(leases: list) -> None:
    """The heartbeat's refresh of file locks: touch each one still held and still ours.

    Each check-and-touch runs under the heartbeat's guard, which ``release`` and
    ``fail`` also hold: a refresh can never touch a lock just released, nor undo the
    failed marker.
    """
    for lease in leases:
        with heartbeat.guard:
            if not heartbeat.holds(lease):
                continue
            try:
                refresh(lease.key, lease.token)
            except Exception as e:  # e.g. a transient NFS error: next round
                logging.warning(f'Could not refresh the lock {lease.key}: {e}')


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


# --- the locks ------------------------------------------------------------------------

class file_based_lock(base_lock):
    """Lock held as the existence of ``<jugdir>/locks/<name>.lock``, with a lease.

    Usage: ``lock = file_based_lock(jugdir, h); if lock.get(): ...``

    Parameters
    ----------
    jugdir : str
    name : bytes or str
        ``'foo'`` and ``b'foo'`` are the same lock.
    lease : jug.backends.leases.LeaseSettings, optional
        Lease length and refresh interval of locks this object takes.

    Notes
    -----
    ``get()`` creates the file with ``O_CREAT | O_EXCL``, which is atomic (also on NFS
    v3+), and writes Jug's two lines (pid and host, creation time) plus a lease line;
    while held, the lock is refreshed by this process's heartbeat thread.  A lock found
    *stale* (its holder is gone, or its lease expired) is taken over, by one worker
    only (see the module docstring).  ``fail()`` marks the lock by setting its mtime
    to :data:`FAILED_LOCK_MTIME`.
    """

    def __init__(self, jugdir: str, name: bytes | str, lease: LeaseSettings | None = None) -> None:
        if isinstance(name, bytes):
            name = name.decode('utf-8')
        self.fullname = os.path.join(jugdir, 'locks', name + '.lock')
        self.lease = DEFAULT_LEASE if lease is None else lease

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.fullname})'

    def get(self) -> bool:
        """Try to take the lock; True if taken, False if a live holder has it.

        A stale lock (see :meth:`stale_reason`) is taken over.  Other OS errors (e.g. a
        read-only locks directory) propagate.
        """
        token = new_token()
        content = _lock_text() + lease_line(self.lease, token).encode('utf-8')
        # No exists() check first: O_EXCL answers the same question in one system call.
        try:
            created = _create_exclusive(self.fullname, content, _LOCK_FILE_MODE)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(self.fullname), exist_ok=True)
            created = _create_exclusive(self.fullname, content, _LOCK_FILE_MODE)
        if not created and not self._take_over_if_stale(content):
            return False
        heartbeat.hold(Lease(self.fullname, token, 'files', _refresh_leases, None),
                       self.lease.heartbeat_interval)
        return True

    def _take_over_if_stale(self, content: bytes) -> bool:
        found = read_lock(self.fullname)
        if found is None:
            return False
        reason = stale_reason(*found)
        if reason is None or not take_over(self.fullname, found[0], content, _LOCK_FILE_MODE,
                                           found[1]):
            return False
        logging.warning(f'Took over the stale lock {self.fullname}: {reason}.')
        return True

    def release(self) -> None:
        """Remove the lock file (no error if it is gone or cannot be removed).

        A lock this process took is removed only if it is still its own (it may have
        been taken over while this process was frozen for longer than the lease).  A
        lock that cannot be removed (e.g. the jugdir became read-only) is left with a
        warning: it becomes stale once this process is gone.
        """
        with heartbeat.guard:
            token = heartbeat.drop(self.fullname)
            if token is not None and not holds(self.fullname, token):
                logging.warning(f'The lock {self.fullname} was taken over by another worker '
                                'while this one held it; it is left to that worker.')
                return
            try:
                os.unlink(self.fullname)
            except FileNotFoundError:
                pass
            except OSError as e:  # as in Jug 2.7, release ignores OSError (it runs in finally)
                logging.warning(f'jug: could not remove the lock file {self.fullname}: '
                                f'{e.strerror}')

    def is_locked(self) -> bool:
        """Return whether the lock file exists."""
        return os.path.exists(self.fullname)

    def fail(self) -> bool:
        """Mark the lock as failed; return False if there is no lock file."""
        with heartbeat.guard:
            token = heartbeat.drop(self.fullname)
            if token is not None and not holds(self.fullname, token):
                return False  # taken over by another worker: not ours to mark
            try:
                os.utime(self.fullname, (FAILED_LOCK_MTIME, FAILED_LOCK_MTIME))
            except FileNotFoundError:
                return False
        return True

    def is_failed(self) -> bool:
        """Return whether the lock file exists and carries the failed marker."""
        try:
            return os.stat(self.fullname).st_mtime == FAILED_LOCK_MTIME
        except FileNotFoundError:
            return False

    def stale_reason(self) -> str | None:
        """Return why the lock is stale (its holder is gone), or None if it is not."""
        found = read_lock(self.fullname)
        return None if found is None else stale_reason(*found)

    def is_stale(self) -> bool:
        """Return whether the lock exists and its holder is gone (see stale_reason)."""
        return self.stale_reason() is not None

    def holder_state(self) -> str:
        """Return ``LOCK_FREE``, ``LOCK_FAILED``, ``LOCK_STALE`` or ``LOCK_HELD`` (one
        read of the lock file)."""
        found = read_lock(self.fullname)
        if found is None:
            return LOCK_FREE
        stat, info = found
        if stat.st_mtime == FAILED_LOCK_MTIME:
            return LOCK_FAILED
        return LOCK_HELD if stale_reason(stat, info) is None else LOCK_STALE

    def is_held_by_live_worker(self) -> bool:
        """Whether a live worker of ours, other than this process, holds the lock.

        True only for a lock with a lease line that is neither failed nor stale and was
        not written by this process.  Jug 2.7's locks (no lease) are never known live.
        """
        found = read_lock(self.fullname)
        if found is None:
            return False
        stat, info = found
        if info.lease_time is None or stat.st_mtime == FAILED_LOCK_MTIME:
            return False
        if info.pid == os.getpid() and info.host == nodename():
            return False
        return stale_reason(stat, info) is None

    def remove_unless_live(self) -> bool:
        """Remove the lock unless a live worker holds it; return whether it was removed.

        Goes through the takeover protocol (:func:`take_over`), so
        that a worker taking the lock over at the same moment keeps it.
        """
        found = read_lock(self.fullname)
        if found is None or self.is_held_by_live_worker():
            return False
        with heartbeat.guard:
            heartbeat.drop(self.fullname)  # in case this very process held it
        return take_over(self.fullname, found[0], None, _LOCK_FILE_MODE, found[1])


class file_keepalive_based_lock(file_based_lock):
    """File lock refreshed by a :mod:`jug.backends.file_keepalive_monitor` process.

    Usage: ``lock = file_keepalive_based_lock(jugdir, h)``

    Attributes
    ----------
    monitor : subprocess.Popen or None
        The monitor process while this object holds the lock.
    """

    def __init__(self, jugdir: str, name: bytes | str, lease: LeaseSettings | None = None) -> None:
        super().__init__(jugdir, name, lease)
        self.monitor: subprocess.Popen[bytes] | None = None

    def get(self) -> bool:
        """Take the lock and start its monitor; False (and no monitor) if it is taken."""
        if not super().get():
            return False
        import subprocess  # lazy: only keepalive stores start processes
        env = dict(os.environ)
        # The monitor is run as `python -m jug.backends.file_keepalive_monitor`: make sure
        # the child finds this very copy of jug even when it is not installed.
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env['PYTHONPATH'] = os.pathsep.join(
            [package_root] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
        self.monitor = subprocess.Popen(
            [sys.executable, '-m', 'jug.backends.file_keepalive_monitor', self.fullname],
            stdin=subprocess.DEVNULL, env=env)
        return True

    def _stop_monitor(self) -> None:
        if self.monitor is not None:
            self.monitor.kill()
            self.monitor.wait()
            self.monitor = None

    def release(self) -> None:
        """Stop the monitor and remove the lock file."""
        self._stop_monitor()
        super().release()

    def fail(self) -> bool:
        """Stop the monitor and mark the lock as failed."""
        self._stop_monitor()
        return super().fail()

    holder_state = base_lock.holder_state  # its own is_failed (age), not the marker

    def is_failed(self) -> bool:
        """Return whether the lock exists and was not touched for 30 minutes."""
        try:
            mtime = os.stat(self.fullname).st_mtime
        except FileNotFoundError:
            return False
        return time.time() - mtime > KEEPALIVE_FAILED_AGE
