"""The store contract (layer 1): :class:`base_store` and :class:`base_lock`.

A store persists task results under keys (task hashes, ``bytes`` or ``str``) and hands
out one lock per key.  Concrete stores implement a few narrow primitives (``dump``,
``load``, ``can_load``, ``remove``, ``list``, ``listlocks``, ``getlock``, ``close``);
the generic operations built from them (``remove_many``, ``remove_locks``, ``cleanup``)
are written once here and overridden by a store only when it can do them faster
(DESIGN.md, habit 2).  ``tests/backends/test_store_contract.py`` runs every store
through the same contract.

Must not import ``jug.task`` (or anything above layer 1): stores know tasks only as
objects with a ``hash()`` method.
"""
from __future__ import annotations

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

__all__ = ['base_store', 'base_lock']


def as_bytes(name) -> bytes:
    """Return a store key as bytes (``str`` keys are UTF-8 encoded)."""
    if isinstance(name, bytes):
        return name
    return name.encode('utf-8')


class base_store:
    """Abstract store: persistence of results plus one lock per key.

    Usage: subclass it and implement ``dump, list, listlocks, can_load, load, remove,
    getlock, close`` (``cleanup`` and ``remove_locks`` have generic versions here).

    Parameters
    ----------
    name : str, optional
        Ignored by the base class (kept for the signature of Jug 2.7).
    """

    def __init__(self, name=None):
        pass

    # primitives ---------------------------------------------------------------------
    def dump(self, object, name):
        """Store `object` under the key `name` (atomically: readers never see half)."""
        raise NotImplementedError

    def list(self):
        """Return the keys (bytes) of every stored result."""
        raise NotImplementedError

    def listlocks(self):
        """Return the names (bytes) of every existing lock."""
        raise NotImplementedError

    def can_load(self, name):
        """Return whether a result is stored under `name`."""
        raise NotImplementedError

    def load(self, name):
        """Return the object stored under `name`."""
        raise NotImplementedError

    def remove(self, name):
        """Remove the result stored under `name`; return whether there was one."""
        raise NotImplementedError

    def getlock(self, name):
        """Return the lock object (a :class:`base_lock`) for `name`."""
        raise NotImplementedError

    def close(self):
        """Release resources held by the store."""
        raise NotImplementedError

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

    def cleanup(self, active, keeplocks: bool = False) -> int:
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
            Number of results removed (locks are not counted).
        """
        keep = {as_bytes(t.hash()) for t in active}
        removed = 0
        for name in list(self.list()):
            if as_bytes(name) not in keep and self.remove(name):
                removed += 1
        if not keeplocks:
            self.remove_locks()
        return removed

    @staticmethod
    def remove_store(jugdir):
        """Delete a whole store given its jugdir (no-op unless a store overrides it)."""
        pass

    def metadata(self, t):
        """Return a dict describing how `t`'s result is stored, or None if unknown."""
        return None


class base_lock:
    """Abstract lock for one key of a store.

    Usage: ``lock = store.getlock(h); if lock.get(): ...; lock.release()``

    A lock is *failed* when a task failed while holding it: it stays in place (so no
    other process retries the task) and ``is_failed()`` is true.
    """

    def get(self):
        """Try to acquire the lock; return True on success, False if it is taken."""
        raise NotImplementedError

    def release(self):
        """Release the lock (whoever holds it); no error if it is not held."""
        raise NotImplementedError

    def is_locked(self):
        """Return whether the lock is held (failed locks count as held)."""
        raise NotImplementedError

    def fail(self):
        """Mark a held lock as failed; return whether it is now failed."""
        raise NotImplementedError

    def is_failed(self):
        """Return whether the lock is held and marked as failed."""
        raise NotImplementedError
