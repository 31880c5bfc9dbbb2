"""Redis store (layer 1): results and locks as keys of a redis server (``--jugdir redis:``).

Owns the redis layout, shared with Jug 2.7 workers (``docs/backends.rst``, "The redis
store"):

* ``b'result:' + key`` — ``base64(encode(obj))``, or ``b''`` for None;
* ``b'lock:' + key`` — ``b'L'`` (held) or ``b'F'`` (held and failed)
  (:mod:`jug.backends.redis_locks`);

and, beside it (Jug 2.7 never reads these keys):

* ``b'lockowner:' + key`` — the token of the process holding ``lock:key`` (our locks
  only), with the same expiry;
* ``b'record:' + key`` — the run record of ``key`` (:mod:`jug.records`), compact JSON;
* ``b'failure:' + key`` — a copy of that record while the task's last run failed (its
  *failure mark*, read by workers about to run the task; ``commit`` deletes it);
* ``b'codeversions:' + function`` — the set of fingerprints of that function's code
  that computed results (``jug.codeversions``);
* ``b'committed:' + key`` — for a minute after a commit, the owner that committed (so
  that the retry of a commit whose reply was lost knows it succeeded).

Cost.  Each operation is one round trip (``commit`` stores a result and its record
and releases its lock in one); the connection, its retries and batching are
:mod:`jug.backends.redis_client`'s.

The ``redis`` package is imported lazily, on first use: ``import jug.backends`` must
stay cheap.  The module still exposes the attributes ``redis`` (the package, or None
when it is not installed) and ``redis_functional`` (whether it imported), computed on
first access (PEP 562 module ``__getattr__``); tests may monkeypatch either.

Must not import ``jug.task`` or anything above layer 1.
"""
from __future__ import annotations

from ..errors import MissingPackageError, RedisMissingError, StoreError
from .base import STATUS_FAILED, as_bytes, base_store, encode_record, parse_record
from .encode import decode, encode
from .leases import heartbeat
from .redis_client import (DEFAULT_RETRY_TIME, RedisConnection, masked,  # noqa: F401
                           parse_url)
from .redis_locks import COMMIT, COMMITTED, LOCK, OWNER, redis_lock

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins  # ``list`` is a method of the stores
    from typing import Any, Iterable, Iterator

__all__ = ['redis_store', 'redis_lock', 'parse_url', 'DEFAULT_RETRY_TIME']

# --- layout (compatibility constants) --------------------------------------------------

_RESULT = b'result:'
#: Our keys beside Jug's: run records, and failure marks.
_RECORD = b'record:'
_FAILURE = b'failure:'
#: The code versions of a function (a set of fingerprints, see jug.codeversions).
_CODE = b'codeversions:'
#: Keys fetched per MGET (one round trip).
_BATCH = 10_000


# --- the redis package, imported lazily --------------------------------------------------

def _import_redis() -> None:
    """Import the redis package (once) and set the module attributes from it."""
    g = globals()
    if 'redis' not in g:
        try:
            import redis as module
        except ImportError:
            module = None  # type: ignore[assignment,unused-ignore]  # (when it is not installed)
        g['redis'] = module
    g.setdefault('redis_functional', g['redis'] is not None)


def __getattr__(name: str) -> Any:
    if name in ('redis', 'redis_functional'):
        _import_redis()
        return globals()[name]
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def _redis_module() -> Any:
    _import_redis()
    return globals()['redis']


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

    def __init__(self, url: str, retry_time: float | None = None) -> None:
        redis = _redis_module()
        if redis is None:
            raise RedisMissingError('redis', f'The redis store ({masked(url)})', extra='redis')
        self.url = url
        #: The connection (retries, batching); ``redis`` is its client, as in Jug 2.7.
        self.connection = RedisConnection(redis, url, retry_time)
        self.redis = self.connection.client
        self.retry_time = self.connection.retry_time

    def __repr__(self) -> str:
        return f'redis_store({masked(self.url)})'

    # results ------------------------------------------------------------------------------
    @staticmethod
    def _encode(object: Any) -> bytes:
        import base64  # lazy: only the redis store needs it
        s = encode(object)
        return base64.b64encode(s) if s else s  # None is b'' (not base64'd, as Jug 2.7)

    def dump(self, object: Any, name: bytes | str) -> None:
        """Store `object` under `name` (one atomic SET: readers never see half of it).

        Usage: ``store.dump(value, h)``
        """
        data = self._encode(object)
        self.connection.run(lambda: self.redis.set(_RESULT + as_bytes(name), data))

    def commit(self, object: Any, name: bytes | str, record: dict | None = None) -> bool:
        """Store the result of task `name` and its run record, and release its lock,
        only if this process still holds the lock; return False (nothing stored) if not.

        Usage: ``if not store.commit(value, t.hash(), finish_record(record)): ...``

        The same as ``dump(object, name)``, ``save_record(name, record)`` (if `record`
        is not None) and ``getlock(name).release()``, but in one round trip and
        atomically (one script, :data:`jug.backends.redis_locks.COMMIT`): nobody can see
        the lock released before the result is there, and a worker whose lock was taken
        over (frozen beyond its lease) stores nothing.  Do not release the lock again.

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
        record_data = b'' if record is None else encode_record(record)
        lock = redis_lock(self, key)
        commit = self.connection.script(COMMIT)
        stored = self.connection.run(lambda: commit(
            keys=[_RESULT + key, _RECORD + key, _FAILURE + key, lock.fullname, lock.ownername,
                  COMMITTED + key],
            args=[data, record_data, '0' if record is None else '1', lock.owner() or '']))
        lock.forget()
        return bool(stored)

    def can_load(self, name: bytes | str) -> bool:
        """Return whether a result is stored under `name` (an int, 1 or 0, as redis'
        EXISTS answers)."""
        return self.connection.run(lambda: self.redis.exists(_RESULT + as_bytes(name)))

    def load(self, name: bytes | str) -> Any:
        """Return the result stored under `name`.

        Raises
        ------
        KeyError
            If there is none.
        jug.errors.StoreError
            If it cannot be decoded (damaged, or written by another program).
        """
        s = self.connection.run(lambda: self.redis.get(_RESULT + as_bytes(name)))
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
                             f'{masked(self.url)}: it is damaged ({type(e).__name__}: '
                             f'{e}); remove it (or `jug invalidate` its task) to compute '
                             f'it again') from e

    def remove(self, name: bytes | str) -> bool:
        """Remove the result (and run record) under `name`; return whether it existed."""
        return self.connection.delete(_RESULT, [name], also=(_RECORD, _FAILURE))[0]

    def remove_many(self, names: Iterable[bytes | str]) -> set:
        """Remove several results and their run records, in batched pipelines.

        Usage: ``removed = store.remove_many(hashes)``

        Returns
        -------
        set
            The names (as given) whose result existed.
        """
        names = list(names)
        existed = self.connection.delete(_RESULT, names, also=(_RECORD, _FAILURE))
        return {name for name, gone in zip(names, existed) if gone}

    def list(self) -> Iterator[bytes]:
        """Yield the keys (bytes) of all results (SCAN, in batches)."""
        return self.connection.scan(_RESULT)

    def listlocks(self) -> Iterator[bytes]:
        """Yield the names (bytes) of all locks (SCAN, in batches)."""
        return self.connection.scan(LOCK)

    def remove_locks(self) -> int:
        """Remove every lock (failed ones too); return how many were removed."""
        locks = list(self.connection.scan(LOCK))
        return sum(self.connection.delete(LOCK, locks, also=(OWNER,)))

    def cleanup(self, active: Iterable[Any], keeplocks: bool = False) -> int:
        """Delete results and run records not in `active` (and all locks unless `keeplocks`).

        Usage: ``n = store.cleanup(tasks)``

        Returns
        -------
        int
            Number of results deleted (records and locks are not counted).
        """
        keep = {as_bytes(t.hash()) for t in active}
        removed = sum(self.connection.delete(
            _RESULT, [k for k in self.connection.scan(_RESULT) if k not in keep]))
        self.connection.delete(_RECORD,
                               [k for k in self.connection.scan(_RECORD) if k not in keep])
        self.connection.delete(_FAILURE,
                               [k for k in self.connection.scan(_FAILURE) if k not in keep])
        if not keeplocks:
            self.remove_locks()
        return removed

    # run records --------------------------------------------------------------------------
    def save_record(self, name: bytes | str, record: dict) -> None:
        """Keep `record` as the run record of `name` (key ``record:<name>``, JSON), and
        as its failure mark (``failure:<name>``) if it says the task failed."""
        data = encode_record(record)
        key = as_bytes(name)
        if record.get('status') != STATUS_FAILED:
            self.connection.run(lambda: self.redis.set(_RECORD + key, data))
            return

        def run() -> Any:
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(_RECORD + key, data)
            pipe.set(_FAILURE + key, data)
            return pipe.execute()
        self.connection.run(run)

    def failure_mark(self, name: bytes | str) -> dict | None:
        """Return the record of `name`'s last run if it failed (one GET), else None."""
        data = self.connection.run(lambda: self.redis.get(_FAILURE + as_bytes(name)))
        return None if data is None else parse_record(data)

    def failure_marks(self) -> dict:
        """Return ``{key: record}`` of every task whose last run failed."""
        keys = list(self.connection.scan(_FAILURE))
        marks = {}
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start:start + _BATCH]
            found = self.connection.run(lambda: self.redis.mget([_FAILURE + k for k in chunk]))
            for key, data in zip(chunk, found):
                record = None if data is None else parse_record(data)
                if record is not None:
                    marks[key] = record
        return marks

    def clear_failure_mark(self, name: bytes | str) -> None:
        """Forget the failure mark of `name` (it has run with success since)."""
        self.connection.run(lambda: self.redis.delete(_FAILURE + as_bytes(name)))

    def load_record(self, name: bytes | str) -> dict | None:
        """Return the run record of `name`, or None if there is none or it is damaged."""
        data = self.connection.run(lambda: self.redis.get(_RECORD + as_bytes(name)))
        return None if data is None else parse_record(data)

    def list_records(self) -> builtins.list[bytes]:
        """Return the keys (bytes) that have a run record, sorted."""
        return sorted(self.connection.scan(_RECORD))

    def remove_records(self, names: Iterable[bytes | str]) -> None:
        """Delete the run records (and failure marks) of `names` (no error if absent)."""
        self.connection.delete(_RECORD, list(names), also=(_FAILURE,))

    # code versions: a set per function ------------------------------------------------
    def note_code_version(self, function: str, fingerprint: str) -> None:
        """Remember that `function`'s code with `fingerprint` computed results here."""
        key = _CODE + function.encode('utf-8')
        self.connection.run(lambda: self.redis.sadd(key, fingerprint))

    def code_versions(self, function: str) -> set:
        """The fingerprints noted for `function` (one round trip)."""
        key = _CODE + function.encode('utf-8')
        members = self.connection.run(lambda: self.redis.smembers(key))
        return {as_bytes(m).decode('ascii', 'replace') for m in members}

    def forget_code_version(self, function: str, fingerprint: str) -> None:
        """Forget one noted fingerprint of `function`."""
        key = _CODE + function.encode('utf-8')
        self.connection.run(lambda: self.redis.srem(key, fingerprint))

    # locks ----------------------------------------------------------------------------------
    def getlock(self, name: bytes | str) -> redis_lock:
        """Return the :class:`redis_lock` for `name`."""
        return redis_lock(self, name)

    def close(self) -> None:
        """Stop refreshing this store's locks and close the client's connections."""
        url = self.connection.url
        heartbeat.drop_where(lambda lease: lease.kind == 'redis' and lease.params['url'] == url)
        self.redis.close()
