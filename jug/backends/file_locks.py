"""The file store's locks (layer 1): :class:`file_based_lock` and its keepalive variant.

A lock is a file ``<jugdir>/locks/<key>.lock``; its format, its creation, when it is
stale and how it is taken over are :mod:`jug.backends.lockfiles`' (``docs/backends.rst``,
"Locks").  While this process holds a lock, the heartbeat (:data:`jug.backends.leases.
heartbeat`) refreshes it.

The holder's last acts — committing a result, releasing, marking failed — happen
*fenced* (:meth:`file_based_lock.fenced`): only after checking that the lock is still
this process's, and while holding the marker of that lock instance, which a worker
taking the lock over must hold too.  So a worker that lost its lock (it was frozen or
starved beyond its lease, and another took over) never commits, releases or marks the
new owner's lock.

Also :class:`file_keepalive_based_lock` (``file_keepalive:<dir>``), refreshed by a helper
process of its own (:mod:`jug.backends.file_keepalive_monitor`) instead.

Imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time

from .base import LOCK_EXPIRING, LOCK_FAILED, LOCK_FREE, LOCK_HELD, LOCK_STALE, base_lock
from .leases import DEFAULT_LEASE, Lease, LeaseSettings, heartbeat, new_token, nodename
from .lockfiles import (FAILED_LOCK_MTIME, create_lock, drop_marker, fs_now, is_expiring,
                        lease_marker_timeout, lock_text, read_lock, stale_reason, take_over,
                        token_marker_base, touch, win_named_marker)

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import Iterator

    from .lockfiles import LockInfo

__all__ = ['file_based_lock', 'file_keepalive_based_lock', 'LockLost', 'FAILED_LOCK_MTIME',
           'KEEPALIVE_FAILED_AGE']

#: A keepalive lock not touched for this many seconds counts as failed (its worker died).
KEEPALIVE_FAILED_AGE = 30 * 60
#: First and longest pause while another worker holds the marker of our lock (seconds).
MARKER_POLL = 0.005
MAX_MARKER_POLL = 0.2


class LockLost(Exception):
    """This process no longer holds the lock: another worker took it over."""


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
    ``get()`` creates the file atomically with its content (Jug's two lines — pid and
    host, creation time — and a lease line); a stale lock is taken over, by one worker
    only.  ``fail()`` marks the lock by setting its mtime to :data:`FAILED_LOCK_MTIME`.
    """

    def __init__(self, jugdir: str, name: bytes | str, lease: LeaseSettings | None = None) -> None:
        if isinstance(name, bytes):
            name = name.decode('utf-8')
        self.fullname = os.path.join(jugdir, 'locks', name + '.lock')
        self.lease = DEFAULT_LEASE if lease is None else lease

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.fullname})'

    def _now(self) -> float:
        """The filesystem's time (ages of lock files are measured with it)."""
        return fs_now(os.path.dirname(self.fullname))

    def get(self) -> bool:
        """Try to take the lock; True if taken, False if a live holder has it.

        A stale lock (see :meth:`stale_reason`) is taken over.  Other OS errors (e.g. a
        read-only locks directory) propagate.
        """
        token = new_token()
        content = lock_text(self.lease, token)
        try:
            try:
                created = create_lock(self.fullname, content)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(self.fullname), exist_ok=True)
                created = create_lock(self.fullname, content)
            if not created and not self._take_over_if_stale(content):
                return False
            # an absolute path: the helper's working directory is not ours
            heartbeat.hold(Lease(self.fullname, token, 'file',
                                 {'path': os.path.abspath(self.fullname)}),
                           self.lease.heartbeat_interval)
        except BaseException:  # e.g. Ctrl-C while starting the heartbeat helper
            self._discard_if_ours(token)
            raise
        return True

    def _discard_if_ours(self, token: str) -> None:
        """Remove the lock if it carries `token` (taken by a ``get`` that then failed)."""
        heartbeat.drop(self.fullname)
        found = read_lock(self.fullname)
        if found is not None and found[1].token == token:
            try:
                os.unlink(self.fullname)
            except FileNotFoundError:
                pass

    def _take_over_if_stale(self, content: bytes) -> bool:
        found = read_lock(self.fullname)
        if found is None:
            return False
        reason = stale_reason(*found, now=self._now())
        if reason is None or not take_over(self.fullname, found[0], content, found[1]):
            return False
        logging.warning(f'Took over the stale lock {self.fullname}: {reason}.')
        return True

    @contextlib.contextmanager
    def fenced(self) -> Iterator[None]:
        """Run the block as this lock's holder, excluding any takeover of it.

        Usage: ``with lock.fenced(): publish(); remove_lock()``

        Checks that the lock file still carries this process's token, takes the marker
        of that lock instance (as a takeover would; while another worker holds it, waits
        for it to finish), checks again, runs the block and drops the marker.  A lock
        this process does not hold (no lease of ours) is not checked: the block runs as
        is (Jug 2.7's semantics).

        Raises
        ------
        LockLost
            If another worker holds the lock now (this process stops refreshing it).
        """
        token = heartbeat.token(self.fullname)
        if token is None:
            yield
            return
        try:
            marker = self._win_own_marker(token)
            try:
                self._check_own(token)
            except BaseException:  # lost, or interrupted (Ctrl-C, SIGTERM, an I/O error)
                drop_marker(marker)
                raise
        except LockLost:
            heartbeat.drop(self.fullname)  # not ours any more: never refresh it again
            raise
        try:
            yield
        finally:
            drop_marker(marker)

    def _win_own_marker(self, token: str) -> str:
        """Take the marker of our lock instance (named after our token); wait while
        another worker holds it (it is judging or taking the lock over: it gives up
        within milliseconds if the lock was refreshed, or an abandoned marker times
        out), unless the lock is not ours any more."""
        base = token_marker_base(self.fullname, token)
        timeout = lease_marker_timeout(self.lease.lease_time)
        give_up = time.monotonic() + 2 * timeout  # (only if every generation is taken)
        pause = MARKER_POLL
        while True:
            marker = win_named_marker(self.fullname, base, timeout)
            if marker is not None:
                return marker
            self._check_own(token)
            if time.monotonic() > give_up:
                raise LockLost(f'the markers of the lock {self.fullname} are all taken')
            time.sleep(pause)
            pause = min(2 * pause, MAX_MARKER_POLL)

    def _check_own(self, token: str) -> None:
        found = read_lock(self.fullname)
        if found is None or found[1].token != token:
            raise LockLost(f'the lock {self.fullname} was taken over by another worker')

    def remove(self) -> None:
        """Remove the lock file and stop refreshing it (call it inside :meth:`fenced`)."""
        heartbeat.drop(self.fullname)
        try:
            os.unlink(self.fullname)
        except FileNotFoundError:
            pass

    def release(self) -> None:
        """Remove the lock file (no error if it is gone or cannot be removed).

        A lock this process took is removed only if it is still its own (it may have
        been taken over while this process was frozen for longer than the lease).  A
        lock that cannot be removed (e.g. the jugdir became read-only) is left with a
        warning: it becomes stale once this process is gone.
        """
        try:
            with self.fenced():
                self.remove()
        except LockLost as e:
            logging.warning(f'jug: {e} while this one held it; it is left to that worker.')
        except OSError as e:  # as in Jug 2.7, release ignores OSError (it runs in finally)
            heartbeat.drop(self.fullname)
            logging.warning(f'jug: could not remove the lock file {self.fullname}: '
                            f'{e.strerror}')

    def is_locked(self) -> bool:
        """Return whether the lock file exists."""
        return os.path.exists(self.fullname)

    def fail(self) -> bool:
        """Mark the lock as failed; return False if there is no lock file (or it is
        another worker's now)."""
        if not self.is_locked():
            return False
        try:
            with self.fenced():
                heartbeat.drop(self.fullname, wait=True)  # no late refresh may undo it
                touch(self.fullname, (FAILED_LOCK_MTIME, FAILED_LOCK_MTIME))
        except LockLost as e:
            logging.warning(f'jug: {e} while this one held it; it is not marked failed.')
            return False
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
        return None if found is None else stale_reason(*found, now=self._now())

    def is_stale(self) -> bool:
        """Return whether the lock exists and its holder is gone (see stale_reason)."""
        return self.stale_reason() is not None

    def holder_state(self) -> str:
        """Return ``LOCK_FREE``, ``LOCK_FAILED``, ``LOCK_STALE``, ``LOCK_EXPIRING`` or
        ``LOCK_HELD`` (one read of the lock file)."""
        return self.holder_look()[0]

    def holder_look(self) -> tuple[str, float | None]:
        """Return ``(holder_state(), deadline)`` (see ``base_lock.holder_look``), from
        one read of the lock file."""
        found = read_lock(self.fullname)
        if found is None:
            return LOCK_FREE, None
        return self._judge(*found)

    def _judge(self, stat: os.stat_result, info: LockInfo) -> tuple[str, float | None]:
        """``holder_look()`` of a lock file read as ``(stat, info)``."""
        if stat.st_mtime == FAILED_LOCK_MTIME and info.regular:
            return LOCK_FAILED, None
        now = self._now()
        if stale_reason(stat, info, now) is not None:
            return LOCK_STALE, None
        state = LOCK_EXPIRING if is_expiring(stat, info, now) else LOCK_HELD
        if info.lease_time is None or (info.pid == os.getpid() and info.host == nodename()):
            return state, None  # no lease (Jug 2.7's), or held by this very process
        return state, time.monotonic() + info.lease_time - (now - stat.st_mtime)

    def holder(self) -> dict | None:
        """Who holds the lock (see ``base_lock.holder``), from one read of its file."""
        found = read_lock(self.fullname)
        if found is None:
            return None
        stat, info = found
        return {'state': self._judge(stat, info)[0], 'host': info.host, 'pid': info.pid,
                'since': info.created()}

    def is_held_by_live_worker(self) -> bool:
        """Whether a live worker, other than this process, may hold the lock.

        True for a lock of ours that is neither failed nor stale and was not written by
        this process, and for an empty lock still in its grace period (a worker between
        creating and writing it).  Jug 2.7's locks (no lease) are never known live.
        """
        found = read_lock(self.fullname)
        if found is None:
            return False
        stat, info = found
        if stat.st_mtime == FAILED_LOCK_MTIME or not info.regular:
            return False
        if info.lease_time is None and not info.is_empty():
            return False
        if info.pid == os.getpid() and info.host == nodename():
            return False
        return stale_reason(stat, info, self._now()) is None

    def remove_unless_live(self) -> bool:
        """Remove the lock unless a live worker holds it; return whether it was removed.

        Goes through the takeover protocol (:func:`jug.backends.lockfiles.take_over`),
        so that a worker taking the lock over at the same moment keeps it.
        """
        found = read_lock(self.fullname)
        if found is None or self.is_held_by_live_worker():
            return False
        heartbeat.drop(self.fullname)  # in case this very process held it
        return take_over(self.fullname, found[0], None, found[1])

    def remove_if_failed(self) -> bool:
        """Remove the lock if it is marked failed; return whether it was removed (by
        the takeover protocol: only the very failed lock that was seen)."""
        found = read_lock(self.fullname)
        if found is None or found[0].st_mtime != FAILED_LOCK_MTIME or not found[1].regular:
            return False
        return take_over(self.fullname, found[0], None, found[1])


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

        from .subprocesses import module_command
        self.monitor = subprocess.Popen(
            module_command('jug.backends.file_keepalive_monitor', self.fullname),
            stdin=subprocess.DEVNULL)
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
