"""The store contract (layer 1): :class:`base_store` and :class:`base_lock`.

A store persists task results under keys (task hashes, ``bytes`` or ``str``) and hands
out one lock per key.  Concrete stores implement a few narrow primitives (``dump``,
``load``, ``can_load``, ``remove``, ``list``, ``listlocks``, ``getlock``, ``close``);
the generic operations built from them (``remove_many``, ``remove_locks``, ``cleanup``)
are written once here and overridden by a store only when it can do them faster
(docs/architecture.rst, "The stores").  ``tests/backends/test_store_contract.py`` runs every store
through the same contract.

A store may also keep a *run record* per key (a JSON-serialisable dict saying when,
where and how a task ran; see :mod:`jug.records`).  ``save_record``, ``load_record``,
``list_records`` and ``remove_records`` default to keeping no records, so a store
without them stays correct.  Records are never results: ``list()`` does not list them
and ``cleanup`` does not count them.  ``tests/backends/test_store_records.py`` is their
contract.

Must not import ``jug.task`` (or anything above layer 1): stores know tasks only as
objects with a ``hash()`` method.
"""
from __future__ import annotations

from .leases import DEFAULT_LEASE, LeaseSettings

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins  # ``list`` is a method of the stores
    from typing import Any, Iterable

__all__ = ['base_store', 'base_lock', 'LOCK_FREE', 'LOCK_HELD', 'LOCK_FAILED', 'LOCK_STALE',
           'LOCK_EXPIRING']

#: ``record['status']`` of a run record (see :mod:`jug.records`) of a task that
#: returned normally, of one that raised an exception, and of one whose worker was
#: stopped while running it (Ctrl-C, SIGTERM, ``sys.exit``: not a failure of the task).
STATUS_FINISHED = 'finished'
STATUS_FAILED = 'failed'
STATUS_INTERRUPTED = 'interrupted'

# What base_lock.holder_state() says of a lock.
#: Nobody holds the lock.
LOCK_FREE = 'free'
#: A process holds the lock and is not known to be gone (it may be alive).
LOCK_HELD = 'held'
#: The lock is marked failed: the task failed and its lock stays.
LOCK_FAILED = 'failed'
#: The lock's holder is gone (killed, or its lease expired): ``get()`` takes it over.
LOCK_STALE = 'stale'
#: Held, but its holder has not refreshed it for a while: probably gone, and the lock
#: goes stale when its lease runs out (a waiting worker keeps waiting for that).
LOCK_EXPIRING = 'expiring'


def as_bytes(name: bytes | str) -> bytes:
    """Return a store key as bytes (``str`` keys are UTF-8 encoded)."""
    if isinstance(name, bytes):
        return name
    return name.encode('utf-8')


def encode_record(record: dict) -> bytes:
    """Return the stored form of a run record: compact UTF-8 JSON.

    Usage: ``data = encode_record(record)``

    Values JSON cannot represent are written as their ``repr`` (a record must never
    make a task fail).
    """
    import json  # lazy: keeps `import jug` light
    return json.dumps(record, separators=(',', ':'), default=repr).encode('utf-8')


def parse_record(data: bytes) -> dict | None:
    """Return the run record stored as `data` (JSON), or None if it is damaged.

    Usage: ``record = parse_record(data)``

    Damaged means: not UTF-8, not JSON, or JSON that is not an object.  It never raises
    for such data: records are informative, and a bad one must not break ``status``.
    """
    import json  # lazy: keeps `import jug` light
    try:
        record = json.loads(data.decode('utf-8'))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return record if isinstance(record, dict) else None


class base_store:
    """Abstract store: persistence of results plus one lock per key.

    Usage: subclass it and implement ``dump, list, listlocks, can_load, load, remove,
    getlock, close`` (``cleanup`` and ``remove_locks`` have generic versions here).
    A store that keeps run records also implements ``save_record, load_record,
    list_records, remove_records`` and deletes the record in ``remove``.

    Parameters
    ----------
    name : str, optional
        Ignored by the base class (kept for the signature of Jug 2.7).
    """

    #: Whether processes other than this one can change the store (they can for files
    #: and redis).  A worker waiting for other processes polls a shared store often;
    #: a private one (``dict_store``) cannot change while its only worker sleeps.
    shared = True

    #: Whether the store has ``update_pack()``, which ``jug pack`` calls (file stores).
    can_pack = False

    #: The lease of the locks this store hands out (``--lease-time`` and
    #: ``--heartbeat-interval``; see :mod:`jug.backends.leases`).  Stores without leased
    #: locks ignore it.
    lease: LeaseSettings = DEFAULT_LEASE

    def __init__(self, name: str | None = None) -> None:
        pass

    def set_lease(self, lease: LeaseSettings) -> None:
        """Use `lease` for the locks taken from now on.

        Usage: ``store.set_lease(LeaseSettings(120, 20))``
        """
        self.lease = lease

    # primitives ---------------------------------------------------------------------
    def dump(self, object: Any, name: bytes | str) -> None:
        """Store `object` under the key `name` (atomically: readers never see half)."""
        raise NotImplementedError

    def list(self) -> Iterable[bytes]:
        """Return the keys (bytes) of every stored result."""
        raise NotImplementedError

    def listlocks(self) -> Iterable[bytes]:
        """Return the names (bytes) of every existing lock."""
        raise NotImplementedError

    def can_load(self, name: bytes | str) -> bool:
        """Return whether a result is stored under `name`."""
        raise NotImplementedError

    def load(self, name: bytes | str) -> Any:
        """Return the object stored under `name`."""
        raise NotImplementedError

    def remove(self, name: bytes | str) -> bool:
        """Remove the result stored under `name`; return whether there was one."""
        raise NotImplementedError

    def getlock(self, name: bytes | str) -> base_lock:
        """Return the lock object (a :class:`base_lock`) for `name`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources held by the store."""
        raise NotImplementedError

    def commit(self, object: Any, name: bytes | str, record: dict | None = None) -> bool:
        """Store the result of a task, its run record, and release its lock.

        Usage: ``if not store.commit(value, t.hash(), finish_record(record)): ...``

        What ``jug execute`` does when a task has run: ``dump``, ``save_record`` (if
        `record` is not None) and ``getlock(name).release()``, in that order, so the
        lock is released only once the result is stored.  Stores with leased locks
        override it to do it only while the lock is still this process's (and, with a
        server, in one round trip).  Do not release the lock again.

        Returns
        -------
        bool
            False if nothing was stored because this process lost the lock (another
            worker took it over: it computes the result itself).
        """
        self.dump(object, name)
        if record is not None:
            self.save_record_or_warn(name, record)
        self.getlock(name).release()
        return True

    def save_record_or_warn(self, name: bytes | str, record: dict, what: str | None = None) -> None:
        """:meth:`save_record`, but a record that cannot be written only logs a warning
        naming `what` (default: the key): records are informative, never worth a task."""
        try:
            self.save_record(name, record)
        except Exception as e:
            import logging  # lazy: rarely needed

            from ..errors import store_error_message
            label = what or as_bytes(name).decode('utf-8', 'replace')
            logging.warning(f'Could not save the run record of {label}: '
                            f'{store_error_message(e) or e}')

    # run records (optional primitives: the defaults keep no records) ------------------
    def save_record(self, name: bytes | str, record: dict) -> None:
        """Keep `record`, the run record of the task `name`, replacing any previous one.

        Usage: ``store.save_record(t.hash(), finish_record(record, error))``

        Parameters
        ----------
        name : bytes or str
            The task's key (its hash).
        record : dict
            A JSON-serialisable dict (see :func:`jug.records.start_record`).

        Notes
        -----
        Records are informative: a store may write them without the durability of a
        result.  The default does nothing (a store without records).
        """
        pass

    def load_record(self, name: bytes | str) -> dict | None:
        """Return the run record of `name`, or None if there is none or it is damaged.

        Usage: ``record = store.load_record(t.hash())``

        Never raises for a damaged (unparsable) record: it is reported as absent.
        """
        return None

    def list_records(self) -> builtins.list[bytes]:
        """Return the keys (bytes) that have a run record (``[]`` by default).

        Usage: ``keys = store.list_records()``
        """
        return []

    def remove_records(self, names: Iterable) -> None:
        """Delete the run records of `names` (results are untouched; no error if absent).

        Usage: ``store.remove_records([h1, h2])``

        ``remove``, ``remove_many`` and ``cleanup`` call it (or do the same) so that a
        record never outlives the result it describes.
        """
        pass

    # failure marks (built on records; stores override them to make them cheap) ---------
    def failure_marks(self) -> dict:
        """Return ``{key: record}`` for every task whose last recorded run failed.

        Usage: ``marks = store.failure_marks()``

        ``jug execute`` reads them when it starts: a task that failed since then (its
        mark is new) is not retried by that worker (see ``docs/parallel.rst``).
        """
        marks = {}
        for key in self.list_records():
            record = self.load_record(key)
            if record is not None and record.get('status') == STATUS_FAILED:
                marks[as_bytes(key)] = record
        return marks

    def failure_mark(self, name: bytes | str) -> dict | None:
        """Return the run record of `name` if its last recorded run failed, else None.

        Usage: ``record = store.failure_mark(t.hash())``

        Asked once per task a worker is about to run, so stores keep it cheap.
        """
        record = self.load_record(name)
        if record is not None and record.get('status') == STATUS_FAILED:
            return record
        return None

    def clear_failure_mark(self, name: bytes | str) -> None:
        """Forget that `name` failed (it has run with success since).

        Usage: ``store.clear_failure_mark(t.hash())``

        The default does nothing: the run record saved with the result replaced the
        failed one already.
        """
        pass

    # code versions (see jug.codeversions; built on records by default) ----------------
    def note_code_version(self, function: str, fingerprint: str) -> None:
        """Remember that the code of `function` with `fingerprint` computed results here.

        Usage: ``store.note_code_version('jugfile.f', 'a1b2c3d4e5f60718')``

        The default does nothing: :meth:`code_versions` reads the run records instead.
        """
        pass

    def code_versions(self, function: str) -> set:
        """Return the fingerprints of the code of `function` that computed results
        kept here (maybe more: versions whose results are gone since).

        Usage: ``if store.code_versions('jugfile.f') - {now}: ...``

        The default reads every run record; stores override it to be one look.
        """
        versions = set()
        for key in self.list_records():
            record = self.load_record(key)
            if record is not None and record.get('name') == function and record.get('code'):
                versions.add(record['code'])
        return versions

    def forget_code_version(self, function: str, fingerprint: str) -> None:
        """Forget a version of `function`'s code (no result of it is left here).

        Usage: ``store.forget_code_version('jugfile.f', old)``
        """
        pass

    # generic operations ---------------------------------------------------------------
    def remove_many(self, names: Iterable) -> set:
        """Remove several results.

        Usage: ``removed = store.remove_many([h1, h2])``

        Parameters
        ----------
        names : iterable of bytes or str

        Returns
        -------
        set
            The names (as given) whose result existed and was removed.
        """
        removed = set()
        for name in names:
            if self.remove(name):
                removed.add(name)
        return removed

    def remove_locks(self) -> int:
        """Remove every lock; return how many were removed.

        Usage: ``n = store.remove_locks()``
        """
        removed = 0
        for name in list(self.listlocks()):
            self.getlock(name).release()
            removed += 1
        return removed

    def cleanup(self, active: Iterable[Any], keeplocks: bool = False) -> int:
        """Remove every result not belonging to `active`, and all locks unless `keeplocks`.

        Usage: ``n = store.cleanup(alltasks)``

        Parameters
        ----------
        active : iterable
            Objects with a ``hash()`` method (tasks) whose results are kept.
        keeplocks : bool, optional
            If true, locks are left alone.

        Returns
        -------
        int
            Number of results removed (locks and run records are not counted).
        """
        keep = {as_bytes(t.hash()) for t in active}
        removed = 0
        for name in list(self.list()):
            if as_bytes(name) not in keep and self.remove(name):
                removed += 1
        stale = [name for name in self.list_records() if as_bytes(name) not in keep]
        if stale:
            self.remove_records(stale)
        if not keeplocks:
            self.remove_locks()
        return removed

    @staticmethod
    def remove_store(jugdir: Any) -> None:
        """Delete a whole store given its jugdir (no-op unless a store overrides it)."""
        pass

    def metadata(self, t: Any) -> dict | None:
        """Return a dict describing how `t`'s result is stored, or None if unknown."""
        return None


class base_lock:
    """Abstract lock for one key of a store.

    Usage: ``lock = store.getlock(h); if lock.get(): ...; lock.release()``

    A lock is *failed* when a task failed while holding it: it stays in place (so no
    other process retries the task) and ``is_failed()`` is true.
    """

    def get(self) -> bool:
        """Try to acquire the lock; return True on success, False if it is taken."""
        raise NotImplementedError

    def release(self) -> None:
        """Release the lock (whoever holds it); no error if it is not held."""
        raise NotImplementedError

    def is_locked(self) -> bool:
        """Return whether the lock is held (failed locks count as held)."""
        raise NotImplementedError

    def fail(self) -> bool:
        """Mark a held lock as failed; return whether it is now failed."""
        raise NotImplementedError

    def is_failed(self) -> bool:
        """Return whether the lock is held and marked as failed."""
        raise NotImplementedError

    def is_stale(self) -> bool:
        """Return whether the lock is held by a worker that is gone (default: never).

        Stores with leased locks (the file store) override this; a stale lock is taken
        over by the next ``get()``.
        """
        return False

    def holder_state(self) -> str:
        """Return :data:`LOCK_FREE`, :data:`LOCK_FAILED`, :data:`LOCK_STALE` or
        :data:`LOCK_HELD` (held by a process that may be alive, this one included).

        Usage: ``if lock.holder_state() == LOCK_FREE: ...``

        What a waiting worker asks of the locks it watches; stores override it to
        answer in one look at the lock.
        """
        if not self.is_locked():
            return LOCK_FREE
        if self.is_failed():
            return LOCK_FAILED
        return LOCK_STALE if self.is_stale() else LOCK_HELD

    def holder_look(self) -> tuple[str, float | None]:
        """Return ``(holder_state(), deadline)``: `deadline` is when, in
        ``time.monotonic()`` seconds, the lock goes stale unless its holder refreshes
        it again (None if unknown: no lease, or not held).

        Usage: ``state, deadline = lock.holder_look()``

        A waiting worker sees a holder alive when the deadline moves forward
        (``docs/parallel.rst``).  Stores override it to answer in one look.
        """
        return self.holder_state(), None

    def holder(self) -> dict | None:
        """Who holds the lock: ``{'state', 'host', 'pid', 'since'}`` (`state` as
        :meth:`holder_state`; `host`, `pid` and `since`, the time the lock was taken in
        seconds since the epoch, are None when unknown), or None when it is free.

        Usage: ``who = lock.holder()`` (``jug status --workers``).  Stores whose locks
        say who holds them override it.
        """
        state = self.holder_state()
        if state == LOCK_FREE:
            return None
        return {'state': state, 'host': None, 'pid': None, 'since': None}

    def is_held_by_live_worker(self) -> bool:
        """Whether a live worker, other than this process, is known to hold the lock.

        ``jug cleanup`` keeps such locks (unless forced).  Default: never known.
        """
        return False

    def remove_if_failed(self) -> bool:
        """Remove the lock if it is marked failed; return whether it was removed.

        What ``jug cleanup --failed-only`` does with each lock.  Stores whose locks can
        be taken concurrently override it to remove only the failed lock they saw.
        """
        if not self.is_failed():
            return False
        self.release()
        return True

    def remove_unless_live(self) -> bool:
        """Remove the lock unless a live worker holds it; return whether it was removed.

        What ``jug cleanup`` does with each lock.  Stores whose locks can be taken
        over concurrently override it to remove them safely.
        """
        if self.is_held_by_live_worker():
            return False
        self.release()
        return True
