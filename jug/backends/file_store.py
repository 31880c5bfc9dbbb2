"""The file store (layer 1): results and locks as files in a directory (the *jugdir*).

Owns the on-disk layout of a jugdir, which Jug 2.7 workers share with us (SPEC §3.2–3.4):

* ``<jugdir>/<h[:2]>/<h[2:]>`` — the result for key ``h``: a raw ``.npy`` file for a
  plain ndarray, parquet for a polars DataFrame, an empty file for ``None``, else the
  zlib stream of :mod:`jug.backends.encode`;
* ``<jugdir>/tempfiles/`` — where results are written before being renamed into place;
* ``<jugdir>/locks/<h>.lock`` — one file per held lock (two text lines, see
  :data:`LOCK_PID_LINE`); a lock whose mtime is :data:`FAILED_LOCK_MTIME` is *failed*;
* ``<jugdir>/packs/jugpack`` — optional pack of small results (``jug pack``).

and, beside Jug's layout (Jug 2.7 ignores it; DESIGN.md "Extending without breaking"):

* ``<jugdir>/records/<h[:2]>/<h[2:]>.json`` — the run record of key ``h``
  (:mod:`jug.records`), created only when a record is saved.  Its directory name is
  not two characters long, so ``list()`` never takes records for results.

Also owns :class:`file_keepalive_store` (``file_keepalive:<dir>``), whose locks are kept
fresh by a helper process (:mod:`jug.backends.file_keepalive_monitor`).

Must not import ``jug.task`` or anything above layer 1.  numpy and polars are never
imported just to store something: an object can only be an array or a DataFrame if its
package is already in ``sys.modules``.  They are imported when a file needs them to load.
"""
from __future__ import annotations

import errno
import logging
import os
import sys
import time
# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, Iterator

from ..errors import MissingPackageError, StoreError, mark_store_error, store_error_message
from .base import (LOCK_FAILED, LOCK_FREE, LOCK_HELD, LOCK_STALE, STATUS_FAILED, as_bytes,
                   base_lock, base_store, encode_record, parse_record)
from .encode import decode_from, encode_to
from .leases import (DEFAULT_LEASE, _create_exclusive, heartbeat, holds, lease_line,
                     nodename, read_lock, stale_reason, take_over)

__all__ = ['file_store', 'file_based_lock', 'file_keepalive_store',
           'file_keepalive_based_lock', 'fsync_dir', 'MAX_FILESIZE_IN_PACK']

# --- compatibility constants ---------------------------------------------------------

#: Result files at most this many bytes are moved into the pack by ``update_pack``.
MAX_FILESIZE_IN_PACK = 512

#: First line of a lock file.  Jug 2.7 writes exactly these two lines; workers of both
#: projects share jugdirs, so they must stay.  Code reading lock files must accept extra
#: lines after them (we may add our own, e.g. leases) and files with only these two.
LOCK_PID_LINE = 'PID {pid} on HOSTNAME {hostname}\n'
#: Second line of a lock file; the time is local time formatted with LOCK_TIME_FORMAT.
LOCK_CREATED_LINE = 'Lock created on {created}\n'
LOCK_TIME_FORMAT = '%Y-%m-%d (%Hh%M.%S)'

#: A failed lock is a lock file whose atime and mtime are set to 1 second after the
#: epoch.  Jug 2.7 uses this marker (it survives NFS, needs no rewrite of the file and
#: leaves the lock in place so no other worker retries the task); existing jugdirs carry it.
FAILED_LOCK_MTIME = 1

#: A keepalive lock not touched for this many seconds counts as failed (its worker died).
KEEPALIVE_FAILED_AGE = 30 * 60

#: Name of the lock guarding read-modify-write of the pack file.
PACK_LOCK_NAME = 'pack-save'
#: How many times ``_modify_pack`` tries the pack lock (sleeping 1, 2, 4, ... s between).
PACK_LOCK_TRIES = 10

#: Run records live in ``<jugdir>/RECORDS_DIR/<host>-<pid>RECORD_SUFFIX``: one log per
#: worker process, one JSON line per task run, appended (creating a file per task would
#: cost a fifth of a trivial task's time).  The directory name is not two characters
#: long, so Jug 2.7 and ``list()`` do not see records as results.
RECORDS_DIR = 'records'
RECORD_SUFFIX = '.jsonl'
#: Failure marks: ``<jugdir>/records/FAILURES_DIR/<key>.json`` holds the run record of
#: a task whose last run failed (a copy of its line in a log), so that a worker about
#: to run a task learns in one system call whether it failed meanwhile.
FAILURES_DIR = 'failed'
FAILURE_SUFFIX = '.json'

#: Temporary result files are named with this many random ASCII letters.
TEMPNAME_LENGTH = 24
#: ``cleanup`` removes temp files not modified for this many seconds: they were left by
#: a worker killed while writing (a write in progress keeps its file's mtime fresh).
TEMPFILE_MAX_AGE = 60
_TEMPNAME_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'

#: Magic numbers used to recognise the format of a result file.
_NPY_MAGIC = b'\x93NUMPY'
_PARQUET_MAGIC = b'PAR1'

#: Permission bits of new lock files (before the umask).
_LOCK_FILE_MODE = 0o666


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


def _lock_text() -> bytes:
    """Jug 2.7's two lines of a new lock file (a lease line of ours follows them)."""
    return (LOCK_PID_LINE.format(pid=os.getpid(), hostname=nodename())
            + LOCK_CREATED_LINE.format(created=time.strftime(LOCK_TIME_FORMAT))).encode('utf-8')


def _unlink_quietly(fname: str) -> None:
    try:
        os.unlink(fname)
    except FileNotFoundError:
        pass


# --- the store -------------------------------------------------------------------------

class file_store(base_store):
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

    def __init__(self, dname, compress_numpy=False):
        dname = os.fspath(dname)
        if dname.endswith('/'):
            dname = dname[:-1]
        self.jugdir = dname
        self.compress_numpy = compress_numpy
        self.lease = DEFAULT_LEASE
        self._records = None  # index of run records, read on first use
        self._created = False
        self._packed_stamp = None
        self.packed = self._read_pack()

    def __repr__(self):
        return f'file_store({self.jugdir})'

    __str__ = __repr__

    # layout ---------------------------------------------------------------------------
    def _getfname(self, name) -> str:
        """Return the path of the result file for key `name` (``xx/yyyy...``)."""
        if isinstance(name, bytes):
            name = name.decode('utf-8')
        return os.path.join(self.jugdir, name[:2], name[2:])

    def tempdir(self) -> str:
        """Return the directory for temporary files, ``<jugdir>/tempfiles``."""
        return os.path.join(self.jugdir, 'tempfiles')

    def _packfile(self) -> str:
        """Return the path of the pack file, ``<jugdir>/packs/jugpack``."""
        return os.path.join(self.jugdir, 'packs', 'jugpack')

    def _lockdir(self) -> str:
        return os.path.join(self.jugdir, 'locks')

    def _recorddir(self) -> str:
        """Return the directory of run records, ``<jugdir>/records``."""
        return os.path.join(self.jugdir, RECORDS_DIR)

    def _failure_file(self, name) -> str:
        """Return the path of the failure mark of key `name`."""
        return os.path.join(self._recorddir(), FAILURES_DIR,
                            as_bytes(name).decode('utf-8') + FAILURE_SUFFIX)

    def _record_log(self) -> str:
        """Return the path of this process's log of run records."""
        return os.path.join(self._recorddir(), f'{nodename()}-{os.getpid()}{RECORD_SUFFIX}')

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

    def _commit(self, write: Callable[[BinaryIO], None], fname: str,
                durable: bool = True) -> None:
        """Atomically and durably make `fname` hold what `write(file)` writes.

        The commit protocol (DESIGN.md, habit 4):

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
            try:
                os.rename(tempname, fname)
            except FileNotFoundError:
                # first file in this xx/ directory (or first pack): create it and retry
                os.makedirs(os.path.dirname(fname), exist_ok=True)
                os.rename(tempname, fname)
        except BaseException as e:
            try:
                os.unlink(tempname)
            except OSError:
                pass  # e.g. a read-only tempfiles: keep the original error (cleanup removes it)
            if isinstance(e, Exception):  # OSError, or a value that cannot be pickled
                self._mark_write_error(e, fname)
            raise
        if durable:
            fsync_dir(fname)  # module global, looked up at call time (tests monkeypatch it)

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
    def dump(self, object, name):
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

    def _write_to(self, object, f: BinaryIO) -> None:
        """Write the file format of `object` to the open file `f`.

        Raw ``.npy`` for an exact ndarray of non-object dtype and parquet for an exact
        polars DataFrame (unless ``compress_numpy``); if that native writer fails with
        ``OSError`` or ``ValueError`` the file is emptied and the generic encoding used.
        Everything else uses :func:`jug.backends.encode.encode_to` (nothing for None).
        """
        if object is not None and not self.compress_numpy:
            np = sys.modules.get('numpy')
            if np is not None and type(object) is np.ndarray and not object.dtype.hasobject:
                try:
                    np.lib.format.write_array(f, object)  # looked up at call time
                    return
                except (OSError, ValueError):
                    f.seek(0)
                    f.truncate()
            pl = sys.modules.get('polars')
            if pl is not None and type(object) is pl.DataFrame:
                try:
                    object.write_parquet(f)
                    return
                except (OSError, ValueError):
                    f.seek(0)
                    f.truncate()
        encode_to(object, f)

    def load(self, name):
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

    def _load_file(self, name):
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
        with open(fname, 'rb') as f:
            try:
                return self._decode_file(f, fname)
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

    def _decode_file(self, f: BinaryIO, fname: str):
        """Decode the open, non-empty or empty result file `f` (see _load_file)."""
        head = f.read(len(_NPY_MAGIC))
        if not head:
            return None  # an empty file stores None
        f.seek(0)
        npy_error = None
        if head == _NPY_MAGIC:
            import numpy as np  # lazy: only array results need numpy
            try:
                return np.lib.format.read_array(f)
            except ValueError as e:
                npy_error = e
                f.seek(0)
        elif head.startswith(_PARQUET_MAGIC):
            try:
                import polars
            except ImportError as e:
                raise MissingPackageError('polars', f'Loading the result {fname!r} '
                                          f'(a polars DataFrame)') from e
            try:
                return polars.read_parquet(f)
            except Exception:
                f.seek(0)
        try:
            value = decode_from(f)
        except Exception:
            if npy_error is not None:
                raise npy_error  # a damaged .npy file: its own error is the clear one
            raise
        if value is None:
            # Jug stores None as an empty file; a zlib stream holding an encoded None
            # (another writer's) starts with the prefix byte.  Otherwise the stream was
            # cut short before its first byte of data.
            import zlib  # lazy: only needed for this rare case
            f.seek(0)
            if not zlib.decompressobj().decompress(f.read(8192)):
                raise ValueError('no data could be decompressed from it')
        return value

    def can_load(self, name):
        """Return whether a result is stored for `name` (in the pack or as a file)."""
        if self.packed and as_bytes(name) in self.packed:
            return True
        if os.path.exists(self._getfname(name)):
            return True
        # packed by another process (`jug pack`) since this store read the pack?
        return self._reread_pack_if_changed() and as_bytes(name) in self.packed

    def _pack_stamp(self):
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

    def remove(self, name):
        """Remove the result for `name`; return whether there was one.

        Usage: ``store.remove(h)``
        """
        return bool(self.remove_many([name]))

    def remove_many(self, names):
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

    # run records ------------------------------------------------------------------------
    def save_record(self, name, record: dict) -> None:
        """Append the run record of `name` to this process's log in ``records/``.

        Usage: ``store.save_record(t.hash(), record)``

        Parameters
        ----------
        name : bytes or str
            The task's key.
        record : dict
            A JSON-serialisable dict (see :mod:`jug.records`).

        Notes
        -----
        One line per record, appended without ``fsync`` (records are informative): a
        crash may lose the last record or leave half a line, which readers skip.  The
        log is opened for each record, so a log rewritten by ``remove_records`` is
        appended to from then on.
        """
        line = encode_record({'key': as_bytes(name).decode('utf-8'), 'record': record})
        path = self._record_log()
        try:
            try:
                log = open(path, 'ab')
            except FileNotFoundError:
                os.makedirs(self._recorddir(), exist_ok=True)
                log = open(path, 'ab')
            with log:
                log.write(line + b'\n')
        except OSError as e:
            self._mark_write_error(e, path)
            raise
        self._records = None
        if record.get('status') == STATUS_FAILED:
            self._write_failure_mark(name, line)

    def _write_failure_mark(self, name, line: bytes) -> None:
        # informative, like the log: atomic (a reader sees all of it) but not fsynced
        self._commit(lambda f: f.write(line), self._failure_file(name), durable=False)

    def failure_mark(self, name) -> dict | None:
        """Return the run record of `name`'s last failure, if its last run failed.

        Usage: ``record = store.failure_mark(t.hash())``  (one ``open`` when absent)
        """
        try:
            with open(self._failure_file(name), 'rb') as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        entry = parse_record(data)
        record = entry.get('record') if entry is not None else None
        return record if isinstance(record, dict) else None

    def _failure_keys(self) -> list:
        try:
            names = os.listdir(os.path.join(self._recorddir(), FAILURES_DIR))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [os.fsencode(n[:-len(FAILURE_SUFFIX)]) for n in sorted(names)
                if n.endswith(FAILURE_SUFFIX)]

    def failure_marks(self) -> dict:
        """Return ``{key: record}`` of every task whose last run failed (one listing).

        Usage: ``marks = store.failure_marks()``
        """
        marks = {}
        for key in self._failure_keys():
            record = self.failure_mark(key)
            if record is not None:
                marks[key] = record
        return marks

    def clear_failure_mark(self, name) -> None:
        """Remove the failure mark of `name` (no error if there is none).

        Usage: ``store.clear_failure_mark(t.hash())``
        """
        try:
            os.unlink(self._failure_file(name))
        except (FileNotFoundError, NotADirectoryError):
            pass

    def _record_logs(self) -> list:
        try:
            names = os.listdir(self._recorddir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [os.path.join(self._recorddir(), n) for n in sorted(names)
                if n.endswith(RECORD_SUFFIX)]

    def _record_index(self) -> dict:
        """Return {key: newest record} from all logs (read once per store object)."""
        if self._records is None:
            index = {}
            for path in self._record_logs():
                newest_here = dict(_read_record_log(path))  # later lines win
                for key, record in newest_here.items():
                    previous = index.get(key)
                    if previous is None or _record_time(record) >= _record_time(previous):
                        index[key] = record
            self._records = index
        return self._records

    def load_record(self, name) -> dict | None:
        """Return the newest run record of `name`; None if there is none.

        Usage: ``record = store.load_record(t.hash())``
        """
        return self._record_index().get(as_bytes(name))

    def list_records(self) -> list:
        """Return the keys (bytes) that have a run record, sorted.

        Usage: ``keys = store.list_records()``
        """
        return sorted(self._record_index())

    def remove_records(self, names) -> None:
        """Delete the run records of `names` (no error if absent).

        Usage: ``store.remove_records([h1, h2])``

        Rewrites the logs that mention them (atomically, by rename).  A record appended
        by a worker at that very moment may be lost.
        """
        doomed = {as_bytes(n) for n in names}
        for key in doomed.intersection(self._failure_keys()):
            self.clear_failure_mark(key)
        logs = self._record_logs()
        if not logs:
            return  # the common case (no records yet): one listing, nothing to read
        for path in logs:
            entries = list(_read_record_log(path))
            kept = [(key, record) for key, record in entries if key not in doomed]
            if len(kept) == len(entries):
                continue
            data = b''.join(encode_record({'key': key.decode('utf-8'), 'record': record})
                            + b'\n' for key, record in kept)
            self._commit(lambda f: f.write(data), path, durable=False)
        self._records = None

    def list(self):
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

    def metadata(self, t):
        """Return ``{'computed': bool[, 'completed': ctime][, 'record': dict]}`` for task `t`.

        Usage: ``store.metadata(task)``

        ``'record'`` (the run record, see :mod:`jug.records`) is present only when the
        task has one, so the output is Jug 2.7's otherwise.
        """
        name = t.hash()
        try:
            mtime = os.stat(self._getfname(name)).st_mtime
        except FileNotFoundError:
            meta = {'computed': as_bytes(name) in self.packed}
        else:
            meta = {'computed': True, 'completed': time.ctime(mtime)}
        record = self.load_record(name)
        if record is not None:
            meta['record'] = record
        return meta

    def cleanup(self, active, keeplocks=False):
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
        progress and are kept.
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
        return removed

    def _remove_abandoned_tempfiles(self) -> None:
        """Remove the temp files not modified for :data:`TEMPFILE_MAX_AGE` seconds."""
        try:
            with os.scandir(self.tempdir()) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            return
        oldest_kept = time.time() - TEMPFILE_MAX_AGE
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and \
                        entry.stat(follow_symlinks=False).st_mtime < oldest_kept:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue  # renamed into place (or removed) meanwhile

    @staticmethod
    def remove_store(jugdir):
        """Delete the whole jugdir, if it exists.

        Usage: ``file_store.remove_store('jugfile.jugdata')``
        """
        if os.path.exists(jugdir):
            import shutil  # lazy: rarely needed
            shutil.rmtree(jugdir)

    def close(self):
        """Nothing to release."""
        pass

    # locks --------------------------------------------------------------------------------
    def getlock(self, name):
        """Return the :class:`file_based_lock` for `name`."""
        return file_based_lock(self.jugdir, name, self.lease)

    def set_lease(self, lease):
        """Use `lease` (a :class:`jug.backends.leases.LeaseSettings`) for new locks."""
        self.lease = lease

    def listlocks(self):
        """Return the names (bytes) of all lock files, ``[]`` if there are none.

        Usage: ``names = store.listlocks()``
        """
        try:
            names = os.listdir(self._lockdir())
        except FileNotFoundError:
            return []
        return [os.fsencode(n[:-len('.lock')]) for n in sorted(names) if n.endswith('.lock')]

    def remove_locks(self):
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

    # the pack -------------------------------------------------------------------------------
    def _read_pack(self) -> dict:
        """Read the pack file from disk; ``{}`` if there is none.

        ``'.'`` is put first on ``sys.path`` while unpickling (packed objects may be
        instances of classes defined next to the jugfile) and always taken off again.
        """
        try:
            f = open(self._packfile(), 'rb')
        except FileNotFoundError:
            return {}
        except (NotADirectoryError, PermissionError) as e:
            raise self._store_error(e) from e
        with f:
            stat = os.fstat(f.fileno())
            sys.path.insert(0, '.')
            try:
                packed = decode_from(f)
            finally:
                if sys.path and sys.path[0] == '.':
                    del sys.path[0]
                else:  # decoding changed sys.path: remove our entry wherever it is
                    try:
                        sys.path.remove('.')
                    except ValueError:
                        pass
        if not isinstance(packed, dict):
            raise StoreError(f'The pack file {self._packfile()} is damaged (it does not hold '
                             'a dict of results); move it away to use this jug data directory')
        self._packed_stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        return packed

    def _write_pack(self, packed: dict) -> None:
        """Atomically and durably replace the pack file with `packed` (see _commit)."""
        # encode_to is the module global, looked up at call time (tests monkeypatch it)
        self._commit(lambda f: encode_to(packed, f), self._packfile())

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

    def _remove_from_pack(self, names) -> set:
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

    def update_pack(self):
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
        collected = {}
        identities = {}
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

    def resave_pack(self):
        """Write the in-memory pack to disk, under the pack lock (legacy)."""
        mine = dict(self.packed)

        def replace(packed: dict) -> bool:
            packed.clear()
            packed.update(mine)
            return True

        self._modify_pack(replace)


class file_based_lock(base_lock):
    """Lock held as the existence of ``<jugdir>/locks/<name>.lock``, with a lease.

    Usage: ``lock = file_based_lock(jugdir, h); if lock.get(): ...``

    Parameters
    ----------
    jugdir : str
    name : bytes or str
        ``'foo'`` and ``b'foo'`` are the same lock.
    lease : jug.backends.leases.LeaseSettings, optional
        Lease length and refresh interval of locks this object takes.

    Notes
    -----
    ``get()`` creates the file with ``O_CREAT | O_EXCL``, which is atomic (also on NFS
    v3+), and writes Jug's two lines (pid and host, creation time) plus a lease line;
    while held, the lock is refreshed by this process's heartbeat thread.  A lock found
    *stale* (its holder is gone, or its lease expired) is taken over, by one worker
    only (:mod:`jug.backends.leases`).  ``fail()`` marks the lock by setting its mtime
    to :data:`FAILED_LOCK_MTIME`.
    """

    def __init__(self, jugdir, name, lease=None):
        if isinstance(name, bytes):
            name = name.decode('utf-8')
        self.fullname = os.path.join(jugdir, 'locks', name + '.lock')
        self.lease = DEFAULT_LEASE if lease is None else lease

    def __repr__(self):
        return f'{type(self).__name__}({self.fullname})'

    def get(self):
        """Try to take the lock; True if taken, False if a live holder has it.

        A stale lock (see :meth:`stale_reason`) is taken over.  Other OS errors (e.g. a
        read-only locks directory) propagate.
        """
        token = os.urandom(8).hex()
        content = _lock_text() + lease_line(self.lease, token).encode('utf-8')
        # No exists() check first: O_EXCL answers the same question in one system call.
        try:
            created = _create_exclusive(self.fullname, content, _LOCK_FILE_MODE)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(self.fullname), exist_ok=True)
            created = _create_exclusive(self.fullname, content, _LOCK_FILE_MODE)
        if not created and not self._take_over_if_stale(content):
            return False
        heartbeat.hold(self.fullname, token, self.lease.heartbeat_interval)
        return True

    def _take_over_if_stale(self, content: bytes) -> bool:
        found = read_lock(self.fullname)
        if found is None:
            return False
        reason = stale_reason(*found)
        if reason is None or not take_over(self.fullname, found[0], content, _LOCK_FILE_MODE,
                                           found[1]):
            return False
        logging.warning(f'Took over the stale lock {self.fullname}: {reason}.')
        return True

    def release(self):
        """Remove the lock file (no error if it is gone or cannot be removed).

        A lock this process took is removed only if it is still its own (it may have
        been taken over while this process was frozen for longer than the lease).  A
        lock that cannot be removed (e.g. the jugdir became read-only) is left with a
        warning: it becomes stale once this process is gone.
        """
        with heartbeat.guard:
            token = heartbeat.drop(self.fullname)
            if token is not None and not holds(self.fullname, token):
                logging.warning(f'The lock {self.fullname} was taken over by another worker '
                                'while this one held it; it is left to that worker.')
                return
            try:
                os.unlink(self.fullname)
            except FileNotFoundError:
                pass
            except OSError as e:  # SPEC §3.4: release ignores OSError (it runs in finally)
                logging.warning(f'jug: could not remove the lock file {self.fullname}: '
                                f'{e.strerror}')

    def is_locked(self):
        """Return whether the lock file exists."""
        return os.path.exists(self.fullname)

    def fail(self):
        """Mark the lock as failed; return False if there is no lock file."""
        with heartbeat.guard:
            token = heartbeat.drop(self.fullname)
            if token is not None and not holds(self.fullname, token):
                return False  # taken over by another worker: not ours to mark
            try:
                os.utime(self.fullname, (FAILED_LOCK_MTIME, FAILED_LOCK_MTIME))
            except FileNotFoundError:
                return False
        return True

    def is_failed(self):
        """Return whether the lock file exists and carries the failed marker."""
        try:
            return os.stat(self.fullname).st_mtime == FAILED_LOCK_MTIME
        except FileNotFoundError:
            return False

    def stale_reason(self):
        """Return why the lock is stale (its holder is gone), or None if it is not."""
        found = read_lock(self.fullname)
        return None if found is None else stale_reason(*found)

    def is_stale(self):
        """Return whether the lock exists and its holder is gone (see stale_reason)."""
        return self.stale_reason() is not None

    def holder_state(self):
        """Return ``LOCK_FREE``, ``LOCK_FAILED``, ``LOCK_STALE`` or ``LOCK_HELD`` (one
        read of the lock file)."""
        found = read_lock(self.fullname)
        if found is None:
            return LOCK_FREE
        stat, info = found
        if stat.st_mtime == FAILED_LOCK_MTIME:
            return LOCK_FAILED
        return LOCK_HELD if stale_reason(stat, info) is None else LOCK_STALE

    def is_held_by_live_worker(self):
        """Whether a live worker of ours, other than this process, holds the lock.

        True only for a lock with a lease line that is neither failed nor stale and was
        not written by this process.  Jug 2.7's locks (no lease) are never known live.
        """
        found = read_lock(self.fullname)
        if found is None:
            return False
        stat, info = found
        if info.lease_time is None or stat.st_mtime == FAILED_LOCK_MTIME:
            return False
        if info.pid == os.getpid() and info.host == nodename():
            return False
        return stale_reason(stat, info) is None

    def remove_unless_live(self):
        """Remove the lock unless a live worker holds it; return whether it was removed.

        Goes through the takeover protocol (:func:`jug.backends.leases.take_over`), so
        that a worker taking the lock over at the same moment keeps it.
        """
        found = read_lock(self.fullname)
        if found is None or self.is_held_by_live_worker():
            return False
        with heartbeat.guard:
            heartbeat.drop(self.fullname)  # in case this very process held it
        return take_over(self.fullname, found[0], None, _LOCK_FILE_MODE, found[1])


def _read_record_log(path: str):
    """Yield ``(key, record)`` for each intact line of a log of run records."""
    try:
        with open(path, 'rb') as log:
            lines = log.read().splitlines()
    except (FileNotFoundError, IsADirectoryError):
        return
    for line in lines:
        entry = parse_record(line)
        if entry is not None and isinstance(entry.get('key'), str) \
                and isinstance(entry.get('record'), dict):
            yield entry['key'].encode('utf-8'), entry['record']


def _record_time(record: dict) -> float:
    when = record.get('end', record.get('start', 0))
    return when if isinstance(when, (int, float)) else 0


class file_keepalive_store(file_store):
    """A :class:`file_store` whose locks are kept alive by a monitor process.

    Usage: ``store = file_keepalive_store('jugdata')`` (or ``--jugdir file_keepalive:jugdata``)

    A lock whose file has not been touched for 30 minutes counts as failed, so a crashed
    worker's tasks show up instead of staying locked forever.
    """

    def __repr__(self):
        return f'file_keepalive_store({self.jugdir})'

    __str__ = __repr__

    def getlock(self, name):
        """Return the :class:`file_keepalive_based_lock` for `name`."""
        return file_keepalive_based_lock(self.jugdir, name, self.lease)


class file_keepalive_based_lock(file_based_lock):
    """File lock refreshed by a :mod:`jug.backends.file_keepalive_monitor` process.

    Usage: ``lock = file_keepalive_based_lock(jugdir, h)``

    Attributes
    ----------
    monitor : subprocess.Popen or None
        The monitor process while this object holds the lock.
    """

    def __init__(self, jugdir, name, lease=None):
        super().__init__(jugdir, name, lease)
        self.monitor = None

    def get(self):
        """Take the lock and start its monitor; False (and no monitor) if it is taken."""
        if not super().get():
            return False
        import subprocess  # lazy: only keepalive stores start processes
        env = dict(os.environ)
        # The monitor is run as `python -m jug.backends.file_keepalive_monitor`: make sure
        # the child finds this very copy of jug even when it is not installed.
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env['PYTHONPATH'] = os.pathsep.join(
            [package_root] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
        self.monitor = subprocess.Popen(
            [sys.executable, '-m', 'jug.backends.file_keepalive_monitor', self.fullname],
            stdin=subprocess.DEVNULL, env=env)
        return True

    def _stop_monitor(self) -> None:
        if self.monitor is not None:
            self.monitor.kill()
            self.monitor.wait()
            self.monitor = None

    def release(self):
        """Stop the monitor and remove the lock file."""
        self._stop_monitor()
        super().release()

    def fail(self):
        """Stop the monitor and mark the lock as failed."""
        self._stop_monitor()
        return super().fail()

    holder_state = base_lock.holder_state  # its own is_failed (age), not the marker

    def is_failed(self):
        """Return whether the lock exists and was not touched for 30 minutes."""
        try:
            mtime = os.stat(self.fullname).st_mtime
        except FileNotFoundError:
            return False
        return time.time() - mtime > KEEPALIVE_FAILED_AGE
