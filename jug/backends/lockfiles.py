"""Lock files (layer 1): their format, how they are created, read, judged and taken over.

A lock of the file store is the file ``<jugdir>/locks/<key>.lock``.  It keeps Jug 2.7's
two lines, so that Jug 2.7 workers and ours can share a jugdir, and adds a third line
of ours (``docs/backends.rst``, "Locks")::

    PID 4242 on HOSTNAME node17
    Lock created on 2026-11-27 (14h05.31)
    Jug-lease: 120 8123456 node17:4242:5f2c0d9e6a1b4c3d 3e0a1f27:4026531836 20

(lease seconds, the holder's process start time — to tell a reused pid —, the owner
token of this lock instance (:func:`jug.backends.leases.new_token`), the boot and pid
namespace of the holder — pids are looked up only by processes of the same machine
boot and namespace, since two containers may share a host name —, and how often the
holder refreshes it).

Creating: the whole text is written to a temporary file of ``locks/`` first, then
``os.link``-ed to the lock's name, which fails if the name exists: the lock appears
complete or not at all (also on NFS), never empty.

When a lock is *stale* (:func:`stale_reason`; the next ``get()`` takes it over):

* its holder ran on this host (same boot and pid namespace) and is gone, or its pid
  belongs to another process now; a holder of this host that is alive is never
  stale by its lease alone (a task holding Python's GIL for long delays nothing that
  matters), unless it is stopped (``SIGSTOP``) beyond its lease;
* or its lease expired: it was not refreshed for longer than the lease.  Its age is
  measured with the clock of the filesystem (:func:`fs_now`: the mtime a file just
  created gets), not this host's, so a host whose clock is off takes nothing over;
* or it is empty and older than :data:`EMPTY_LOCK_GRACE` (written by a worker that
  died between creating and writing it: Jug 2.7 creates, then writes), or it is not a
  regular file at all (a FIFO, a link...: nothing jug wrote).

A lock without our third line (Jug 2.7's) is never judged stale by its age, only by a
dead process on this host.  Failed locks (mtime of 1 s, Jug's marker) are never stale.
A held lock whose refresh is overdue (by two of its holder's intervals) is *expiring*:
its holder is probably gone, and a waiting worker keeps waiting for it to go stale.

Taking over a stale lock: the worker that judged the lock stale creates, with
``O_EXCL``, a *marker* named after that very lock instance (its owner token; for a
lock without one, its inode and mtime).
Of several workers judging the same stale lock, exactly one creates the marker; it
checks that the lock file is still the one it judged (same inode and mtime: not
refreshed, not replaced), removes it and creates its own lock.  A marker left by a
worker that died while taking over is abandoned after :data:`TAKEOVER_TIMEOUT` seconds
(or the lease, if longer); the next attempt then uses a marker of the next generation,
again creatable by one worker only.  The holder itself takes the same marker
(:func:`win_marker`) while it commits a result, releases or fails its lock, after
checking the lock is still its own: a takeover and the holder's last act exclude each
other.

Imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import errno
import os
import stat as stat_module
import time

from .leases import (LeaseSettings, nodename, own_start_id, pid_alive,
                     process_is_stopped, process_space_id, process_start_id)
from .safefiles import NotARegularFileError, open_regular

__all__ = ['LockInfo', 'parse_lock', 'read_lock', 'lock_text', 'create_lock', 'stale_reason',
           'is_expiring', 'take_over', 'win_marker', 'refresh', 'fs_now',
           'remove_leftovers',
           'FAILED_LOCK_MTIME', 'EMPTY_LOCK_GRACE', 'TAKEOVER_TIMEOUT']

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

#: Marker of our line in a lock file (after Jug's two lines).
LEASE_LINE_PREFIX = 'Jug-lease:'
#: An empty lock file older than this many seconds was left by a worker killed between
#: creating and writing it.
EMPTY_LOCK_GRACE = 10.0
#: A marker older than this many seconds (and than the lease) was abandoned.
TAKEOVER_TIMEOUT = 60.0
#: Marker generations tried before giving up (each needs an abandoned predecessor).
MAX_TAKEOVER_GENERATIONS = 8
#: A held lock not refreshed for this many of its holder's intervals is expiring.
OVERDUE_INTERVALS = 2
#: Permission bits of new lock files (before the umask).
LOCK_FILE_MODE = 0o666
#: How long a measure of the filesystem's clock (fs_now) is used before a new one.
FS_CLOCK_TTL = 300.0


# --- the lock file's text --------------------------------------------------------------

def lock_text(settings: LeaseSettings, token: str) -> bytes:
    """Return the whole text of a new lock of this process (see the module docstring)."""
    return (LOCK_PID_LINE.format(pid=os.getpid(), hostname=nodename())
            + LOCK_CREATED_LINE.format(created=time.strftime(LOCK_TIME_FORMAT))
            + f'{LEASE_LINE_PREFIX} {settings.lease_time:g} {own_start_id()} {token} '
              f'{process_space_id()} {settings.heartbeat_interval:g}\n').encode('utf-8')


class LockInfo:
    """What a lock file says about its holder (fields are None when absent).

    ``regular`` is False for anything at a lock's name that is not a regular file.
    """

    __slots__ = ('pid', 'host', 'lease_time', 'start_id', 'token', 'space', 'interval',
                 'regular', 'created_text')

    def __init__(self, pid: int | None = None, host: str | None = None,
                 lease_time: float | None = None, start_id: str | None = None,
                 token: str | None = None, space: str | None = None,
                 interval: float | None = None, regular: bool = True) -> None:
        self.pid = pid
        self.host = host
        self.lease_time = lease_time
        self.start_id = start_id
        self.token = token
        self.space = space
        self.interval = interval
        self.regular = regular
        self.created_text: str | None = None  # the time on the second line, as written

    def created(self) -> float | None:
        """When the lock was created (its second line), in seconds since the epoch; None
        if it does not say.  Read as this host's local time, as it was written."""
        if self.created_text is None:
            return None
        try:
            return time.mktime(time.strptime(self.created_text, LOCK_TIME_FORMAT))
        except (ValueError, OverflowError):
            return None

    def is_empty(self) -> bool:
        """Whether the file says nothing: no holder, no lease (empty, or garbage)."""
        return self.pid is None and self.lease_time is None


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
        elif line.startswith(_CREATED_PREFIX):
            info.created_text = line[len(_CREATED_PREFIX):].strip()
        elif len(words) >= 4 and words[0] == LEASE_LINE_PREFIX:
            try:
                info.lease_time = float(words[1])
                info.interval = float(words[5]) if len(words) >= 6 else None
            except ValueError:
                continue
            info.start_id = None if words[2] == '-' else words[2]
            info.token = words[3]
            info.space = words[4] if len(words) >= 5 else None
    return info


_CREATED_PREFIX = LOCK_CREATED_LINE.split('{')[0]


def read_lock(path: str) -> tuple[os.stat_result, LockInfo] | None:
    """Return ``(stat, LockInfo)`` of the lock file at `path`, or None if it is gone.

    Never follows a symbolic link nor blocks on a FIFO: such a file is reported with
    ``LockInfo.regular`` False (and its own ``lstat``).
    """
    try:
        with open_regular(path) as lock:
            stat = os.fstat(lock.fileno())
            text = lock.read(4096).decode('utf-8', 'replace')
    except FileNotFoundError:
        return None
    except NotARegularFileError:
        try:
            return os.lstat(path), LockInfo(regular=False)
        except FileNotFoundError:
            return None
    return stat, parse_lock(text)


# --- creating ----------------------------------------------------------------------------

def create_lock(path: str, content: bytes) -> bool:
    """Create the lock file `path` holding `content`, atomically; False if it exists.

    The content goes to a temporary file beside it first, which is then hard-linked
    to `path`: the lock is never seen empty.  (On NFS a link whose reply was lost may
    report ``EEXIST`` although it succeeded: the link count tells.)
    """
    temp = os.path.join(os.path.dirname(path),
                        f'.{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.new')
    create_exclusive(temp, content)
    try:
        try:
            os.link(temp, path)
        except FileExistsError:
            return os.stat(temp).st_nlink == 2 or _holds_content(path, content)
        return True
    finally:
        _unlink_if_there(temp)


def _holds_content(path: str, content: bytes) -> bool:
    """Whether the file `path` holds exactly `content` (our lock, linked already)."""
    try:
        with open_regular(path) as f:
            return f.read(len(content) + 1) == content
    except OSError:
        return False


def create_exclusive(path: str, content: bytes) -> bool:
    """Create `path` with `content` unless it exists (``O_EXCL``); whether it was created."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, LOCK_FILE_MODE)
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


# --- the filesystem's clock --------------------------------------------------------------

_fs_offsets: dict = {}  # directory -> (offset to add to time.monotonic(), when measured)


def fs_now(directory: str) -> float:
    """The current time by the clock of the filesystem holding `directory`.

    Usage: ``age = fs_now(locks_dir) - os.stat(lock).st_mtime``

    On NFS, a file's mtime is set by the server; on a local disk by this kernel.  Its
    offset to this host's monotonic clock is measured by creating a file and reading
    its mtime, at most every :data:`FS_CLOCK_TTL` seconds (of the monotonic clock):
    a host whose clock is wrong, a process under libfaketime, a step of this host's
    clock meanwhile change nothing.  Without a writable `directory`, this host's clock
    (``time.time()``) is used.
    """
    now = time.monotonic()
    offset, measured = _fs_offsets.get(directory, (None, 0.0))
    if offset is None or now - measured > FS_CLOCK_TTL:
        offset = _measure_fs_offset(directory)
        if offset is None:
            return time.time()
        _fs_offsets[directory] = (offset, now)
    return now + offset


def _measure_fs_offset(directory: str) -> float | None:
    probe = os.path.join(directory, f'.clock.{os.getpid()}.{os.urandom(4).hex()}')
    before = time.monotonic()
    try:
        fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return None
    try:
        written = os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        _unlink_if_there(probe)
    after = time.monotonic()
    return written - (before + after) / 2


def _unlink_if_there(path: str) -> None:
    """``os.unlink(path)``; no error if someone removed it already."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --- judging ------------------------------------------------------------------------------

def stale_reason(stat: os.stat_result, info: LockInfo, now: float | None = None) -> str | None:
    """Return why the lock (its stat and content) is stale, or None if it is not.

    `now` is the filesystem's time (:func:`fs_now`; default: this host's clock).  See
    the module docstring for the rules.
    """
    if stat.st_mtime == FAILED_LOCK_MTIME and info.regular:
        return None
    if not info.regular:
        return 'it is not a regular file (jug never writes that)'
    age = (time.time() if now is None else now) - stat.st_mtime
    if info.is_empty():
        return f'it is empty and {age:.0f} s old' if age > EMPTY_LOCK_GRACE else None
    local = info.pid is not None and info.host == nodename() and _same_pid_space(info)
    if local:
        assert info.pid is not None
        if not pid_alive(info.pid):
            return f'process {info.pid} on {info.host} is gone'
        if info.start_id is not None and process_start_id(info.pid) not in (None, info.start_id):
            return f'process {info.pid} on {info.host} is gone (its pid was reused)'
    if info.lease_time is not None and age > info.lease_time:
        if local and not process_is_stopped(info.pid):
            return None  # alive and running on this host: only slow (e.g. holding the GIL)
        return f'its lease of {info.lease_time:g} s expired {age - info.lease_time:.0f} s ago'
    return None


def is_expiring(stat: os.stat_result, info: LockInfo, now: float | None = None) -> bool:
    """Whether a held (not stale) lock's refreshes are overdue: its holder is probably
    gone, and the lock goes stale when its lease runs out."""
    if info.lease_time is None or info.interval is None or stat.st_mtime == FAILED_LOCK_MTIME:
        return False
    age = (time.time() if now is None else now) - stat.st_mtime
    return age > OVERDUE_INTERVALS * info.interval


def _same_pid_space(info: LockInfo) -> bool:
    """Whether the lock's pid can be looked up here (same boot and pid namespace)."""
    if info.lease_time is None:
        return True  # Jug 2.7's lock: only the host name is known
    return info.space is not None and info.space == process_space_id()


# --- markers and takeover ---------------------------------------------------------------

def marker_base(path: str, judged: os.stat_result, info: LockInfo | None) -> str:
    """The name (without generation) of the marker of one lock instance.

    Named after the instance's owner token when it has one (refreshing the lock does
    not change it), else after its inode and mtime (locks nobody refreshes: Jug 2.7's,
    empty ones, non-regular files).
    """
    token = info.token if info is not None else None
    if token:
        return token_marker_base(path, token)
    return f'{path}.takeover.{judged.st_ino}.{judged.st_mtime_ns}'


def token_marker_base(path: str, token: str) -> str:
    """The name (without generation) of the marker of the instance of the lock `path`
    that carries the owner token `token`."""
    return f'{path}.takeover.{token.rsplit(":", 1)[-1]}'


def win_marker(path: str, judged: os.stat_result, info: LockInfo | None) -> str | None:
    """Create the marker of the lock instance `judged` (see the module docstring); return
    its path, or None if another process holds it (it is taking over, or committing)."""
    return win_named_marker(path, marker_base(path, judged, info), marker_timeout(info))


def win_named_marker(path: str, base: str, timeout: float) -> str | None:
    """:func:`win_marker` for the marker `base` of the lock `path`, abandoned after
    `timeout` seconds (the holder of a lock knows the name without reading it)."""
    for generation in range(MAX_TAKEOVER_GENERATIONS):
        marker = f'{base}.{generation}'
        if create_exclusive(marker, f'{os.getpid()} {nodename()}\n'.encode()):
            return marker
        try:
            age = fs_now(os.path.dirname(path)) - os.stat(marker).st_mtime
        except FileNotFoundError:
            return None  # its winner finished: the lock is not the judged one any more
        if age < timeout:
            return None  # another worker is taking it over right now
    return None


def drop_marker(marker: str) -> None:
    """Remove a marker won by :func:`win_marker` (no error if it is gone)."""
    try:
        os.unlink(marker)
    except FileNotFoundError:
        pass


def marker_timeout(info: LockInfo | None) -> float:
    """How old a marker of this lock must be to count as abandoned: at least the lease
    too, so that a taker never supersedes a marker its lock's holder may still hold."""
    return lease_marker_timeout(info.lease_time if info is not None else None)


def lease_marker_timeout(lease_time: float | None) -> float:
    """:func:`marker_timeout` of a lock whose lease is `lease_time` seconds."""
    return max(TAKEOVER_TIMEOUT, lease_time or 0)


def take_over(path: str, judged: os.stat_result, content: bytes | None,
              judged_info: LockInfo | None = None) -> bool:
    """Replace the stale lock file `path` (as `judged` by ``os.stat``) by our own.

    Returns True if this process now holds the lock, False if another worker got it
    first or the lock changed since it was judged (see the module docstring).  With
    `content` None the judged lock is only removed (``jug cleanup``), by the same
    protocol, so that a worker taking it over at that moment does not lose it.
    """
    marker = win_marker(path, judged, judged_info)
    if marker is None:
        return False
    won = time.monotonic()
    try:
        current = read_lock(path)  # open(): also revalidates NFS's cached attributes
        if current is None or not same_lock(current, judged, judged_info):
            return False
        if time.monotonic() - won > marker_timeout(judged_info) / 2:
            return False  # this process was frozen: its marker may count as abandoned
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass  # released meanwhile: then the exclusive create decides
        return True if content is None else create_lock(path, content)
    finally:
        drop_marker(marker)


def same_lock(current: tuple[os.stat_result, LockInfo], judged: os.stat_result,
              judged_info: LockInfo | None) -> bool:
    """Whether the lock file read as `current` is the very instance that was `judged`."""
    stat, info = current
    if (stat.st_ino, stat.st_mtime_ns) != (judged.st_ino, judged.st_mtime_ns):
        return False
    return judged_info is None or (info.token, info.pid, info.host) == \
        (judged_info.token, judged_info.pid, judged_info.host)


# --- leftovers of killed workers ---------------------------------------------------------

#: Temporary files of ``locks/`` (a lock being linked, a clock probe) older than this many
#: seconds were left by a killed worker (their creator removes them within milliseconds).
LEFTOVER_AGE = 60.0


def remove_leftovers(directory: str) -> int:
    """Remove what killed workers left in the locks `directory`; return how many files.

    Usage: ``remove_leftovers(os.path.join(jugdir, 'locks'))`` (``jug cleanup``)

    Takeover markers of lock instances that no longer exist (nobody can use them: a
    worker winning one re-reads the lock and finds it changed), and temporary files
    (``.*.new``, ``.clock.*``) older than :data:`LEFTOVER_AGE`.
    """
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    removed = 0
    for name in names:
        path = os.path.join(directory, name)
        if '.lock.takeover.' in name:
            doomed = _marker_is_orphan(path)
        elif name.startswith('.') and (name.endswith('.new') or name.startswith('.clock.')):
            try:
                doomed = fs_now(directory) - os.lstat(path).st_mtime > LEFTOVER_AGE
            except FileNotFoundError:
                continue
        else:
            continue
        if doomed:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed += 1
    return removed


def _marker_is_orphan(marker: str) -> bool:
    """Whether the lock instance that `marker` was made for is gone."""
    lock = marker[:marker.index('.lock.takeover.') + len('.lock')]
    found = read_lock(lock)
    return found is None or not marker.startswith(marker_base(lock, *found) + '.')


# --- refreshing -------------------------------------------------------------------------------

def refresh(path: str, token: str) -> bool:
    """Touch the lock file `path` if it is still ours (holds `token`) and not failed;
    return whether it was touched.

    The file checked is the file touched (through one open file): were the lock taken
    over in between, the old file would be touched, not the new owner's.
    """
    try:
        with open_regular(path) as lock:
            info = parse_lock(lock.read(4096).decode('utf-8', 'replace'))
            if info.token != token or os.fstat(lock.fileno()).st_mtime == FAILED_LOCK_MTIME:
                return False  # lost (taken over while we were frozen), or failed
            if os.utime in os.supports_fd:
                os.utime(lock.fileno())
                return True
    except (FileNotFoundError, NotARegularFileError):
        return False  # released, or replaced by something jug did not write
    try:
        touch(path)  # (no utime of an open file on this platform)
    except FileNotFoundError:
        return False
    return True


def touch(path: str, times: tuple[float, float] | None = None) -> None:
    """``os.utime(path, times)`` of the file itself, never of a symbolic link's target."""
    if os.utime in os.supports_follow_symlinks:
        os.utime(path, times, follow_symlinks=False)
    elif stat_module.S_ISREG(os.lstat(path).st_mode):
        os.utime(path, times)
    else:
        raise OSError(errno.EINVAL, 'not a regular file', path)
