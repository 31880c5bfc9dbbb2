"""Cleaning a file store up (layer 1): ``jug cleanup``'s removals and the lock listing.

:class:`CleanupMixin` is a mixin of :class:`jug.backends.file_store.file_store`:
``cleanup`` removes what no task of the jugfile needs (results, pack entries, run
records, locks, abandoned temp files), ``listlocks`` and ``remove_locks`` list and
remove the lock files (``docs/backends.rst``, "The file store").

Imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import os

from .base import as_bytes
from .file_records import RECORDS_DIR
from .lockfiles import fs_now, remove_leftovers

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins  # ``list`` is a method of the stores
    from typing import Any, Callable, Iterable

__all__ = ['CleanupMixin', 'TEMPFILE_MAX_AGE']

#: ``cleanup`` removes temp files not modified for this many seconds: they were left by
#: a worker killed while writing (a write in progress keeps its file's mtime fresh).
TEMPFILE_MAX_AGE = 60


class CleanupMixin:
    """The cleaning-up methods of a file store (a mixin: see the module docstring)."""

    if TYPE_CHECKING:
        # what the store class this is mixed into (file_store) provides
        jugdir: str
        packed: dict

        def _getfname(self, name: bytes | str) -> str: ...

        def _lockdir(self) -> str: ...

        def tempdir(self) -> str: ...

        def _packfile(self) -> str: ...

        def _modify_pack(self, fn: Callable[[dict], bool]) -> None: ...

        def list_records(self) -> builtins.list[bytes]: ...

        def _failure_keys(self) -> builtins.list[bytes]: ...

        def remove_records(self, names: Iterable[bytes | str]) -> None: ...

    def cleanup(self, active: Iterable[Any], keeplocks: bool = False) -> int:
        """Remove every file that is not the result (or run record) of a task in `active`.

        Usage: ``n = store.cleanup(tasks)``

        Parameters
        ----------
        active : iterable
            Objects with ``hash()`` whose results and run records are kept.
        keeplocks : bool, optional
            If true, the ``locks`` directory is left alone (else every lock is removed).

        Returns
        -------
        int
            Number of results removed (files, then pack entries; locks, run records
            and temp files are not counted).

        Notes
        -----
        Files in ``tempfiles`` older than :data:`TEMPFILE_MAX_AGE` seconds (left by a
        worker killed while writing) are removed too; younger ones may be writes in
        progress and are kept.  So are what killed workers left in ``locks`` beside the
        locks (:func:`jug.backends.lockfiles.remove_leftovers`), also with `keeplocks`.
        """
        active = list(active)
        keep = {self._getfname(t.hash()) for t in active}
        keep_keys = {as_bytes(t.hash()) for t in active}
        self.remove_records([k for k in set(self.list_records()).union(self._failure_keys())
                             if k not in keep_keys])
        skip = {'packs', 'tempfiles', RECORDS_DIR}  # records: handled just above
        if keeplocks:
            skip.add('locks')
        lockdir = self._lockdir()
        removed = 0
        for dirpath, dirnames, filenames in os.walk(self.jugdir):
            dirnames[:] = [d for d in dirnames if d not in skip]
            is_lockdir = dirpath == lockdir
            for f in filenames:
                path = os.path.join(dirpath, f)
                if path in keep:
                    continue
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                if not is_lockdir:
                    removed += 1
        if self.packed or os.path.exists(self._packfile()):
            dropped = 0

            def drop_inactive(packed: dict) -> bool:
                nonlocal dropped
                dead = [k for k in packed if k not in keep_keys]
                for k in dead:
                    del packed[k]
                dropped = len(dead)
                return bool(dead)

            self._modify_pack(drop_inactive)
            removed += dropped
        self._remove_abandoned_tempfiles()
        remove_leftovers(self._lockdir())
        return removed

    def _remove_abandoned_tempfiles(self) -> None:
        """Remove the temp files not modified for :data:`TEMPFILE_MAX_AGE` seconds."""
        try:
            with os.scandir(self.tempdir()) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            return
        oldest_kept = fs_now(self.tempdir()) - TEMPFILE_MAX_AGE  # mtimes: the fs's clock
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and \
                        entry.stat(follow_symlinks=False).st_mtime < oldest_kept:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue  # renamed into place (or removed) meanwhile

    def listlocks(self) -> builtins.list[bytes]:
        """Return the names (bytes) of all lock files, ``[]`` if there are none.

        Usage: ``names = store.listlocks()``
        """
        try:
            names = os.listdir(self._lockdir())
        except FileNotFoundError:
            return []
        return [os.fsencode(n[:-len('.lock')]) for n in sorted(names) if n.endswith('.lock')]

    def remove_locks(self) -> int:
        """Remove every file in ``<jugdir>/locks``; return how many were removed.

        Usage: ``n = store.remove_locks()``
        """
        lockdir = self._lockdir()
        try:
            names = os.listdir(lockdir)
        except FileNotFoundError:
            return 0
        removed = 0
        for n in names:
            try:
                os.unlink(os.path.join(lockdir, n))
            except FileNotFoundError:
                continue
            removed += 1
        return removed
