"""In-memory store (layer 1): ``dict_store``, for tests and ``--jugdir dict_store``.

Owns the in-memory layout (docs/backends.rst, "The dict store"): one dict with bytes keys,
``b'result:' + key`` holding the pickled result and ``b'lock:' + key`` holding :data:`LOCKED`
or :data:`FAILED`; optionally loaded from and saved to a pickle file (``dict_store:<path>``).
Run records (:mod:`jug.records`) are kept apart, in the dict ``records`` (key → JSON
bytes), so that ``store`` holds exactly what Jug 2.7's does; the backend file holds them
as entries ``b'record:' + key`` (which Jug 2.7 ignores).
It also counts every access in ``counts`` (exact key formats below, which tests of the
execution loop use to bound store traffic).

Must not import ``jug.task`` or anything above layer 1.
"""
from __future__ import annotations

import os
import pickle
from collections import defaultdict

from .base import as_bytes, base_lock, base_store, encode_record, parse_record

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins  # ``list`` is a method of the stores
    from typing import Any, Iterable, Iterator

__all__ = ['dict_store', 'dict_lock']

#: Value of a lock entry held by a running task.
LOCKED = 1
#: Value of a lock entry whose task failed.
FAILED = 2

_RESULT = b'result:'
_LOCK = b'lock:'
_RECORD = b'record:'


class dict_store(base_store):
    """Store results (pickled) and locks in a dict, optionally backed by a file.

    Usage: ``store = dict_store()`` or ``store = dict_store('state.pickle')``

    Parameters
    ----------
    backend : str, optional
        A file to read the whole dict from (a missing or unreadable file gives an empty
        store); ``close()`` (also called on deletion) writes it back.

    Attributes
    ----------
    store : dict
        The raw entries (bytes keys).
    counts : collections.defaultdict(int)
        Access counters: ``b'dump::' + key`` (sic, two colons), ``b'exists:' + key``,
        ``b'load:' + key``, ``b'del:' + key``, ``b'true-del:' + key``, and for locks
        ``b'lock:lock:' + key``, ``b'unlock:lock:' + key``, ``b'islock:lock:' + key``,
        ``b'fail:lock:' + key``, ``b'isfail:lock:' + key``, and for run records
        ``b'save-record:' + key``, ``b'load-record:' + key``.
    """

    #: Only this process can change the store (see base_store.shared).
    shared = False

    def __init__(self, backend: str | None = None) -> None:
        # backend is set only once reading succeeded: if unpickling raises, __del__ must
        # not overwrite the unreadable file with an empty dict
        self.backend: str | None = None
        self.counts: defaultdict[bytes, int] = defaultdict(int)
        self.store: dict[bytes, Any] = {}
        self.records: dict[bytes, bytes] = {}
        if backend is not None:
            try:
                f = open(backend, 'rb')
            except OSError:
                f = None
            if f is not None:
                with f:
                    saved = pickle.load(f)
                self.records = {k[len(_RECORD):]: saved.pop(k) for k in list(saved)
                                if k.startswith(_RECORD)}
                self.store = saved
        self.backend = backend

    def __repr__(self) -> str:
        return 'dict_store()' if self.backend is None else f'dict_store({self.backend})'

    def dump(self, object: Any, name: bytes | str) -> None:
        """Store `object` (pickled now, so later mutation does not leak in) under `name`."""
        name = as_bytes(name)
        self.counts[b'dump::' + name] += 1
        self.store[_RESULT + name] = pickle.dumps(object)

    def can_load(self, name: bytes | str) -> bool:
        """Return whether a result is stored under `name`."""
        name = as_bytes(name)
        self.counts[b'exists:' + name] += 1
        return _RESULT + name in self.store

    def load(self, name: bytes | str) -> Any:
        """Return the result stored under `name` (``KeyError`` if there is none)."""
        name = as_bytes(name)
        self.counts[b'load:' + name] += 1
        return pickle.loads(self.store[_RESULT + name])

    def remove(self, name: bytes | str) -> bool:
        """Remove the result and the run record of `name`; return whether a result existed."""
        name = as_bytes(name)
        self.counts[b'del:' + name] += 1
        self.records.pop(name, None)
        if self.can_load(name):
            self.counts[b'true-del:' + name] += 1
            del self.store[_RESULT + name]
            return True
        return False

    def save_record(self, name: bytes | str, record: dict) -> None:
        """Keep the run record `record` (a JSON-serialisable dict) of `name`."""
        name = as_bytes(name)
        self.counts[b'save-record:' + name] += 1
        self.records[name] = encode_record(record)

    def load_record(self, name: bytes | str) -> dict | None:
        """Return the run record of `name`; None if absent or damaged."""
        name = as_bytes(name)
        self.counts[b'load-record:' + name] += 1
        data = self.records.get(name)
        return None if data is None else parse_record(data)

    def list_records(self) -> builtins.list[bytes]:
        """Return the keys (bytes) that have a run record."""
        return list(self.records)

    def remove_records(self, names: Iterable[bytes | str]) -> None:
        """Delete the run records of `names` (no error if absent)."""
        for name in names:
            self.records.pop(as_bytes(name), None)

    def list(self) -> Iterator[bytes]:
        """Yield the keys (bytes) of all results."""
        for k in list(self.store):
            if k.startswith(_RESULT):
                yield k[len(_RESULT):]

    def listlocks(self) -> Iterator[bytes]:
        """Yield the names (bytes) of all locks."""
        for k in list(self.store):
            if k.startswith(_LOCK):
                yield k[len(_LOCK):]

    def remove_locks(self) -> int:
        """Remove every lock; return how many there were."""
        locks = [k for k in self.store if k.startswith(_LOCK)]
        for k in locks:
            del self.store[k]
        return len(locks)

    def cleanup(self, active: Iterable[Any], keeplocks: bool = False) -> int:
        """Delete every entry except results of `active` (and locks if `keeplocks`).

        Run records of `active` tasks are kept, the others deleted.

        Returns
        -------
        int
            Number of results (entries other than locks) deleted.
        """
        active_keys = {as_bytes(t.hash()) for t in active}
        keep = {_RESULT + k for k in active_keys}
        removed = 0
        for k in list(self.store):
            if k.startswith(_LOCK):
                if not keeplocks:
                    del self.store[k]
            elif k not in keep:
                del self.store[k]
                removed += 1
        self.remove_records([k for k in self.records if k not in active_keys])
        return removed

    def getlock(self, name: bytes | str) -> dict_lock:
        """Return the :class:`dict_lock` for `name`."""
        return dict_lock(self.store, self.counts, _LOCK + as_bytes(name))

    def close(self) -> None:
        """Write the dict to the backend file (if any) and forget the backend."""
        backend = getattr(self, 'backend', None)
        if backend is not None:
            # write a new file, then rename it: a failed write leaves the old one intact
            partial = backend + '.partial'
            saved = dict(self.store)
            saved.update((_RECORD + k, v) for k, v in self.records.items())
            with open(partial, 'wb') as f:
                pickle.dump(saved, f)
            os.replace(partial, backend)
            self.backend = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit builtins may be gone: nothing to do
            pass


class dict_lock(base_lock):
    """Lock entry ``b'lock:' + key`` of a :class:`dict_store`.

    Usage: ``lock = store.getlock(h)``

    Parameters
    ----------
    store : dict
        The dict_store's entries.
    counts : defaultdict(int)
        The dict_store's access counters.
    name : bytes
        The full entry name, ``b'lock:' + key``.
    """

    def __init__(self, store: dict[bytes, Any], counts: dict[bytes, int], name: bytes) -> None:
        self.store = store
        self.counts = counts
        self.name = name

    def get(self) -> bool:
        """Take the lock; True only if it was free (a failed lock stays failed)."""
        self.counts[b'lock:' + self.name] += 1
        previous = self.store.get(self.name)
        if previous != FAILED:
            self.store[self.name] = LOCKED
        return previous is None

    def release(self) -> None:
        """Remove the lock entry."""
        self.counts[b'unlock:' + self.name] += 1
        self.store.pop(self.name, None)

    def is_locked(self) -> bool:
        """Return whether the lock is held (locked or failed)."""
        self.counts[b'islock:' + self.name] += 1
        return self.store.get(self.name) in (LOCKED, FAILED)

    def fail(self) -> bool:
        """Mark a held lock as failed; return whether it is now failed."""
        self.counts[b'fail:' + self.name] += 1
        if self.store.get(self.name) == LOCKED:
            self.store[self.name] = FAILED
        return self.store.get(self.name) == FAILED

    def is_failed(self) -> bool:
        """Return whether the lock is marked as failed."""
        self.counts[b'isfail:' + self.name] += 1
        return self.store.get(self.name) == FAILED
