"""The file store (layer 1): results and locks as files in a directory (the *jugdir*).

Owns the on-disk layout of a jugdir, which Jug 2.7 workers share with us
(``docs/backends.rst``, "The file store"):

* ``<jugdir>/<h[:2]>/<h[2:]>`` — the result for key ``h`` (formats:
  :mod:`jug.backends.file_formats`);
* ``<jugdir>/tempfiles/`` — where results are written before being renamed into place
  (the commit protocol: :meth:`file_store._commit`);
* ``<jugdir>/locks/<h>.lock`` — one file per held lock (:mod:`jug.backends.file_locks`);
* ``<jugdir>/packs/jugpack`` — optional pack of small results (``jug pack``;
  :mod:`jug.backends.file_pack`);

and, beside Jug's layout (Jug 2.7 ignores it), ``<jugdir>/records/`` — run records and
failure marks (:mod:`jug.backends.file_records`).

``jug cleanup``'s removals are :mod:`jug.backends.file_cleanup`'s.  The store class is
assembled here from those modules' mixins; its lock classes and
:class:`file_keepalive_store` (``file_keepalive:<dir>``) are reachable from this module,
as in Jug 2.7.  ``fsync_dir`` and ``encode_to`` are looked up in this module's globals
when they are used, so that callers may replace them (as Jug 2.7's tests do).

Must not import ``jug.task`` or anything above layer 1.
"""
from __future__ import annotations

import errno
import os
import sys
import time

from ..errors import MissingPackageError, StoreError, mark_store_error, store_error_message
from .base import as_bytes, base_store
from .encode import encode_to
from .file_cleanup import CleanupMixin
from .file_formats import read_result, write_result
from .file_locks import (FAILED_LOCK_MTIME, KEEPALIVE_FAILED_AGE,  # noqa: F401 (Jug 2.7's names)
                         LockLost, file_based_lock, file_keepalive_based_lock)
from .file_pack import MAX_FILESIZE_IN_PACK, PackMixin
from .file_records import RecordLog
from .safefiles import NotARegularFileError, open_regular

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins  # ``list`` is a method of the stores
    from typing import Any, BinaryIO, Callable, Iterable, Iterator

__all__ = ['file_store', 'file_based_lock', 'file_keepalive_store',
           'file_keepalive_based_lock', 'fsync_dir', 'MAX_FILESIZE_IN_PACK']

#: Temporary result files are named with this many random ASCII letters.
TEMPNAME_LENGTH = 24
_TEMPNAME_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'



# --- helpers ---------------------------------------------------------------------------

def fsync_dir(fname: str) -> None:
    """Flush the directory entry of `fname` to disk (fsync its parent directory).

    Usage: ``fsync_dir(path_just_renamed_into_place)``

    Parameters
    ----------
    fname : str
        A path; its parent directory is opened read-only and fsync-ed.

    Notes
    -----
    A rename is only durable once the directory holding the new name is synced.  Some
    filesystems refuse to fsync a directory (``EINVAL``): that is ignored.  On non-Linux
    platforms a directory that cannot be opened is silently skipped.
    """
    dname = os.path.dirname(fname) or '.'
    try:
        fd = os.open(dname, os.O_RDONLY)
    except OSError:
        if sys.platform.startswith('linux'):
            raise
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def _random_tempname() -> str:
    # One urandom call, not the random module: jugfiles may seed `random`, and forked
    # workers share its state, so they would all draw the same names.
    return ''.join(_TEMPNAME_LETTERS[b % 52] for b in os.urandom(TEMPNAME_LENGTH))


# --- the store -------------------------------------------------------------------------

class file_store(PackMixin, RecordLog, CleanupMixin, base_store):
    """Store results and locks as files under a directory.

    Usage: ``store = file_store('jugfile.jugdata')``

    Parameters
    ----------
    dname : str or path-like
        The jugdir (one trailing ``/`` is stripped).  Nothing is created until the
        first write.
    compress_numpy : bool, optional
        If true, arrays are stored in the zlib encoding instead of raw ``.npy``.

    Raises
    ------
    jug.errors.StoreError
        If the jugdir exists but is not a directory or cannot be read.
    """
    def __init__(self, dname: str | os.PathLike[str], compress_numpy: bool = False) -> None:
        dname = os.fspath(dname)
        if dname.endswith('/'):
            dname = dname[:-1]
        self.jugdir = dname
        self.compress_numpy = compress_numpy
        self._records = None  # index of run records, read on first use
        self._created = False
        self._packed_stamp = None
        self.packed = self._read_pack()

    def __repr__(self) -> str:
        return f'file_store({self.jugdir})'

    # layout ---------------------------------------------------------------------------
    def _getfname(self, name: bytes | str) -> str:
        """Return the path of the result file for key `name` (``xx/yyyy...``)."""
        if isinstance(name, bytes):
            name = name.decode('utf-8')
        return os.path.join(self.jugdir, name[:2], name[2:])

    def tempdir(self) -> str:
        """Return the directory for temporary files, ``<jugdir>/tempfiles``."""
        return os.path.join(self.jugdir, 'tempfiles')

    def _lockdir(self) -> str:
        return os.path.join(self.jugdir, 'locks')

    def create(self) -> None:
        """Create the jugdir and its ``tempfiles`` directory (no error if they exist)."""
        try:
            os.makedirs(self.tempdir(), exist_ok=True)
        except (FileExistsError, NotADirectoryError) as e:
            raise StoreError(f'Cannot create the jug data directory {self.jugdir!r}: '
                             f'{e.filename!r} is in the way (not a directory)') from e
        self._created = True

    def _maybe_create(self) -> None:
        """Call :meth:`create` once per store object."""
        if not self._created:
            self.create()

    def _store_error(self, error: OSError) -> StoreError:
        """Return a StoreError explaining why the jugdir cannot be used (from `error`)."""
        if os.path.exists(self.jugdir) and not os.path.isdir(self.jugdir):
            return StoreError(f'The jug data directory {self.jugdir!r} exists but is not a '
                              f'directory')
        if isinstance(error, PermissionError):
            return StoreError(f'Cannot read the jug data directory {self.jugdir!r}: '
                              f'{error.strerror} ({error.filename})')
        return StoreError(f'Cannot use {self.jugdir!r} as a jug data directory: '
                          f'{error.strerror} ({error.filename})')

    def _open_temp(self) -> tuple[BinaryIO, str]:
        """Create and open a new temp file in ``tempfiles``; return ``(file, path)``.

        The file is created exclusively (``'xb'``, retrying on a name collision) with the
        normal permissions allowed by the umask.  ``tempfiles`` is created on demand.
        """
        tempdir = self.tempdir()
        created = False
        while True:
            fname = os.path.join(tempdir, _random_tempname())
            try:
                return open(fname, 'xb'), fname
            except FileExistsError:
                continue
            except FileNotFoundError:
                if created:
                    raise
                self.create()
                created = True
            except NotADirectoryError as e:
                raise self._store_error(e) from e

    def _commit(self, write: Callable[[BinaryIO], object], fname: str,
                durable: bool = True) -> None:
        """Atomically and durably make `fname` hold what `write(file)` writes.

        The commit protocol (docs/backends.rst, "Results"):

        1. write into a fresh temp file in ``<jugdir>/tempfiles`` (same filesystem as
           `fname`, so the rename below is atomic);
        2. flush and ``os.fsync`` it: the data is on disk before its name is;
        3. ``os.rename`` it onto `fname`: a reader sees the old file or the complete new
           one, never a partial write (also across NFS clients);
        4. ``fsync_dir(fname)``: the rename itself is on disk.

        If anything fails before the rename completes, the temp file is removed and the
        exception propagates; `fname` is untouched.  With ``durable=False`` steps 2 and
        4 are skipped: still atomic, but a crash of the machine may lose the file (used
        for run records, which are informative and must not double a task's cost).

        An ``OSError`` (full disk, file too large, read-only jugdir...) is marked with
        :func:`jug.errors.mark_store_error`, so ``jug`` reports it in one line naming
        `fname`.
        """
        tempname = self._write_temp(write, fname, durable)
        self._publish(tempname, fname, durable)

    def _write_temp(self, write: Callable[[BinaryIO], object], fname: str,
                    durable: bool = True) -> str:
        """Steps 1 and 2 of :meth:`_commit`: return the temp file holding the data."""
        try:
            f, tempname = self._open_temp()
        except OSError as e:
            self._mark_write_error(e, fname)
            raise
        try:
            with f:
                write(f)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException as e:
            self._discard_temp(tempname, e, fname)
            raise
        return tempname

    def _publish(self, tempname: str, fname: str, durable: bool = True) -> None:
        """Steps 3 and 4 of :meth:`_commit`: rename `tempname` onto `fname`."""
        try:
            try:
                os.rename(tempname, fname)
            except FileNotFoundError:
                # first file in this xx/ directory (or first pack): create it and retry
                os.makedirs(os.path.dirname(fname), exist_ok=True)
                os.rename(tempname, fname)
        except BaseException as e:
            self._discard_temp(tempname, e, fname)
            raise
        if durable:
            fsync_dir(fname)  # module global, looked up at call time (tests monkeypatch it)

    def _discard_temp(self, tempname: str, error: BaseException | None, fname: str) -> None:
        """Remove the temp file of a write of `fname` that did not complete (`error`)."""
        try:
            os.unlink(tempname)
        except OSError:
            pass  # e.g. a read-only tempfiles: keep the original error (cleanup removes it)
        if isinstance(error, Exception):  # OSError, or a value that cannot be pickled
            self._mark_write_error(error, fname)

    def _mark_write_error(self, error: Exception, fname: str) -> None:
        """Note on `error` the one-line message ``main`` shows for a failed write of `fname`."""
        if store_error_message(error) is not None:
            return
        if fname == self._packfile():
            what = 'the pack file'
        elif fname.startswith(self._recorddir() + os.sep):
            what = 'the run record'
        else:
            what = 'the result file'
        reason = getattr(error, 'strerror', None) or f'{type(error).__name__}: {error}'
        filename = getattr(error, 'filename', None)
        if filename and filename != fname:
            reason += f' ({filename})'
        mark_store_error(error, f'cannot write {what} {fname}: {reason}')

    # results ----------------------------------------------------------------------------
    def dump(self, object: Any, name: bytes | str) -> None:
        """Store `object` as the result for key `name` (atomic and durable).

        Usage: ``store.dump(value, h)``

        Parameters
        ----------
        object : any
            The value; must be storable (picklable, or an array or DataFrame).
        name : bytes or str
            The key (usually a 40-hex task hash).
        """
        if self.packed:
            self._remove_from_pack([name])
        self._commit(lambda f: self._write_to(object, f), self._getfname(name))

    def commit(self, object: Any, name: bytes | str, record: dict | None = None) -> bool:
        """Store a task's result and run record and remove its lock, only if this
        process still holds the lock; return False (nothing stored) if it lost it.

        Usage: ``if not store.commit(value, t.hash(), record): ...``

        The result is written to a temp file first (the slow part, outside the lock's
        critical section); then, fenced by the lock (:meth:`file_based_lock.fenced`: the
        lock is still ours and no takeover can start meanwhile), it is renamed into
        place, the record saved and the lock removed.  A worker whose lock was taken
        over (it was frozen or starved beyond its lease) thus never replaces the new
        owner's result (``docs/failures.rst``).
        """
        fname = self._getfname(name)
        tempname = self._write_temp(lambda f: self._write_to(object, f), fname)
        lock = self.getlock(name)
        try:
            with lock.fenced():
                if self.packed:
                    self._remove_from_pack([name])
                self._publish(tempname, fname)
                if record is not None:
                    self.save_record_or_warn(name, record)
                lock.remove()
        except LockLost:
            self._discard_temp(tempname, None, fname)
            return False
        except BaseException:  # _publish removed it already if it failed itself
            self._discard_temp(tempname, None, fname)
            raise
        return True

    def _write_to(self, object: Any, f: BinaryIO) -> None:
        """Write `object` to the open file `f` in its result file format (see
        :func:`jug.backends.file_formats.write_result`)."""
        write_result(object, f, self.compress_numpy)

    def load(self, name: bytes | str) -> Any:
        """Return the result stored for `name` (from the pack if it is there).

        Usage: ``value = store.load(h)``

        Raises
        ------
        FileNotFoundError
            If there is no such result.
        """
        if self.packed:
            key = as_bytes(name)
            if key in self.packed:
                return self.packed[key]
        try:
            return self._load_file(name)
        except FileNotFoundError:
            # packed by another process (`jug pack`) since this store read the pack?
            key = as_bytes(name)
            if self._reread_pack_if_changed() and key in self.packed:
                return self.packed[key]
            raise

    def _load_file(self, name: bytes | str) -> Any:
        """Load the result file of `name`, sniffing its format (npy, parquet, zlib).

        Raises
        ------
        FileNotFoundError
            If there is no such file.
        jug.errors.StoreError
            If the file cannot be decoded (e.g. truncated or overwritten): the message
            names the file, the decoding error is its ``__cause__``.
        """
        fname = self._getfname(name)
        try:
            f = open_regular(fname)
        except NotARegularFileError as e:
            raise StoreError(f'cannot load the result file {fname}: {e.strerror}; remove '
                             f'it (or `jug invalidate` its task) to compute it again') from e
        with f:
            try:
                return read_result(f, fname)
            except MissingPackageError:
                raise
            except (ImportError, AttributeError) as e:
                # the pickle refers to a module or class that cannot be found now
                raise StoreError(f'cannot load the result file {fname}: '
                                 f'{type(e).__name__}: {e}') from e
            except Exception as e:
                raise StoreError(f'cannot load the result file {fname}: it is damaged or '
                                 f'truncated ({type(e).__name__}: {e}); remove it (or '
                                 f'`jug invalidate` its task) to compute it again') from e

    def can_load(self, name: bytes | str) -> bool:
        """Return whether a result is stored for `name` (in the pack or as a file)."""
        if self.packed and as_bytes(name) in self.packed:
            return True
        if os.path.exists(self._getfname(name)):
            return True
        # packed by another process (`jug pack`) since this store read the pack?
        return self._reread_pack_if_changed() and as_bytes(name) in self.packed

    def remove(self, name: bytes | str) -> bool:
        """Remove the result for `name`; return whether there was one.

        Usage: ``store.remove(h)``
        """
        return bool(self.remove_many([name]))

    def remove_many(self, names: Iterable[bytes | str]) -> set:
        """Remove several results (pack entries and files) and their run records.

        Usage: ``removed = store.remove_many(hashes)``

        Returns
        -------
        set
            The names (as given) that had a result (records are not reported).
        """
        names = list(names)
        removed = self._remove_from_pack(names)
        for name in names:
            try:
                os.unlink(self._getfname(name))
            except FileNotFoundError:
                continue
            removed.add(name)
        self.remove_records(names)
        return removed

    # listing and cleaning up ----------------------------------------------------------
    def list(self) -> builtins.list[bytes]:
        """Return the keys (bytes) of all results: pack keys first, then files (sorted).

        Usage: ``keys = store.list()``
        """
        keys = list(self.packed.keys())
        keys.extend(self._iter_filekeys())
        return keys

    def _iter_filekeys(self) -> Iterator[bytes]:
        """Yield the key of every result file: ``xx`` directories, then files, sorted.

        Uses directory listings only (no stat per file), so it is fast for 10^5 results.
        """
        try:
            with os.scandir(self.jugdir) as it:
                subdirs = sorted(e.name for e in it if len(e.name) == 2 and e.is_dir())
        except FileNotFoundError:
            return
        for d in subdirs:
            try:
                with os.scandir(os.path.join(self.jugdir, d)) as it:
                    files = sorted(e.name for e in it if not e.is_dir())
            except (FileNotFoundError, NotADirectoryError):
                continue
            for f in files:
                yield os.fsencode(d + f)

    def metadata(self, t: Any) -> dict:
        """Return ``{'computed': bool[, 'completed': ctime][, 'record': dict]}`` for task `t`.

        Usage: ``store.metadata(task)``

        ``'record'`` (the run record, see :mod:`jug.records`) is present only when the
        task has one, so the output is Jug 2.7's otherwise.
        """
        name = t.hash()
        try:
            mtime = os.stat(self._getfname(name)).st_mtime
        except FileNotFoundError:
            meta: dict[str, Any] = {'computed': as_bytes(name) in self.packed}
        else:
            meta = {'computed': True, 'completed': time.ctime(mtime)}
        record = self.load_record(name)
        if record is not None:
            meta['record'] = record
        return meta

    @staticmethod
    def remove_store(jugdir: str) -> None:
        """Delete the whole jugdir, if it exists.

        Usage: ``file_store.remove_store('jugfile.jugdata')``
        """
        if os.path.exists(jugdir):
            import shutil  # lazy: rarely needed
            shutil.rmtree(jugdir)

    def close(self) -> None:
        """Nothing to release."""
        pass

    # locks --------------------------------------------------------------------------------
    def getlock(self, name: bytes | str) -> file_based_lock:
        """Return the :class:`file_based_lock` for `name`."""
        return file_based_lock(self.jugdir, name, self.lease)

    def _encode_to(self, object: Any, f: BinaryIO) -> None:
        """The generic encoding, by the module global ``encode_to`` (replaceable)."""
        encode_to(object, f)


class file_keepalive_store(file_store):
    """A :class:`file_store` whose locks are kept alive by a monitor process.

    Usage: ``store = file_keepalive_store('jugdata')`` (or ``--jugdir file_keepalive:jugdata``)

    A lock whose file has not been touched for 30 minutes counts as failed, so a crashed
    worker's tasks show up instead of staying locked forever.
    """

    def __repr__(self) -> str:
        return f'file_keepalive_store({self.jugdir})'

    __str__ = __repr__

    def getlock(self, name: bytes | str) -> file_keepalive_based_lock:
        """Return the :class:`file_keepalive_based_lock` for `name`."""
        return file_keepalive_based_lock(self.jugdir, name, self.lease)
