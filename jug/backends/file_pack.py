"""The pack of a file store (layer 1): small results gathered into one file (``jug pack``).

``<jugdir>/packs/jugpack`` holds the zlib stream of :mod:`jug.backends.encode` of a
dict mapping keys (bytes) to values: results of at most :data:`MAX_FILESIZE_IN_PACK`
bytes moved there by :meth:`PackMixin.update_pack` (``docs/backends.rst``).  Jug 2.7
reads and writes the same file.  Every change is a read-modify-write under the lock
``pack-save`` (re-reading the file first), so processes editing the pack at once do
not undo each other; a store re-reads the pack when a result it looks for was packed
by another process meanwhile.

:class:`PackMixin` is a mixin of :class:`jug.backends.file_store.file_store`: it uses the
store's ``jugdir``, ``_commit``, ``_encode_to``, ``_store_error``, ``_getfname``,
``_iter_filekeys``, ``_load_file`` and ``getlock``, and keeps the pack in
``self.packed`` and the identity of the file it was read from in ``self._packed_stamp``.

Imports nothing from jug outside ``jug.backends`` and ``jug.errors``.
"""
from __future__ import annotations

import logging
import os
import sys
import time

from ..errors import MissingPackageError, StoreError
from .base import as_bytes
from .encode import decode_from
from .safefiles import NotARegularFileError, open_regular

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Callable, Iterable, Iterator

    from .file_locks import file_based_lock

__all__ = ['PackMixin', 'MAX_FILESIZE_IN_PACK', 'PACK_LOCK_NAME', 'PACK_LOCK_TRIES']

#: Result files at most this many bytes are moved into the pack by ``update_pack``.
MAX_FILESIZE_IN_PACK = 512
#: Name of the lock guarding read-modify-write of the pack file.
PACK_LOCK_NAME = 'pack-save'
#: How many times ``_modify_pack`` tries the pack lock (sleeping 1, 2, 4, ... s between).
PACK_LOCK_TRIES = 10


class PackMixin:
    """The pack methods of a file store (a mixin: see the module docstring)."""

    can_pack = True
    packed: dict
    # (inode, mtime, size) of the pack file read into `packed`
    _packed_stamp: tuple[int, int, int] | None = None

    if TYPE_CHECKING:
        # what the store class this is mixed into (file_store) provides
        jugdir: str

        def _commit(self, write: Callable[[BinaryIO], object], fname: str,
                    durable: bool = True) -> None: ...

        def _encode_to(self, object: Any, f: BinaryIO) -> None: ...

        def _store_error(self, error: OSError) -> StoreError: ...

        def _getfname(self, name: bytes | str) -> str: ...

        def _iter_filekeys(self) -> Iterator[bytes]: ...

        def _load_file(self, name: bytes | str) -> Any: ...

        def getlock(self, name: bytes | str) -> file_based_lock: ...

    def _packfile(self) -> str:
        """Return the path of the pack file, ``<jugdir>/packs/jugpack``."""
        return os.path.join(self.jugdir, 'packs', 'jugpack')

    def _pack_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._packfile())
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _reread_pack_if_changed(self) -> bool:
        """Read the pack again if the file changed since it was read; return whether."""
        stamp = self._pack_stamp()
        if stamp is None or stamp == self._packed_stamp:
            return False
        self.packed = self._read_pack()
        return True

    def _read_pack(self) -> dict:
        """Read the pack file from disk; ``{}`` if there is none.

        Raises
        ------
        jug.errors.StoreError
            If the pack is damaged, or not a regular file.
        """
        packfile = self._packfile()
        try:
            f = open_regular(packfile)
        except FileNotFoundError:
            return {}
        except NotARegularFileError as e:
            raise StoreError(f'The pack file {packfile} cannot be used: {e.strerror}; '
                             'move it away to use this jug data directory') from e
        except (NotADirectoryError, PermissionError) as e:
            raise self._store_error(e) from e
        with f:
            stat = os.fstat(f.fileno())
            packed = _decode_pack(f, packfile)
        if not isinstance(packed, dict):
            raise StoreError(f'The pack file {packfile} is damaged (it does not hold '
                             'a dict of results); move it away to use this jug data directory')
        self._packed_stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        return packed

    def _write_pack(self, packed: dict) -> None:
        """Atomically and durably replace the pack file with `packed` (see _commit)."""
        self._commit(lambda f: self._encode_to(packed, f), self._packfile())

    def _modify_pack(self, fn: Callable[[dict], bool]) -> None:
        """Read-modify-write the pack under the ``pack-save`` lock.

        The pack is re-read from disk after taking the lock (so concurrent modifications
        by other processes are not undone), ``fn(packed)`` edits it in place and returns
        whether it changed; if so it is written back.  ``self.packed`` is updated and the
        lock always released.

        Raises
        ------
        jug.errors.StoreError
            If the lock cannot be taken after ``PACK_LOCK_TRIES`` attempts.
        """
        lock = self.getlock(PACK_LOCK_NAME)
        delay = 1
        for attempt in range(PACK_LOCK_TRIES):
            if lock.get():
                break
            logging.warning(
                'jug: the pack of %s is locked by another process (%s); '
                'waiting %s s (attempt %s of %s)',
                self.jugdir, lock.fullname, delay, attempt + 1, PACK_LOCK_TRIES)
            time.sleep(delay)
            delay *= 2
        else:
            raise StoreError(f'Could not take the pack lock {lock.fullname!r} after '
                             f'{PACK_LOCK_TRIES} attempts. If no other jug process is '
                             f'running, remove that file.')
        try:
            packed = self._read_pack()
            if fn(packed):
                self._write_pack(packed)
                self._packed_stamp = self._pack_stamp()
            self.packed = packed
        finally:
            lock.release()

    def _remove_from_pack(self, names: Iterable[bytes | str]) -> set:
        """Remove `names` from the pack; return the set of those (as given) that were in it.

        Only touches the pack file if one of the names is in the in-memory pack.
        """
        if not self.packed:
            return set()
        present = {name for name in names if as_bytes(name) in self.packed}
        if not present:
            return set()
        keys = {as_bytes(name) for name in present}

        def drop(packed: dict) -> bool:
            changed = False
            for k in keys:
                if k in packed:
                    del packed[k]
                    changed = True
            return changed

        self._modify_pack(drop)
        return present

    def update_pack(self) -> int:
        """Move every result file of at most ``MAX_FILESIZE_IN_PACK`` bytes into the pack.

        Usage: ``n = store.update_pack()``

        Returns
        -------
        int
            The number of results moved.

        Notes
        -----
        Files are loaded with ``_load_file`` (a newer file wins over a stale pack entry);
        files vanishing concurrently are skipped.  A file is unlinked only if it is still
        the one that was loaded (same inode, size and mtime), so a result re-dumped by
        another process meanwhile is kept.  Empty ``xx`` directories remain.
        """
        collected: dict[bytes, Any] = {}
        identities: dict[bytes, tuple[int, int, int]] = {}
        for key in self._iter_filekeys():
            fname = self._getfname(key)
            try:
                st = os.stat(fname)
                if st.st_size > MAX_FILESIZE_IN_PACK:
                    continue
                collected[key] = self._load_file(key)
            except FileNotFoundError:
                continue
            identities[key] = (st.st_ino, st.st_size, st.st_mtime_ns)
        if not collected:
            return 0

        def add(packed: dict) -> bool:
            for key in list(collected):
                try:
                    st = os.stat(self._getfname(key))
                except FileNotFoundError:
                    st = None
                if st is None or (st.st_ino, st.st_size, st.st_mtime_ns) != identities[key]:
                    del collected[key]  # removed or replaced since we loaded it
            packed.update(collected)
            return bool(collected)

        self._modify_pack(add)
        for key in collected:
            _unlink_quietly(self._getfname(key))
        return len(collected)

    def resave_pack(self) -> None:
        """Write the in-memory pack to disk, under the pack lock (legacy)."""
        mine = dict(self.packed)

        def replace(packed: dict) -> bool:
            packed.clear()
            packed.update(mine)
            return True

        self._modify_pack(replace)


def _unlink_quietly(fname: str) -> None:
    try:
        os.unlink(fname)
    except FileNotFoundError:
        pass


def _decode_pack(f: BinaryIO, packfile: str) -> Any:
    """Decode the open pack file `f`; a damaged one raises a one-line StoreError.

    ``'.'`` is put first on ``sys.path`` while unpickling (packed objects may be
    instances of classes defined next to the jugfile) and always taken off again.
    """
    sys.path.insert(0, '.')
    try:
        return decode_from(f)
    except MissingPackageError:
        raise
    except (ImportError, AttributeError) as e:
        raise StoreError(f'cannot load the pack file {packfile}: it refers to something '
                         f'that cannot be found now ({type(e).__name__}: {e})') from e
    except Exception as e:
        kind = type(e).__name__ if type(e).__module__ == 'builtins' else \
            f'{type(e).__module__}.{type(e).__name__}'
        raise StoreError(f'The pack file {packfile} is damaged ({kind}: {e}); '
                         'move it away to use this jug data directory (its results '
                         'are then computed again)') from e
    finally:
        if sys.path and sys.path[0] == '.':
            del sys.path[0]
        else:  # decoding changed sys.path: remove our entry wherever it is
            try:
                sys.path.remove('.')
            except ValueError:
                pass
