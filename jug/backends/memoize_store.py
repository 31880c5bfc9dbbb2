"""Read-only caching wrapper around a store (layer 1), used by ``jug status``.

Owns :class:`memoize_store` and :class:`cache_lock` (docs/backends.rst): ``can_load``,
``is_locked`` and ``is_failed`` answers are cached per key, and with ``list_base=True``
they come from one ``list()`` and one ``listlocks()`` of the underlying store, so that
status on 10^5 tasks costs two directory listings instead of 10^5 stats.  Run records
are read through (``load_record``, ``list_records``; ``status --failed`` reads few).
Everything that would write (or read results) raises ``NotImplementedError``.

Must not import ``jug.task`` or anything above layer 1.
"""
from __future__ import annotations

from .base import as_bytes, base_lock, base_store

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins  # ``list`` is an attribute of the stores
    from typing import Any, Callable, Iterable, NoReturn

__all__ = ['memoize_store', 'cache_lock']


def _listing(method: Callable[[], Iterable[bytes | str]] | None) -> set[bytes] | None:
    """Return ``set`` of the bytes keys listed by `method`, or None if unavailable."""
    if method is None:
        return None
    try:
        return {as_bytes(k) for k in method()}
    except NotImplementedError:
        return None


class memoize_store(base_store):
    """Cache the answers of `base` to ``can_load`` and lock queries.

    Usage: ``Task.store = memoize_store(store, list_base=True)``

    Parameters
    ----------
    base : store
        The store to query (at most once per key and question).
    list_base : bool, optional
        If true, list `base`'s results and locks once now and answer from those sets.
    """

    def __init__(self, base: Any, list_base: bool = False) -> None:
        self.base = base
        self.cache: dict[bytes, bool] = {}
        self._lockcache: dict[bytes, dict[str, bool]] = {}
        self.keys: set[bytes] | None = None
        self.locks: set[bytes] | None = None
        if list_base:
            self.keys = _listing(getattr(base, 'list', None))
            self.locks = _listing(getattr(base, 'listlocks', None))

    def __repr__(self) -> str:
        return f'memoize_store({self.base!r})'

    def can_load(self, name: bytes | str) -> bool:
        """Return (cached) whether `base` has a result for `name`."""
        key = as_bytes(name)
        result = self.cache.get(key)
        if result is None:
            if self.keys is not None:
                result = key in self.keys
            else:
                result = bool(self.base.can_load(name))
            self.cache[key] = result
        return result

    def getlock(self, name: bytes | str) -> base_lock:
        """Return a :class:`cache_lock` answering lock queries for `name`."""
        if self.locks is not None and as_bytes(name) not in self.locks:
            return _NOT_LOCKED  # most tasks: no lock object needed (status speed)
        return cache_lock(self, name)

    def close(self) -> None:
        """Nothing to release (the base store is not closed)."""
        pass

    def load_record(self, name: bytes | str) -> dict | None:
        """Return the run record of `name` from `base` (not cached)."""
        return self.base.load_record(name)

    def list_records(self) -> builtins.list[bytes]:
        """Return the keys (bytes) that have a run record in `base` (not cached)."""
        return self.base.list_records()

    def failure_marks(self) -> dict:
        """Return the failure marks of `base` (not cached)."""
        return self.base.failure_marks()

    def code_versions(self, function: str) -> set:
        """Return the code versions of `function` in `base` (not cached)."""
        return self.base.code_versions(function)

    def _not_supported(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError('memoize_store is read-only (it only caches queries)')

    dump = load = list = listlocks = remove = remove_locks = cleanup = _not_supported
    save_record = remove_records = note_code_version = forget_code_version = _not_supported


class cache_lock(base_lock):
    """Lock of a :class:`memoize_store`: caches ``is_locked`` and ``is_failed``.

    Usage: ``memoize_store(store).getlock(h).is_locked()``

    When the store listed the base's locks, ``is_locked`` is a set lookup (status asks
    it of every ready task, so it must be cheap); otherwise the answers are cached
    per key in the store.
    """

    __slots__ = ('store', 'name', 'key')

    def __init__(self, store: memoize_store, name: bytes | str) -> None:
        self.store = store
        self.name = name
        self.key = as_bytes(name)

    def _cached(self, question: str, ask: Callable[[], object]) -> bool:
        entry = self.store._lockcache.setdefault(self.key, {})
        if question not in entry:
            entry[question] = bool(ask())
        return entry[question]

    def is_locked(self) -> bool:
        """Return (cached) whether the lock is held in the base store."""
        locks = self.store.locks
        if locks is not None:
            return self.key in locks
        return self._cached('locked', lambda: self.store.base.getlock(self.name).is_locked())

    def is_failed(self) -> bool:
        """Return (cached) whether the lock is marked failed in the base store."""
        locks = self.store.locks
        if locks is not None and self.key not in locks:
            return False  # a failed lock is still a lock: no need to ask
        return self._cached('failed', lambda: self.store.base.getlock(self.name).is_failed())

    def is_stale(self) -> bool:
        """Return (cached) whether the lock's holder is gone (asked of the base store)."""
        return self._cached('stale', lambda: self.store.base.getlock(self.name).is_stale())

    def _not_supported(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError('cache_lock is read-only (it only caches queries)')

    get = release = fail = _not_supported


class _not_locked_lock(base_lock):
    """The lock of every key a listed store has no lock for: not locked, not failed."""

    __slots__ = ()

    def is_locked(self) -> bool:
        return False

    def is_failed(self) -> bool:
        return False

    def is_stale(self) -> bool:
        return False

    def _not_supported(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError('cache_lock is read-only (it only caches queries)')

    get = release = fail = _not_supported


_NOT_LOCKED = _not_locked_lock()
