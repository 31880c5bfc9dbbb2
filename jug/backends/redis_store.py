"""Redis store (layer 1): results and locks as keys of a redis server (``--jugdir redis:``).

Owns the redis layout, shared with Jug 2.7 workers (SPEC §3.6):

* ``b'result:' + key`` — ``base64(encode(obj))``, or ``b''`` for None;
* ``b'lock:' + key`` — ``b'L'`` (held) or ``b'F'`` (held and failed);

and, beside it (Jug 2.7 never reads these keys; DESIGN.md "Extending without breaking"):

* ``b'lockowner:' + key`` — the token of the process holding ``lock:key`` (our locks
  only), with the same expiry as the lock;
* ``b'record:' + key`` — the run record of ``key`` (:mod:`jug.records`), compact JSON;
* ``b'failure:' + key`` — a copy of that record while the task's last run failed (its
  *failure mark*, read by workers about to run the task; ``commit`` deletes it).

Leased locks.  Our workers take a lock with ``SET lock:key L NX PX <lease>``: the value
stays ``L``, so Jug 2.7 workers see an ordinary held lock, but it *expires*.  While a
process holds locks, one background thread of that process (:data:`heartbeat`; no
extra process) extends them every few seconds (``PEXPIRE``).  A worker that is killed
or frozen stops refreshing, its lock vanishes when the lease runs out, and the next
``SET NX`` of any worker takes the task over — exactly one wins, since a redis command
is atomic.  The owner token makes refresh and release touch only our own lock (small
Lua scripts, atomic on the server): a worker frozen past its lease cannot release the
lock of the worker that took over.  ``fail()`` writes ``F`` without expiry, so failed
locks never expire; a lock written by Jug 2.7 (``L``, no owner, no expiry) is never
taken over.

Faults.  Constructing a store does not connect.  If the server cannot be reached on
first use, a :class:`jug.errors.StoreError` naming the URL and the reason is raised at
once.  Once contacted, an operation that loses the connection (server restarting, a
network hiccup) is retried with exponential backoff for at most ``retry_time`` seconds
(:data:`DEFAULT_RETRY_TIME`, ``JUG_REDIS_RETRY_SECONDS``), then raises ``StoreError``.
Every write is one atomic command or one ``MULTI``/``EXEC`` transaction, so a retried
write never leaves a half-written result.

Cost.  Each operation is one round trip (``commit`` stores a result and its record
and releases its lock in one); listings use ``SCAN`` in batches (never ``KEYS``, which
blocks the server), deletions are batched in pipelines.

The ``redis`` package is imported lazily, on first use: ``import jug.backends`` must
stay cheap.  The module still exposes the attributes ``redis`` (the package, or None
when it is not installed) and ``redis_functional`` (whether it imported), computed on
first access (PEP 562 module ``__getattr__``); tests may monkeypatch either.

Must not import ``jug.task`` or anything above layer 1.
"""
from __future__ import annotations

import logging
import os
import re
import time

from ..errors import MissingPackageError, StoreError
from .base import (LOCK_FAILED, LOCK_FREE, LOCK_HELD, STATUS_FAILED, as_bytes, base_lock,
                   base_store, encode_record, parse_record)
from .encode import decode, encode
from .leases import DEFAULT_LEASE, PeriodicRefresher, nodename

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterator, TypeVar
    from .leases import LeaseSettings
    T = TypeVar('T')

__all__ = ['redis_store', 'redis_lock', 'parse_url', 'DEFAULT_RETRY_TIME']

# --- layout (compatibility constants) --------------------------------------------------

_RESULT = b'result:'
_LOCK = b'lock:'
#: Lock values (Jug 2.7's): held by a running task, or held and failed.
_LOCKED = b'L'
_FAILED = b'F'
#: Our keys beside Jug's: the owner token of a leased lock, and run records.
_OWNER = b'lockowner:'
_RECORD = b'record:'
_FAILURE = b'failure:'

# --- URLs --------------------------------------------------------------------------------

#: ``redis://[[USER]:PASSWORD@]HOST[:PORT][/[DB]]``.  Jug 2.7 accepts
#: ``redis://HOST[:PORT][/]`` and ignores what follows; the credentials and the database
#: number are our extension.  Host characters are Jug's.
_URL_PATTERN = re.compile(
    r'redis://'
    r'(?:(?P<username>[^:@/]*):(?P<password>[^@/]*)@)?'
    r'(?P<host>[A-Za-z0-9.\-]+)'
    r'(?::(?P<port>[0-9]+))?'
    r'(?:/(?P<db>[0-9]+)(?=$|[/?#]))?')
_DEFAULT_HOST = 'localhost'
_DEFAULT_PORT = 6379

# --- tuning ------------------------------------------------------------------------------

#: Seconds an operation keeps retrying after losing the connection to a server it had
#: reached, before raising StoreError (overridden by ``JUG_REDIS_RETRY_SECONDS`` or the
#: ``retry_time`` argument).  A restart of a server with a large dataset takes minutes.
DEFAULT_RETRY_TIME = 180.0
#: Environment variable overriding DEFAULT_RETRY_TIME.
RETRY_ENV = 'JUG_REDIS_RETRY_SECONDS'
#: First and longest wait between two attempts (the wait doubles each time).
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 2.0
#: Seconds to wait for a TCP connection, and for a reply (a big result takes a while).
_CONNECT_TIMEOUT = 10.0
_SOCKET_TIMEOUT = 120.0
#: Keys asked for per SCAN call (one round trip each; the server is busy ~1 ms).
_SCAN_COUNT = 5000
#: Keys deleted per pipeline (one round trip; one DEL each, to know which existed).
_PIPELINE_NAMES = 10_000

# --- server-side scripts (atomic) ----------------------------------------------------------
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


# --- the redis package, imported lazily --------------------------------------------------

def _import_redis() -> None:
    """Import the redis package (once) and set the module attributes from it."""
    g = globals()
    if 'redis' not in g:
        try:
            import redis as module
        except ImportError:
            module = None
        g['redis'] = module
    g.setdefault('redis_functional', g['redis'] is not None)


def __getattr__(name):
    if name in ('redis', 'redis_functional'):
        _import_redis()
        return globals()[name]
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


class RedisMissingError(MissingPackageError, OSError):
    """The ``redis`` package is not installed (an ``OSError``, as in Jug 2.7)."""


def _redis_module():
    _import_redis()
    return globals()['redis']


def _no_retry():
    """redis-py's retry policy for our clients: none (we retry, with our own bound)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    return Retry(NoBackoff(), 0)


def _backoff_sleep(seconds: float) -> None:
    """Wait between two attempts (a module function so that tests can observe it)."""
    time.sleep(seconds)


# --- URLs --------------------------------------------------------------------------------

def parse_url(url: str) -> dict:
    """Return the connection arguments named by a ``redis:`` jugdir.

    Usage: ``parse_url('redis://:secret@dbhost:6379/2')``

    Parameters
    ----------
    url : str
        ``redis://[[USER]:PASSWORD@]HOST[:PORT][/[DB]]``.  As in Jug 2.7, anything after
        the recognised part is ignored and a string that does not match at all (e.g.
        ``'redis:'``) means redis' defaults (localhost:6379).  USER and PASSWORD may be
        percent-encoded.

    Returns
    -------
    dict
        Keys ``host``, ``port``, ``db``, ``username``, ``password`` (the last two None
        when absent).

    Raises
    ------
    jug.errors.StoreError
        For a URL with an ``@`` whose credentials cannot be read (Jug 2.7 would have
        taken the user name for the host name).
    """
    from urllib.parse import unquote  # lazy: only redis jugdirs need it
    args = {'host': _DEFAULT_HOST, 'port': _DEFAULT_PORT, 'db': 0,
            'username': None, 'password': None}
    match = _URL_PATTERN.match(url)
    authority = url[len('redis://'):].split('/', 1)[0] if url.startswith('redis://') else ''
    if '@' in authority and (match is None or match.group('password') is None
                             or authority.count('@') > 1):
        raise StoreError(f'Cannot read the redis URL {_masked(url)!r}: expected '
                         'redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]')
    if match is None:
        return args
    args['host'] = match.group('host')
    if match.group('port'):
        args['port'] = int(match.group('port'))
    if match.group('db'):
        args['db'] = int(match.group('db'))
    if match.group('password') is not None:
        args['username'] = unquote(match.group('username')) or None
        args['password'] = unquote(match.group('password'))
    return args


def _masked(url: str) -> str:
    """`url` with its password (if any) replaced by ``***``, for messages."""
    return re.sub(r'^(redis://[^:@/]*:)[^@/]*@', r'\1***@', url)


def _retry_time_from_env() -> float:
    value = os.environ.get(RETRY_ENV)
    if value is None or not value.strip():
        return DEFAULT_RETRY_TIME
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also rejects nan
        raise StoreError(f'{RETRY_ENV} must be a number of seconds >= 0 (it is {value!r})')
    return seconds


# --- the store -----------------------------------------------------------------------------

class redis_store(base_store):
    """Store results, locks and run records in a redis database.

    Usage: ``store = redis_store('redis://dbhost:6379/')``

    Parameters
    ----------
    url : str
        ``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`` (see :func:`parse_url`); anything
        else (e.g. ``'redis:'``) connects to redis' defaults (localhost:6379, db 0).
        Constructing does not connect.
    retry_time : float, optional
        Seconds an operation retries after losing the connection to the server before
        it raises :class:`jug.errors.StoreError`.  Default: ``JUG_REDIS_RETRY_SECONDS``
        if set, else :data:`DEFAULT_RETRY_TIME`.

    Raises
    ------
    OSError
        If the ``redis`` package is not installed (a
        :class:`jug.errors.MissingPackageError` too).
    jug.errors.StoreError
        If `url` has unreadable credentials or ``JUG_REDIS_RETRY_SECONDS`` is invalid.

    Notes
    -----
    Beyond the store contract: :meth:`commit` (result, record and lock release in one
    round trip), :meth:`set_lease`, and run records (``save_record`` and friends).
    """

    def __init__(self, url, retry_time: float | None = None):
        redis = _redis_module()
        if redis is None:
            raise RedisMissingError('redis', f'The redis store ({_masked(url)})', extra='redis')
        args = parse_url(url)
        self.url = url
        self.retry_time = _retry_time_from_env() if retry_time is None else float(retry_time)
        self.lease = DEFAULT_LEASE
        #: (host, port, db): locks of one process on one database are one lock.
        self._server_id = (args['host'], args['port'], args['db'])
        self.redis = redis.Redis(socket_connect_timeout=_CONNECT_TIMEOUT,
                                 socket_timeout=_SOCKET_TIMEOUT, retry=_no_retry(), **args)
        self._scripts = None
        self._contacted = False   # whether an operation ever reached the server
        self._gave_up = False     # the last operation exhausted its retries
        self._retries = 0         # reconnections so far (a SCAN restarts after one)

    def __repr__(self):
        return f'redis_store({_masked(self.url)})'

    # running commands ------------------------------------------------------------------
    def _do(self, operation: Callable[[], T]) -> T:
        """Run `operation` (one round trip), retrying it if the connection is lost.

        Before the server was first reached, and after a previous operation gave up,
        a connection error raises at once; otherwise the operation is retried with
        exponential backoff for at most ``retry_time`` seconds.  Errors are raised as
        :class:`jug.errors.StoreError` naming the server and the reason.
        """
        import redis.exceptions as errors  # the real package's (cheap: already imported)
        deadline = None
        delay = _FIRST_BACKOFF
        while True:
            try:
                result = operation()
            except errors.AuthenticationError as e:
                raise StoreError(f'Cannot authenticate to the redis server at '
                                 f'{_masked(self.url)}: {e}') from e
            except (errors.ConnectionError, errors.TimeoutError) as e:
                loading = isinstance(e, errors.BusyLoadingError)  # up, reading its data
                if not loading and (not self._contacted or self._gave_up):
                    raise StoreError(f'Cannot connect to the redis server at '
                                     f'{_masked(self.url)}: {e}') from e
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.retry_time
                    logging.warning(f'jug: lost the connection to the redis server at '
                                    f'{_masked(self.url)} ({e}); retrying for up to '
                                    f'{self.retry_time:g} s')
                if now >= deadline:
                    self._gave_up = True
                    raise StoreError(f'Lost the connection to the redis server at '
                                     f'{_masked(self.url)} and could not reconnect within '
                                     f'{self.retry_time:g} s ({RETRY_ENV}): {e}') from e
                self._retries += 1
                _backoff_sleep(min(delay, deadline - now))
                delay = min(2 * delay, _MAX_BACKOFF)
                continue
            except errors.RedisError as e:
                raise StoreError(f'The redis server at {_masked(self.url)} returned an '
                                 f'error: {e}') from e
            self._contacted = True
            self._gave_up = False
            return result

    def _script(self, name: str):
        """The registered script `name` (EVALSHA; reloaded by redis-py if unknown)."""
        if self._scripts is None:
            self._scripts = {n: self.redis.register_script(text) for n, text in (
                ('acquire', _ACQUIRE), ('release', _RELEASE), ('fail', _FAIL))}
        return self._scripts[name]

    def _scan(self, prefix: bytes) -> Iterator[bytes]:
        """Yield, once each, every key starting with `prefix`, with the prefix stripped.

        SCAN in batches of :data:`_SCAN_COUNT` (never KEYS, which blocks the server for
        the whole keyspace).  SCAN may return a key twice (and its cursor means nothing
        to a restarted server): keys are deduplicated, and the scan starts over after a
        reconnection.
        """
        pattern = prefix + b'*'
        seen = set()
        cursor = 0
        while True:
            retries = self._retries
            cursor, keys = self._do(
                lambda: self.redis.scan(cursor, match=pattern, count=_SCAN_COUNT))
            if self._retries != retries:
                cursor = 0  # reconnected: maybe another server process, start over
                continue
            for k in keys:
                k = as_bytes(k)[len(prefix):]
                if k not in seen:
                    seen.add(k)
                    yield k
            if cursor == 0:
                return

    def _delete(self, prefix: bytes, names: list, also: tuple = ()) -> list:
        """Delete ``prefix + name`` for `names` (and ``other + name`` for each prefix
        ``other`` in `also`), batched.

        Returns a list with, for each name, whether ``prefix + name`` existed.  (If
        the connection breaks during a batch, the batch is sent again: a key deleted by
        the first attempt is then reported as not existing.)
        """
        existed = []
        for start in range(0, len(names), _PIPELINE_NAMES):
            chunk = names[start:start + _PIPELINE_NAMES]

            def run():
                pipe = self.redis.pipeline(transaction=False)
                for name in chunk:
                    pipe.delete(prefix + as_bytes(name))
                    for other in also:
                        pipe.delete(other + as_bytes(name))
                return pipe.execute()
            replies = self._do(run)
            step = 1 + len(also)
            existed.extend(r > 0 for r in replies[::step])
        return existed

    # results ------------------------------------------------------------------------------
    @staticmethod
    def _encode(object) -> bytes:
        import base64  # lazy: only the redis store needs it
        s = encode(object)
        return base64.b64encode(s) if s else s  # None is b'' (not base64'd, as Jug 2.7)

    def dump(self, object, name):
        """Store `object` under `name` (one atomic SET: readers never see half of it).

        Usage: ``store.dump(value, h)``
        """
        data = self._encode(object)
        self._do(lambda: self.redis.set(_RESULT + as_bytes(name), data))

    def commit(self, object, name, record: dict | None = None) -> None:
        """Store the result of task `name`, its run record, and release its lock.

        Usage: ``store.commit(value, t.hash(), finish_record(record))``

        The same as ``dump(object, name)``, ``save_record(name, record)`` (if `record`
        is not None) and ``getlock(name).release()``, but in one round trip and
        atomically (one ``MULTI``/``EXEC`` transaction): nobody can see the lock
        released before the result is there.  Do not release the lock again afterwards.

        Parameters
        ----------
        object : any
            The task's value (encoded before anything is sent: if it cannot be
            encoded, nothing is stored and the lock stays held).
        name : bytes or str
            The task's key.
        record : dict, optional
            Its run record (see :mod:`jug.records`).
        """
        key = as_bytes(name)
        data = self._encode(object)
        record_data = None if record is None else encode_record(record)
        lock = redis_lock(self, key)
        token = heartbeat.token(lock._held_key)

        def run():
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(_RESULT + key, data)
            if record_data is not None:
                pipe.set(_RECORD + key, record_data)
            pipe.delete(_FAILURE + key)  # it has a result now: no failure to remember
            lock._queue_release(pipe, token)
            return pipe.execute()
        self._do(run)
        heartbeat.drop(lock._held_key)

    def can_load(self, name):
        """Return (an int, true if) a result is stored under `name`."""
        return self._do(lambda: self.redis.exists(_RESULT + as_bytes(name)))

    def load(self, name):
        """Return the result stored under `name`.

        Raises
        ------
        KeyError
            If there is none.
        jug.errors.StoreError
            If it cannot be decoded (damaged, or written by another program).
        """
        s = self._do(lambda: self.redis.get(_RESULT + as_bytes(name)))
        if s is None:
            raise KeyError(name)
        try:
            if s:
                import base64
                s = base64.b64decode(s, validate=True)
            return decode(s)
        except MissingPackageError:
            raise
        except Exception as e:
            what = as_bytes(name).decode('utf-8', 'replace')
            raise StoreError(f'cannot load the result {what} from the redis server at '
                             f'{_masked(self.url)}: it is damaged ({type(e).__name__}: '
                             f'{e}); remove it (or `jug invalidate` its task) to compute '
                             f'it again') from e

    def remove(self, name):
        """Remove the result (and run record) under `name`; return whether it existed."""
        return self._delete(_RESULT, [name], also=(_RECORD, _FAILURE))[0]

    def remove_many(self, names):
        """Remove several results and their run records, in batched pipelines.

        Usage: ``removed = store.remove_many(hashes)``

        Returns
        -------
        set
            The names (as given) whose result existed.
        """
        names = list(names)
        existed = self._delete(_RESULT, names, also=(_RECORD, _FAILURE))
        return {name for name, gone in zip(names, existed) if gone}

    def list(self):
        """Yield the keys (bytes) of all results (SCAN, in batches)."""
        return self._scan(_RESULT)

    def listlocks(self):
        """Yield the names (bytes) of all locks (SCAN, in batches)."""
        return self._scan(_LOCK)

    def remove_locks(self):
        """Remove every lock (failed ones too); return how many were removed."""
        return sum(self._delete(_LOCK, list(self._scan(_LOCK)), also=(_OWNER,)))

    def cleanup(self, active, keeplocks=False):
        """Delete results and run records not in `active` (and all locks unless `keeplocks`).

        Usage: ``n = store.cleanup(tasks)``

        Returns
        -------
        int
            Number of results deleted (records and locks are not counted).
        """
        keep = {as_bytes(t.hash()) for t in active}
        removed = sum(self._delete(_RESULT, [k for k in self._scan(_RESULT) if k not in keep]))
        self._delete(_RECORD, [k for k in self._scan(_RECORD) if k not in keep])
        self._delete(_FAILURE, [k for k in self._scan(_FAILURE) if k not in keep])
        if not keeplocks:
            self.remove_locks()
        return removed

    # run records --------------------------------------------------------------------------
    def save_record(self, name, record: dict) -> None:
        """Keep `record` as the run record of `name` (key ``record:<name>``, JSON), and
        as its failure mark (``failure:<name>``) if it says the task failed."""
        data = encode_record(record)
        key = as_bytes(name)
        if record.get('status') != STATUS_FAILED:
            self._do(lambda: self.redis.set(_RECORD + key, data))
            return

        def run():
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(_RECORD + key, data)
            pipe.set(_FAILURE + key, data)
            return pipe.execute()
        self._do(run)

    def failure_mark(self, name) -> dict | None:
        """Return the record of `name`'s last run if it failed (one GET), else None."""
        data = self._do(lambda: self.redis.get(_FAILURE + as_bytes(name)))
        return None if data is None else parse_record(data)

    def failure_marks(self) -> dict:
        """Return ``{key: record}`` of every task whose last run failed."""
        keys = list(self._scan(_FAILURE))
        marks = {}
        for start in range(0, len(keys), _PIPELINE_NAMES):
            chunk = keys[start:start + _PIPELINE_NAMES]
            found = self._do(lambda: self.redis.mget([_FAILURE + k for k in chunk]))
            for key, data in zip(chunk, found):
                record = None if data is None else parse_record(data)
                if record is not None:
                    marks[key] = record
        return marks

    def clear_failure_mark(self, name) -> None:
        """Forget the failure mark of `name` (it has run with success since)."""
        self._do(lambda: self.redis.delete(_FAILURE + as_bytes(name)))

    def load_record(self, name) -> dict | None:
        """Return the run record of `name`, or None if there is none or it is damaged."""
        data = self._do(lambda: self.redis.get(_RECORD + as_bytes(name)))
        return None if data is None else parse_record(data)

    def list_records(self) -> list:
        """Return the keys (bytes) that have a run record, sorted."""
        return sorted(self._scan(_RECORD))

    def remove_records(self, names) -> None:
        """Delete the run records (and failure marks) of `names` (no error if absent)."""
        self._delete(_RECORD, list(names), also=(_FAILURE,))

    # locks ----------------------------------------------------------------------------------
    def getlock(self, name):
        """Return the :class:`redis_lock` for `name`."""
        return redis_lock(self, name)

    def set_lease(self, lease: LeaseSettings) -> None:
        """Use `lease` (a :class:`jug.backends.leases.LeaseSettings`) for new locks."""
        self.lease = lease

    def close(self):
        """Stop refreshing this store's locks and close the client's connections."""
        heartbeat.drop_client(self.redis)
        self.redis.close()


class redis_lock(base_lock):
    """Lock ``b'lock:' + key`` of a :class:`redis_store`, leased (see the module doc).

    Usage: ``lock = store.getlock(h)``

    Parameters
    ----------
    store : redis_store
    name : bytes or str
        ``'foo'`` and ``b'foo'`` are the same lock.
    """

    def __init__(self, store: redis_store, name) -> None:
        self.store = store
        key = as_bytes(name)
        self.fullname = _LOCK + key
        self.ownername = _OWNER + key
        self._held_key = (store._server_id, self.fullname)

    def __repr__(self):
        return f'redis_lock({self.fullname!r})'

    def _get_value(self):
        return self.store._do(lambda: self.store.redis.get(self.fullname))

    def get(self):
        """Take the lock; True only if it was free (a failed lock stays failed).

        The lock expires after the store's lease unless this process's heartbeat
        refreshes it; an expired lock is simply free again.
        """
        token = _new_token()
        lease = self.store.lease
        lease_ms = max(1, int(lease.lease_time * 1000))
        acquire = self.store._script('acquire')
        won = self.store._do(lambda: acquire(keys=[self.fullname, self.ownername],
                                             args=[token, lease_ms]))
        if not won:
            return False
        heartbeat.hold(self._held_key, self.store.redis, self.fullname, self.ownername,
                       token, lease_ms, lease.heartbeat_interval)
        return True

    def _queue_release(self, pipe, token: str | None) -> None:
        """Add the commands of :meth:`release` to the pipeline `pipe`."""
        if token is None:
            pipe.delete(self.fullname, self.ownername)
        else:
            pipe.eval(_RELEASE, 2, self.fullname, self.ownername, token)

    def release(self):
        """Release the lock (no error if it is not held).

        A lock this process took is deleted only if it is still its own (it may have
        been taken over while this process was frozen for longer than the lease);
        any other lock (Jug 2.7's, a failed one, another worker's) is deleted.
        """
        token = heartbeat.drop(self._held_key)
        if token is None:
            self.store._do(lambda: self.store.redis.delete(self.fullname, self.ownername))
        else:
            release = self.store._script('release')
            self.store._do(lambda: release(keys=[self.fullname, self.ownername], args=[token]))

    def is_locked(self):
        """Return whether the lock is held (locked or failed)."""
        return self._get_value() in (_LOCKED, _FAILED)

    def fail(self):
        """Mark a held lock as failed (for good: no expiry); return whether it is failed."""
        heartbeat.drop(self._held_key)
        fail = self.store._script('fail')
        return bool(self.store._do(lambda: fail(keys=[self.fullname, self.ownername])))

    def is_failed(self):
        """Return whether the lock is marked as failed."""
        return self._get_value() == _FAILED

    def is_stale(self):
        """Always False: a lock whose holder stopped refreshing expires by itself."""
        return False

    def holder_state(self):
        """Return ``LOCK_FREE``, ``LOCK_FAILED`` or ``LOCK_HELD`` (one GET)."""
        value = self._get_value()
        if value == _FAILED:
            return LOCK_FAILED
        return LOCK_HELD if value == _LOCKED else LOCK_FREE

    def is_held_by_live_worker(self):
        """Whether a live worker of ours, other than this process, holds the lock.

        True for a lock ``L`` with an expiry and an owner that is not this process.
        Jug 2.7's locks (no expiry) and failed locks are never known live.
        """
        def run():
            pipe = self.store.redis.pipeline(transaction=False)
            pipe.get(self.fullname)
            pipe.pttl(self.fullname)
            pipe.get(self.ownername)
            return pipe.execute()
        value, ttl, owner = self.store._do(run)
        return (value == _LOCKED and ttl is not None and ttl > 0 and owner is not None
                and not as_bytes(owner).decode('utf-8', 'replace').startswith(_own_prefix()))


# --- owner tokens and the heartbeat -------------------------------------------------------

def _own_prefix() -> str:
    """Start of the owner tokens of this process: ``'<host> <pid> '``."""
    return f'{nodename()} {os.getpid()} '


def _new_token() -> str:
    """A new owner token: this process (host and pid) and 8 random bytes."""
    return _own_prefix() + os.urandom(8).hex()


class _Held:
    """A lock held by this process: what the heartbeat needs to refresh it."""

    __slots__ = ('client', 'fullname', 'ownername', 'token', 'lease_ms', 'lost')

    def __init__(self, client, fullname: bytes, ownername: bytes, token: str,
                 lease_ms: int) -> None:
        self.client = client
        self.fullname = fullname
        self.ownername = ownername
        self.token = token
        self.lease_ms = lease_ms
        self.lost = False


class _Heartbeat(PeriodicRefresher):
    """The one thread of a process that extends the redis locks it holds.

    The thread wakes every ``interval`` seconds (the shortest heartbeat interval asked
    for) and refreshes every held lock with one pipeline (one round trip) per server.
    Taking or releasing a lock only updates a dict.  The refresh script checks the
    owner token and the ``L`` value on the server, so a refresh racing with a release
    or a ``fail()`` cannot resurrect the lock or give a failed lock an expiry.
    """

    thread_name = 'jug-redis-lock-heartbeat'

    def _reset(self) -> None:
        super()._reset()
        self._held: dict[tuple, _Held] = {}
        self._failing = False
        #: Completed refresh rounds (tests wait on it).
        self.rounds = 0

    def hold(self, key: tuple, client, fullname: bytes, ownername: bytes, token: str,
             lease_ms: int, interval: float) -> None:
        """Start refreshing the lock `fullname` just taken with `token`."""
        with self.guard:
            self._held[key] = _Held(client, fullname, ownername, token, lease_ms)
            self._ensure_running(interval)

    def token(self, key: tuple) -> str | None:
        """The token of the held lock `key`, or None if this process does not hold it."""
        with self.guard:
            held = self._held.get(key)
        return None if held is None else held.token

    def drop(self, key: tuple) -> str | None:
        """Stop refreshing `key`; return its token, or None if it was not held."""
        with self.guard:
            held = self._held.pop(key, None)
        return None if held is None else held.token

    def drop_client(self, client) -> None:
        """Stop refreshing every lock taken through `client` (its store is closed)."""
        with self.guard:
            for key in [k for k, h in self._held.items() if h.client is client]:
                del self._held[key]

    def beat(self) -> None:
        self.refresh_all()

    def refresh_all(self) -> None:
        """Refresh every held lock now (one pipeline per server)."""
        with self.guard:
            entries = list(self._held.items())
        by_client: dict[int, list] = {}
        for key, held in entries:
            by_client.setdefault(id(held.client), []).append((key, held))
        for items in by_client.values():
            pipe = items[0][1].client.pipeline(transaction=False)
            for _, held in items:
                pipe.eval(_REFRESH, 2, held.fullname, held.ownername, held.token,
                          held.lease_ms)
            try:
                replies = pipe.execute()
            except Exception as e:  # the server is away: try again next round
                if not self._failing:
                    logging.warning(f'jug: could not refresh the redis locks of this '
                                    f'process ({e}); they expire if this lasts longer '
                                    f'than their lease')
                self._failing = True
                continue
            self._failing = False
            with self.guard:
                for (key, held), ok in zip(items, replies):
                    if not ok and not held.lost and self._held.get(key) is held:
                        held.lost = True  # released meanwhile is not lost
                        logging.warning(f'jug: the redis lock {held.fullname.decode()} of '
                                        f'this process expired (or was taken over) while '
                                        f'this process was not refreshing it')
        self.rounds += 1


heartbeat = _Heartbeat()
