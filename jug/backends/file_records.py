"""Run records in a file store (layer 1): one append-only log per worker, and failure marks.

Records (``docs/failures.rst``) live beside Jug's layout, in ``<jugdir>/records/``:

* ``<host>-<pid>.jsonl``: the log of one worker process, one JSON line
  ``{"key": ..., "record": ...}`` per task run, appended without ``fsync``;
* ``failed/<key>.json``: the *failure mark* of a task whose last run failed (a copy
  of that line), so that a worker about to run a task learns in one system call
  whether it failed meanwhile (``docs/parallel.rst``);
* ``code/<function>/<fingerprint>``: an empty file per version of a function's code
  that computed results (``jug.codeversions``).

The directory name is not two characters long, so Jug 2.7 and ``list()`` do not take
records for results.

:class:`RecordLog` is a mixin of :class:`jug.backends.file_store.file_store`: it uses
the store's ``jugdir``, ``_commit`` (atomic writes) and ``_mark_write_error``, and keeps
the parsed logs in ``self._records`` (None until first read).

Imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import os

from .base import STATUS_FAILED, as_bytes, encode_record, parse_record
from .leases import nodename
from .safefiles import NotARegularFileError, open_regular

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, Iterable, Iterator

__all__ = ['RecordLog', 'RECORDS_DIR', 'RECORD_SUFFIX', 'FAILURES_DIR', 'FAILURE_SUFFIX',
           'CODE_DIR']

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
#: Code versions: ``<jugdir>/records/CODE_DIR/<function>/<fingerprint>``, an empty file
#: per version of a function's code that computed results (see ``jug.codeversions``).
CODE_DIR = 'code'


class RecordLog:
    """The run-record methods of a file store (a mixin: see the module docstring)."""

    _records: dict | None = None  # key -> newest record, read on first use

    if TYPE_CHECKING:
        # what the store class this is mixed into (file_store) provides
        jugdir: str

        def _commit(self, write: Callable[[BinaryIO], object], fname: str,
                    durable: bool = True) -> None: ...

        def _mark_write_error(self, error: Exception, fname: str) -> None: ...

    def _recorddir(self) -> str:
        """Return the directory of run records, ``<jugdir>/records``."""
        return os.path.join(self.jugdir, RECORDS_DIR)

    def _failure_file(self, name: bytes | str) -> str:
        """Return the path of the failure mark of key `name`."""
        return os.path.join(self._recorddir(), FAILURES_DIR,
                            as_bytes(name).decode('utf-8') + FAILURE_SUFFIX)

    def _record_log(self) -> str:
        """Return the path of this process's log of run records."""
        return os.path.join(self._recorddir(), f'{nodename()}-{os.getpid()}{RECORD_SUFFIX}')

    def save_record(self, name: bytes | str, record: dict) -> None:
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
                log = open_regular(path, 'ab')
            except FileNotFoundError:
                os.makedirs(self._recorddir(), exist_ok=True)
                log = open_regular(path, 'ab')
            with log:
                log.write(line + b'\n')
        except OSError as e:
            self._mark_write_error(e, path)
            raise
        self._records = None
        if record.get('status') == STATUS_FAILED:
            self._write_failure_mark(name, line)

    def _write_failure_mark(self, name: bytes | str, line: bytes) -> None:
        # informative, like the log: atomic (a reader sees all of it) but not fsynced
        self._commit(lambda f: f.write(line), self._failure_file(name), durable=False)

    def failure_mark(self, name: bytes | str) -> dict | None:
        """Return the run record of `name`'s last failure, if its last run failed.

        Usage: ``record = store.failure_mark(t.hash())``  (one ``open`` when absent)
        """
        try:
            with open_regular(self._failure_file(name)) as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError, NotARegularFileError):
            return None
        entry = parse_record(data)
        record = entry.get('record') if entry is not None else None
        return record if isinstance(record, dict) else None

    def _failure_keys(self) -> list[bytes]:
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

    def clear_failure_mark(self, name: bytes | str) -> None:
        """Remove the failure mark of `name` (no error if there is none).

        Usage: ``store.clear_failure_mark(t.hash())``
        """
        try:
            os.unlink(self._failure_file(name))
        except (FileNotFoundError, NotADirectoryError):
            pass

    def _record_logs(self) -> list[str]:
        try:
            names = os.listdir(self._recorddir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [os.path.join(self._recorddir(), n) for n in sorted(names)
                if n.endswith(RECORD_SUFFIX)]

    def _record_index(self) -> dict:
        """Return {key: newest record} from all logs (read once per store object)."""
        if self._records is None:
            index: dict[bytes, dict] = {}
            for path in self._record_logs():
                newest_here = dict(_read_record_log(path))  # later lines win
                for key, record in newest_here.items():
                    previous = index.get(key)
                    if previous is None or _record_time(record) >= _record_time(previous):
                        index[key] = record
            self._records = index
        return self._records

    def load_record(self, name: bytes | str) -> dict | None:
        """Return the newest run record of `name`; None if there is none.

        Usage: ``record = store.load_record(t.hash())``
        """
        return self._record_index().get(as_bytes(name))

    def list_records(self) -> list[bytes]:
        """Return the keys (bytes) that have a run record, sorted.

        Usage: ``keys = store.list_records()``
        """
        return sorted(self._record_index())

    def remove_records(self, names: Iterable[bytes | str]) -> None:
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


    # code versions: records/code/<function>/<fingerprint>, empty files ------------------
    def _code_dir(self, function: str) -> str:
        return os.path.join(self._recorddir(), CODE_DIR, function.replace(os.sep, '_'))

    def note_code_version(self, function: str, fingerprint: str) -> None:
        """Remember that `function`'s code with `fingerprint` computed results here
        (an empty file ``records/code/<function>/<fingerprint>``)."""
        path = os.path.join(self._code_dir(function), fingerprint)
        for attempt in range(2):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                return
            except FileNotFoundError:
                if attempt:
                    raise
                os.makedirs(os.path.dirname(path), exist_ok=True)
            else:
                return

    def code_versions(self, function: str) -> set:
        """The fingerprints noted for `function` (one directory listing)."""
        try:
            return set(os.listdir(self._code_dir(function)))
        except (FileNotFoundError, NotADirectoryError):
            return set()

    def forget_code_version(self, function: str, fingerprint: str) -> None:
        """Forget one noted fingerprint of `function` (no error if it is not noted)."""
        try:
            os.unlink(os.path.join(self._code_dir(function), fingerprint))
        except FileNotFoundError:
            pass


def _read_record_log(path: str) -> Iterator[tuple[bytes, dict]]:
    """Yield ``(key, record)`` for each intact line of a log of run records."""
    try:
        with open_regular(path) as log:
            lines = log.read().splitlines()
    except (FileNotFoundError, NotARegularFileError):
        return  # removed meanwhile, or not ours (a link, a FIFO...): skipped
    for line in lines:
        entry = parse_record(line)
        if entry is not None and isinstance(entry.get('key'), str) \
                and isinstance(entry.get('record'), dict):
            yield entry['key'].encode('utf-8'), entry['record']


def _record_time(record: dict) -> float:
    when = record.get('end', record.get('start', 0))
    return when if isinstance(when, (int, float)) else 0
