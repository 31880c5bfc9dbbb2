"""Leased redis locks (layer 1): ``lock:<key>`` with an expiry, and their owners.

Our workers take a lock with ``SET lock:key L NX PX <lease>``: the value stays ``L``, so
Jug 2.7 workers see an ordinary held lock, but it *expires*.  While a process holds
locks, its heartbeat helper (:data:`jug.backends.leases.heartbeat`) extends them
(``PEXPIRE``, all the locks of one server in one pipeline).  A worker that is killed or
frozen stops refreshing, its lock vanishes when the lease runs out (by the server's
clock: the clocks of workers do not matter), and the next ``SET NX`` of any worker
takes the task over — exactly one wins, since a redis command is atomic.

``lockowner:<key>`` holds the owner, with the same expiry (``docs/backends.rst``)::

    node17:4242:5f2c0d9e6a1b4c3d 8123456 3e0a1f27:4026531836 120000 20000 1796151473

(the owner token, :func:`jug.backends.leases.new_token`, which names the host and
pid; the holder's process start time; its boot and pid namespace; the lease and the
heartbeat interval in ms; when the lock was taken, in seconds since the epoch, which
owners written before it was added lack).  It serves as for lock files: a holder of this host whose
process is gone is *stale* and taken over at once (:data:`_TAKEOVER`: only if the
owner is still the one judged), not after its lease; a lock whose expiry is overdue by
two intervals is *expiring* (its holder is probably gone; a waiting worker keeps
waiting).  Small Lua scripts (atomic on the server) check the owner, so that refresh,
release, fail and commit (:data:`COMMIT`, used by the store) act only on our own lock:
a worker frozen past its lease neither releases, fails nor overwrites the result of the
worker that took over.  ``fail()`` writes ``F`` without expiry, so failed locks never
expire; a lock written by Jug 2.7 (``L``, no owner, no expiry) is never taken over.

Imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import logging
import time

from .base import LOCK_EXPIRING, LOCK_FAILED, LOCK_FREE, LOCK_HELD, LOCK_STALE, as_bytes, base_lock
from .leases import (Lease, heartbeat, new_token, nodename, own_start_id, pid_alive,
                     process_space_id, process_start_id, token_is_ours)

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .redis_store import redis_store

__all__ = ['redis_lock', 'refresh_leases', 'owner_stale_reason', 'LOCK', 'OWNER', 'LOCKED',
           'FAILED', 'COMMIT', 'COMMITTED']

# --- layout (compatibility constants) --------------------------------------------------

LOCK = b'lock:'
#: Lock values (Jug 2.7's): held by a running task, or held and failed.
LOCKED = b'L'
FAILED = b'F'
#: Ours, beside Jug's: the owner of a leased lock.
OWNER = b'lockowner:'
#: A held lock whose remaining time is short of its lease by more than this many of
#: its holder's intervals is expiring.
OVERDUE_INTERVALS = 2

# KEYS[1] = lock:key, KEYS[2] = lockowner:key; ARGV[1] = our owner value, ARGV[2] =
# lease in ms.

#: Take the lock if it is free.  Also true if it already holds this very owner: the
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
#: Take a stale lock over: only if it is still held by the owner judged gone (ARGV[3]).
_TAKEOVER = """
if redis.call('GET', KEYS[1]) == 'L' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('SET', KEYS[1], 'L', 'PX', ARGV[2])
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return 1
end
return redis.call('GET', KEYS[2]) == ARGV[1] and 1 or 0
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
#: Delete the lock if it is still held by the owner ARGV[1].
_RELEASE = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""
#: Delete a lock without owner nor expiry (Jug 2.7's, or a failed one) if its value is
#: still ARGV[1]: not one that another worker took meanwhile.
_REMOVE_UNOWNED = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('EXISTS', KEYS[2]) == 0
    and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
#: L -> F (plain SET: no expiry, failed locks never expire; no owner any more); F stays.
#: With an owner (ARGV[1] not empty), only if the lock is still held by it.
_FAIL = """
local v = redis.call('GET', KEYS[1])
if v == 'F' then
  return 1
end
if v == 'L' and (ARGV[1] == '' or redis.call('GET', KEYS[2]) == ARGV[1]) then
  redis.call('SET', KEYS[1], 'F')
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""
#: The commit of a task (:meth:`jug.backends.redis_store.redis_store.commit`): KEYS =
#: result, record, failure mark, lock, owner, commit receipt; ARGV[1] = the encoded
#: result, ARGV[2] = the record, ARGV[3] = '1' if there is a record, ARGV[4] = the owner
#: ('': a lock this process does not hold, deleted whoever holds it, as Jug 2.7 does).
#: Returns 0, storing nothing, if the lock is not held by that owner any more.  The
#: receipt (the owner, for a minute) makes a retry after a lost reply return 1.
COMMIT = """
if ARGV[4] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[4] then
  if redis.call('GET', KEYS[6]) == ARGV[4] then
    return 1
  end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[3] == '1' then
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[6], ARGV[4], 'PX', 60000)
end
return 1
"""
#: Ours: the receipt of a commit (see COMMIT).
COMMITTED = b'committed:'


# --- owners ------------------------------------------------------------------------------

def owner_value(token: str, lease_ms: int, interval_ms: int) -> str:
    """The ``lockowner:`` value of a lock this process takes (module docstring)."""
    return (f'{token} {own_start_id()} {process_space_id()} {lease_ms} {interval_ms} '
            f'{int(time.time())}')


def _host_and_pid(token: str) -> tuple[str | None, int | None]:
    """``(host, pid)`` of an owner token ``host:pid:random`` (None, None if garbled)."""
    host, _, pid_text = token.rpartition(':')[0].rpartition(':')
    return (host, int(pid_text)) if pid_text.isdigit() else (None, None)


def _owner_holder(owner: bytes | None) -> dict:
    """``host``, ``pid`` and ``since`` (None when unknown) of a ``lockowner:`` value."""
    words = [] if owner is None else owner.decode('utf-8', 'replace').split()
    host, pid = _host_and_pid(words[0]) if words else (None, None)
    since = float(words[5]) if len(words) >= 6 and words[5].isdigit() else None
    return {'host': host, 'pid': pid, 'since': since}


def owner_stale_reason(owner: bytes | str | None) -> str | None:
    """Why the lock held by `owner` (a ``lockowner:`` value) is stale, or None.

    Stale: its holder ran on this host (same boot and pid namespace) and is gone, or
    its pid belongs to another process now.  Anything else lives until its lease runs
    out (then the server removes it).
    """
    if owner is None:
        return None
    words = as_bytes(owner).decode('utf-8', 'replace').split()
    if len(words) < 3 or words[2] != process_space_id():
        return None
    host, pid = _host_and_pid(words[0])
    if host != nodename() or pid is None:
        return None
    if not pid_alive(pid):
        return f'process {pid} on {host} is gone'
    if words[1] != '-' and process_start_id(pid) not in (None, words[1]):
        return f'process {pid} on {host} is gone (its pid was reused)'
    return None


def _is_expiring(owner: bytes | None, ttl: int | None) -> bool:
    """Whether a held lock's refreshes are overdue (from its owner and remaining ms)."""
    if owner is None or ttl is None or ttl < 0:
        return False
    words = owner.split()
    try:
        lease_ms, interval_ms = int(words[3]), int(words[4])
    except (IndexError, ValueError):
        return False
    return ttl < lease_ms - OVERDUE_INTERVALS * interval_ms


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
        #: How the heartbeat knows this lock: a server, a database and a key.
        self.lease_key = f'redis {self.connection.server_id!r} {key.decode("latin-1")}'

    def __repr__(self) -> str:
        return f'redis_lock({self.fullname!r})'

    def _run_script(self, text: str, *args: Any) -> Any:
        script = self.connection.script(text)
        return self.connection.run(lambda: script(keys=[self.fullname, self.ownername],
                                                  args=list(args)))

    def _look(self) -> tuple[Any, Any, Any]:
        """``(value, remaining ms, owner)`` of the lock, in one round trip."""
        def run() -> Any:
            pipe = self.connection.client.pipeline(transaction=False)
            pipe.get(self.fullname)
            pipe.pttl(self.fullname)
            pipe.get(self.ownername)
            return pipe.execute()
        value, ttl, owner = self.connection.run(run)
        return value, ttl, owner

    def owner(self) -> str | None:
        """The owner value this process wrote, if it holds the lock (else None)."""
        return heartbeat.token(self.lease_key)

    def get(self) -> bool:
        """Take the lock; True if it was free or stale (a failed lock stays failed).

        The lock expires after the store's lease unless this process's heartbeat
        refreshes it; an expired lock is simply free again.
        """
        lease = self.store.lease
        lease_ms = max(1, int(lease.lease_time * 1000))
        owner = owner_value(new_token(), lease_ms, max(1, int(lease.heartbeat_interval * 1000)))
        if not self._run_script(_ACQUIRE, owner, lease_ms) and not self._take_over(owner, lease_ms):
            return False
        try:
            heartbeat.hold(Lease(self.lease_key, owner, 'redis',
                                 {'url': self.connection.url,
                                  'lock': self.fullname.decode('latin-1'),
                                  'owner': self.ownername.decode('latin-1'),
                                  'lease_ms': lease_ms}),
                           lease.heartbeat_interval)
        except BaseException:  # e.g. Ctrl-C while starting the heartbeat helper
            heartbeat.drop(self.lease_key)
            self._run_script(_RELEASE, owner)
            raise
        return True

    def _take_over(self, owner: str, lease_ms: int) -> bool:
        value, _, judged = self._look()
        reason = owner_stale_reason(judged) if value == LOCKED else None
        if reason is None or not self._run_script(_TAKEOVER, owner, lease_ms, judged):
            return False
        logging.warning(f'Took over the stale lock {self.fullname.decode("latin-1")}: '
                        f'{reason}.')
        return True

    def forget(self) -> None:
        """Stop refreshing the lock (it was removed by the store's commit)."""
        heartbeat.drop(self.lease_key)

    def release(self) -> None:
        """Release the lock (no error if it is not held).

        A lock this process took is deleted only if it is still its own (it may have
        been taken over while this process was frozen for longer than the lease);
        any other lock (Jug 2.7's, a failed one, another worker's) is deleted.
        """
        owner = heartbeat.drop(self.lease_key)
        if owner is None:
            client = self.connection.client
            self.connection.run(lambda: client.delete(self.fullname, self.ownername))
        else:
            self._run_script(_RELEASE, owner)

    def is_locked(self) -> bool:
        """Return whether the lock is held (locked or failed)."""
        value = self.connection.run(lambda: self.connection.client.get(self.fullname))
        return value in (LOCKED, FAILED)

    def fail(self) -> bool:
        """Mark a held lock as failed (for good: no expiry); return whether it is failed.

        A lock this process took is marked only if it is still its own."""
        owner = heartbeat.drop(self.lease_key, wait=True)  # no late refresh may follow
        return bool(self._run_script(_FAIL, owner or ''))

    def is_failed(self) -> bool:
        """Return whether the lock is marked as failed."""
        value = self.connection.run(lambda: self.connection.client.get(self.fullname))
        return value == FAILED

    def is_stale(self) -> bool:
        """Whether the lock's holder is a process of this host that is gone (a lock
        whose holder stopped refreshing it expires by itself)."""
        value, _, owner = self._look()
        return value == LOCKED and owner_stale_reason(owner) is not None

    def holder_state(self) -> str:
        """Return ``LOCK_FREE``, ``LOCK_FAILED``, ``LOCK_STALE``, ``LOCK_EXPIRING`` or
        ``LOCK_HELD`` (one round trip)."""
        return self.holder_look()[0]

    def holder_look(self) -> tuple[str, float | None]:
        """Return ``(holder_state(), deadline)`` (see ``base_lock.holder_look``; here,
        when the server expires the lock), in one round trip."""
        return self._judge(*self._look())

    def _judge(self, value: Any, ttl: Any, owner: Any) -> tuple[str, float | None]:
        """``holder_look()`` of a lock seen as ``(value, remaining ms, owner)``."""
        if value == FAILED:
            return LOCK_FAILED, None
        if value != LOCKED:
            return LOCK_FREE, None
        if owner_stale_reason(owner) is not None:
            return LOCK_STALE, None
        state = LOCK_EXPIRING if _is_expiring(owner, ttl) else LOCK_HELD
        if ttl is None or ttl < 0 or owner is None or self._is_ours(owner):
            return state, None  # Jug 2.7's lock (no expiry), or held by this very process
        return state, time.monotonic() + ttl / 1000

    def holder(self) -> dict | None:
        """Who holds the lock (see ``base_lock.holder``), in one round trip."""
        value, ttl, owner = self._look()
        state = self._judge(value, ttl, owner)[0]
        return None if state == LOCK_FREE else {'state': state, **_owner_holder(owner)}

    def is_held_by_live_worker(self) -> bool:
        """Whether a live worker of ours, other than this process, holds the lock.

        True for a lock ``L`` with an expiry and an owner that is neither this process
        nor a gone process of this host.  Jug 2.7's locks (no expiry) and failed locks
        are never known live.
        """
        value, ttl, owner = self._look()
        return self._live(value, ttl, owner)

    @staticmethod
    def _is_ours(owner: bytes) -> bool:
        """Whether the owner value `owner` names this very process."""
        words = as_bytes(owner).decode('utf-8', 'replace').split()
        return bool(words) and token_is_ours(words[0])

    @staticmethod
    def _live(value: Any, ttl: Any, owner: Any) -> bool:
        return (value == LOCKED and ttl is not None and ttl > 0 and owner is not None
                and not redis_lock._is_ours(owner) and owner_stale_reason(owner) is None)

    def remove_unless_live(self) -> bool:
        """Remove the lock unless a live worker holds it; return whether it was removed.

        A leased lock is removed only if its owner is still the one judged, so that a
        worker taking it over at that moment keeps it.
        """
        value, ttl, owner = self._look()
        if value is None or self._live(value, ttl, owner):
            return False
        heartbeat.drop(self.lease_key)  # in case this very process held it
        if owner is None:
            return bool(self._run_script(_REMOVE_UNOWNED, value))
        return bool(self._run_script(_RELEASE, owner))

    def remove_if_failed(self) -> bool:
        """Remove the lock if it is marked failed; return whether it was removed (only
        the failed lock: not one that another worker took meanwhile)."""
        return bool(self._run_script(_REMOVE_UNOWNED, FAILED))


# --- the heartbeat's refresh -------------------------------------------------------------

class _RefreshState:
    """Whether the last refresh failed (to warn once, not at every beat)."""

    failing = False


def refresh_leases(client: Any, leases: list) -> None:
    """Refresh the redis locks of one server in one pipeline (the heartbeat helper's
    refresh; `leases` are the dicts of :meth:`jug.backends.leases.Lease.message`).

    The refresh script checks the owner and the ``L`` value on the server, so a refresh
    racing with a release or a ``fail()`` cannot resurrect the lock or give a failed
    lock an expiry.
    """
    pipe = client.pipeline(transaction=False)
    for lease in leases:
        params = lease['params']
        pipe.eval(_REFRESH, 2, params['lock'].encode('latin-1'),
                  params['owner'].encode('latin-1'), lease['token'], params['lease_ms'])
    try:
        pipe.execute()
    except Exception as e:  # the server is away: try again next round
        if not _RefreshState.failing:
            logging.warning(f'jug: could not refresh the redis locks of this process ({e}); '
                            'they expire if this lasts longer than their lease')
        _RefreshState.failing = True
        return
    _RefreshState.failing = False
