"""Leased redis locks (layer 1): ``lock:<key>`` with an expiry, and their owner tokens.

Our workers take a lock with ``SET lock:key L NX PX <lease>``: the value stays ``L``, so
Jug 2.7 workers see an ordinary held lock, but it *expires*.  While a process holds
locks, its heartbeat thread (:data:`jug.backends.leases.heartbeat`) extends them every few
seconds (``PEXPIRE``, all the locks of one server in one pipeline).  A worker that is
killed or frozen stops refreshing, its lock vanishes when the lease runs out, and the
next ``SET NX`` of any worker takes the task over — exactly one wins, since a redis
command is atomic.  ``lockowner:<key>`` holds the owner token
(:func:`jug.backends.leases.new_token`), with the same expiry; small Lua scripts
(atomic on the server) check it, so that refresh and release touch only our own lock:
a worker frozen past its lease cannot release the lock of the worker that took over.
``fail()`` writes ``F`` without expiry, so failed locks never expire; a lock written by
Jug 2.7 (``L``, no owner, no expiry) is never taken over (``docs/backends.rst``).

Imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import logging

from .base import LOCK_FAILED, LOCK_FREE, LOCK_HELD, as_bytes, base_lock
from .leases import Lease, heartbeat, new_token, token_is_ours

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .redis_store import redis_store

__all__ = ['redis_lock', 'lease_group', 'LOCK', 'OWNER', 'LOCKED', 'FAILED']

# --- layout (compatibility constants) --------------------------------------------------

LOCK = b'lock:'
#: Lock values (Jug 2.7's): held by a running task, or held and failed.
LOCKED = b'L'
FAILED = b'F'
#: Ours, beside Jug's: the owner token of a leased lock.
OWNER = b'lockowner:'

# KEYS[1] = lock:key, KEYS[2] = lockowner:key; ARGV[1] = our token, ARGV[2] = lease in ms.

#: Take the lock if it is free.  Also true if it already holds this very token: the
#: retry of a call whose reply was lost must not turn a success into a failure.
_ACQUIRE = """
if redis.call('SET', KEYS[1], 'L', 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return 1
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  return 1
end
return 0
"""
#: Extend the lock if it is still ours and not failed.
_REFRESH = """
if redis.call('GET', KEYS[2]) == ARGV[1] and redis.call('GET', KEYS[1]) == 'L' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
"""
#: Delete the lock if it is still ours (not taken over after our lease ran out).
_RELEASE = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""
#: L -> F (plain SET: no expiry, failed locks never expire; no owner any more); F stays.
_FAIL = """
local v = redis.call('GET', KEYS[1])
if v == 'F' then
  return 1
end
if v == 'L' then
  redis.call('SET', KEYS[1], 'F')
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""


class redis_lock(base_lock):
    """Lock ``b'lock:' + key`` of a redis store, leased (see the module docstring).

    Usage: ``lock = store.getlock(h)``

    Parameters
    ----------
    store : jug.backends.redis_store.redis_store
        Its ``connection`` carries the commands, its ``lease`` sets new locks' leases.
    name : bytes or str
        ``'foo'`` and ``b'foo'`` are the same lock.
    """

    def __init__(self, store: redis_store, name: bytes | str) -> None:
        self.store = store
        self.connection = store.connection
        key = as_bytes(name)
        self.fullname = LOCK + key
        self.ownername = OWNER + key
        #: How the heartbeat knows this lock: a server and a key.
        self.lease_key = (self.connection.server_id, self.fullname)

    def __repr__(self) -> str:
        return f'redis_lock({self.fullname!r})'

    def _get_value(self) -> Any:
        return self.connection.run(lambda: self.connection.client.get(self.fullname))

    def get(self) -> bool:
        """Take the lock; True only if it was free (a failed lock stays failed).

        The lock expires after the store's lease unless this process's heartbeat
        refreshes it; an expired lock is simply free again.
        """
        token = new_token()
        lease = self.store.lease
        lease_ms = max(1, int(lease.lease_time * 1000))
        acquire = self.connection.script(_ACQUIRE)
        won = self.connection.run(lambda: acquire(keys=[self.fullname, self.ownername],
                                                  args=[token, lease_ms]))
        if not won:
            return False
        client = self.connection.client
        heartbeat.hold(Lease(self.lease_key, token, lease_group(client), _refresh_leases,
                             (client, self.fullname, self.ownername, lease_ms)),
                       lease.heartbeat_interval)
        return True

    def queue_release(self, pipe: Any) -> None:
        """Add the commands of :meth:`release` to the pipeline `pipe` (for a commit
        that stores a result and releases its lock in one transaction); call
        :meth:`forget` once the pipeline has run."""
        token = heartbeat.token(self.lease_key)
        if token is None:
            pipe.delete(self.fullname, self.ownername)
        else:
            pipe.eval(_RELEASE, 2, self.fullname, self.ownername, token)

    def forget(self) -> None:
        """Stop refreshing the lock (it was released by a pipeline of :meth:`queue_release`)."""
        heartbeat.drop(self.lease_key)

    def release(self) -> None:
        """Release the lock (no error if it is not held).

        A lock this process took is deleted only if it is still its own (it may have
        been taken over while this process was frozen for longer than the lease);
        any other lock (Jug 2.7's, a failed one, another worker's) is deleted.
        """
        token = heartbeat.drop(self.lease_key)
        client = self.connection.client
        if token is None:
            self.connection.run(lambda: client.delete(self.fullname, self.ownername))
        else:
            release = self.connection.script(_RELEASE)
            self.connection.run(lambda: release(keys=[self.fullname, self.ownername],
                                                args=[token]))

    def is_locked(self) -> bool:
        """Return whether the lock is held (locked or failed)."""
        return self._get_value() in (LOCKED, FAILED)

    def fail(self) -> bool:
        """Mark a held lock as failed (for good: no expiry); return whether it is failed."""
        heartbeat.drop(self.lease_key)
        fail = self.connection.script(_FAIL)
        return bool(self.connection.run(lambda: fail(keys=[self.fullname, self.ownername])))

    def is_failed(self) -> bool:
        """Return whether the lock is marked as failed."""
        return self._get_value() == FAILED

    def is_stale(self) -> bool:
        """Always False: a lock whose holder stopped refreshing expires by itself."""
        return False

    def holder_state(self) -> str:
        """Return ``LOCK_FREE``, ``LOCK_FAILED`` or ``LOCK_HELD`` (one GET)."""
        value = self._get_value()
        if value == FAILED:
            return LOCK_FAILED
        return LOCK_HELD if value == LOCKED else LOCK_FREE

    def is_held_by_live_worker(self) -> bool:
        """Whether a live worker of ours, other than this process, holds the lock.

        True for a lock ``L`` with an expiry and an owner that is not this process.
        Jug 2.7's locks (no expiry) and failed locks are never known live.
        """
        def run() -> Any:
            pipe = self.connection.client.pipeline(transaction=False)
            pipe.get(self.fullname)
            pipe.pttl(self.fullname)
            pipe.get(self.ownername)
            return pipe.execute()
        value, ttl, owner = self.connection.run(run)
        return (value == LOCKED and ttl is not None and ttl > 0 and owner is not None
                and not token_is_ours(as_bytes(owner).decode('utf-8', 'replace')))


# --- the heartbeat's refresh -------------------------------------------------------------

def lease_group(client: Any) -> tuple[str, int]:
    """The heartbeat group of the locks taken through `client` (refreshed together)."""
    return ('redis', id(client))


class _RefreshState:
    """Whether the last refresh failed (to warn once, not at every beat)."""

    failing = False


def _refresh_leases(leases: list[Lease]) -> None:
    """Refresh the redis locks of one server in one pipeline (the heartbeat's refresh).

    The refresh script checks the owner token and the ``L`` value on the server, so a
    refresh racing with a release or a ``fail()`` cannot resurrect the lock or give a
    failed lock an expiry.
    """
    client = leases[0].target[0]
    pipe = client.pipeline(transaction=False)
    for lease in leases:
        _, fullname, ownername, lease_ms = lease.target
        pipe.eval(_REFRESH, 2, fullname, ownername, lease.token, lease_ms)
    try:
        replies = pipe.execute()
    except Exception as e:  # the server is away: try again next round
        if not _RefreshState.failing:
            logging.warning(f'jug: could not refresh the redis locks of this process ({e}); '
                            'they expire if this lasts longer than their lease')
        _RefreshState.failing = True
        return
    _RefreshState.failing = False
    for lease, ok in zip(leases, replies):
        if not ok and not lease.lost and heartbeat.holds(lease):
            lease.lost = True  # released meanwhile is not lost
            logging.warning(f'jug: the redis lock {lease.target[1].decode()} of this process '
                            'expired (or was taken over) while this process was not '
                            'refreshing it')
