"""Run records: what ``jug execute`` remembers about each task it ran (layer 3).

A *run record* is a JSON-serialisable dict that the store keeps beside a task's result
(``store.save_record(key, record)``; in a file store, a line of the worker's log in
``<jugdir>/records/``: see ``docs/failures.rst``).
It is never a result: stores do not list it as one and ``cleanup`` does not count it.
Its keys:

============  ===============================================================
name          the task's name (``'jugfile.f'``)
hash          the task's hash, as a str
host          the node name of the machine that ran it
pid           the id of the worker process
start, end    when it started and ended (seconds since the epoch)
duration      ``end - start``, in seconds
code          the fingerprint of the task's function's code (``jug.codeversions``),
              when it has one
batch         when the worker ran in a batch job: ``{'scheduler', 'job',
              'array_job', 'array_task', 'step'}`` (those the scheduler set;
              ``jug.batchjobs.batch_job``)
peak_memory   the worker process's peak resident memory so far, in bytes
              (it includes earlier tasks of the same worker); None if unknown
status        ``'finished'``, ``'failed'`` or ``'interrupted'`` (the worker was
              stopped while running it: Ctrl-C, SIGTERM, ``sys.exit``)
error         only when failed or interrupted: ``{'type', 'message', 'traceback'}``
============  ===============================================================

Owns building records (:func:`start_record`, :func:`finish_record`), describing them
to people (:func:`format_record`, :func:`format_failure`) and the one rule saying which
tasks count as failed (:func:`find_failed`), shared by ``jug status --failed`` and the
other views.

Imports only the standard library and ``jug.backends`` (layer 1: the host name, the
status constants): tasks and stores are used through their methods (``name``, ``hash()``;
``load_record``, ``list_records``, ``getlock``), never imported.
"""
from __future__ import annotations

import functools
import os
import reprlib
import sys
import time

try:
    import resource  # Unix only
except ImportError:  # pragma: no cover (Windows)
    resource = None  # type: ignore[assignment]  # an optional module, tested below

from .backends.base import STATUS_FAILED, STATUS_FINISHED, STATUS_INTERRUPTED
from .backends.leases import nodename  # the host name exactly as lock files give it
from .batchjobs import batch_job
from .codeversions import task_fingerprint

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

__all__ = ['start_record', 'finish_record', 'peak_memory', 'format_record', 'format_failure',
           'traceback_tail', 'find_failed', 'failure_id', 'failure_line', 'describe_call',
           'STATUS_FINISHED',
           'STATUS_FAILED', 'STATUS_INTERRUPTED']

#: How many characters of a task hash identify it in human-readable output.
SHORT_HASH = 12

#: Format of the local times shown to people.
TIME_FORMAT = '%Y-%m-%d %H:%M:%S'


# --- building records ------------------------------------------------------------------

def _hash_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    return bytes(key).decode('utf-8', 'replace')


def start_record(task: Any) -> dict:
    """Start the run record of `task`, just before it runs.

    Usage: ``record = start_record(t)``

    Parameters
    ----------
    task : Task
        Anything with a ``name`` attribute and a ``hash()`` method.

    Returns
    -------
    dict
        ``{'name', 'hash', 'host', 'pid', 'start'}`` and, for a task that runs a
        function, ``'code'`` (:func:`jug.codeversions.fingerprint`); complete it with
        :func:`finish_record` once the task has run.
    """
    record = {
        'name': task.name,
        'hash': _hash_text(task.hash()),
        'host': nodename(),
        'pid': os.getpid(),
        'start': time.time(),
    }
    code = task_fingerprint(task)
    if code is not None:
        record['code'] = code
    job = _own_batch_job()
    if job is not None:
        record['batch'] = job
    return record


@functools.lru_cache(maxsize=None)
def _own_batch_job() -> dict | None:
    """The batch job of this process (looked up once: its environment is fixed)."""
    return batch_job()


def peak_memory() -> int | None:
    """Return the peak resident memory of this process so far, in bytes.

    Usage: ``peak_memory()``

    Returns
    -------
    int or None
        ``ru_maxrss`` of ``getrusage(RUSAGE_SELF)``, which is in KiB on Linux and the
        BSDs and in bytes on macOS; None where the ``resource`` module is missing.
    """
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == 'darwin' else peak * 1024


def _type_name(error: BaseException) -> str:
    """Qualified name of the type of `error` (no module prefix for built-ins)."""
    cls = type(error)
    module = cls.__module__
    if module in (None, 'builtins'):
        return cls.__qualname__
    return f'{module}.{cls.__qualname__}'


def _interruption(error: BaseException) -> str:
    """What stopped the worker: a signal (``signal_name`` of jug's exceptions for
    signals), Ctrl-C, or ``sys.exit(code)``."""
    signal_name = getattr(error, 'signal_name', None)
    if signal_name:
        return f'the worker received {signal_name}'
    if isinstance(error, KeyboardInterrupt):
        return 'the worker was interrupted (Ctrl-C or SIGINT)'
    return f'the task or the worker called sys.exit({getattr(error, "code", None)!r})'


def _message(error: BaseException) -> str:
    """``str(error)``, or a placeholder if that raises (a record must never fail)."""
    try:
        return str(error)
    except Exception:
        return f'<unprintable {type(error).__name__} object>'


def finish_record(record: dict, error: BaseException | None = None) -> dict:
    """Complete a run record started by :func:`start_record`, once the task has run.

    Usage: ``store.save_record(t.hash(), finish_record(record, error))``

    Parameters
    ----------
    record : dict
        The dict returned by :func:`start_record`; it is completed in place.
    error : BaseException, optional
        The exception the task raised (None if it returned normally).  Call this while
        the exception's traceback is still attached (``error.__traceback__``).

    Returns
    -------
    dict
        `record`, with ``end``, ``duration``, ``peak_memory``, ``status`` and, for a
        failure, ``error = {'type', 'message', 'traceback'}``.
    """
    end = time.time()
    record['end'] = end
    record['duration'] = end - record['start']
    record['peak_memory'] = peak_memory()
    if error is None:
        record['status'] = STATUS_FINISHED
        record.pop('error', None)
    else:
        import traceback  # lazy: only failures need it
        interrupted = isinstance(error, (SystemExit, KeyboardInterrupt))
        record['status'] = STATUS_INTERRUPTED if interrupted else STATUS_FAILED
        record['error'] = {
            'type': _type_name(error),
            'message': _interruption(error) if interrupted else _message(error),
            'traceback': ''.join(traceback.format_exception(
                type(error), error, error.__traceback__)),
        }
    return record


# --- describing records ----------------------------------------------------------------
# Records read back from a store may come from another version or be incomplete: the
# functions below never assume a key is present.

def local_time(t: Any) -> str:
    """``2026-12-01 19:03:12`` (local time) of seconds since the epoch; ``?`` if not a
    time."""
    if not isinstance(t, (int, float)) or isinstance(t, bool):
        return '?'  # time.localtime(None) would be "now"
    try:
        return time.strftime(TIME_FORMAT, time.localtime(t))
    except (TypeError, ValueError, OverflowError, OSError):
        return '?'


def _format_bytes(n: Any) -> str:
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return 'unknown'
    if n < 1024:
        return f'{n} bytes'
    for unit in ('KiB', 'MiB', 'GiB'):
        n /= 1024
        if n < 1024 or unit == 'GiB':
            break
    return f'{n:.1f} {unit}'


def _host_pid(record: dict) -> str:
    return f"{record.get('host', '?')}, pid {record.get('pid', '?')}"


def _short_hash(key: Any) -> str:
    return _hash_text(key)[:SHORT_HASH]


def _error_summary(error: dict) -> str:
    """``'Type: first line of the message'`` (or just the type for an empty message)."""
    kind = error.get('type', 'unknown error')
    lines = str(error.get('message', '')).splitlines()
    if not lines:
        return kind
    more = ' ...' if len(lines) > 1 else ''
    return f'{kind}: {lines[0]}{more}'


def traceback_tail(record: dict) -> list:
    """Return the lines of the innermost frame of the record's traceback.

    Usage: ``for line in traceback_tail(record): ...``

    That is the last ``File "...", line N, in f`` line and the source line(s) under it
    (where the exception was raised), without Python's ``^^^`` markers; ``[]`` if the
    record has no traceback.
    """
    error = record.get('error')
    text = error.get('traceback') if isinstance(error, dict) else None
    lines = text.splitlines() if isinstance(text, str) else []
    starts = [i for i, line in enumerate(lines) if line.startswith('  File ')]
    if not starts:
        return []
    tail = [lines[starts[-1]].strip()]
    for line in lines[starts[-1] + 1:]:
        if not line.startswith('    '):
            break  # the exception line(s) that close the traceback
        if line.strip(' ^~'):
            tail.append('  ' + line.strip())
    return tail


def describe_batch_job(job: dict) -> str:
    """``slurm job 123 (array 120, element 3, step 0)`` from a record's ``batch``."""
    parts = [f'{name} {job[field]}' for field, name in
             (('array_job', 'array'), ('array_task', 'element'), ('step', 'step'))
             if field in job]
    text = f"{job.get('scheduler', '?')} job {job.get('job', '?')}"
    return text + (f' ({", ".join(parts)})' if parts else '')


def format_record(record: dict) -> str:
    """Describe a run record in a few lines of text, for people.

    Usage: ``print(format_record(store.load_record(t.hash())))``

    Parameters
    ----------
    record : dict
        A run record (as saved by ``jug execute``; missing keys are shown as ``?``).

    Returns
    -------
    str
        Several lines (no final newline): name, short hash and status; where and when
        it ran; its peak memory; for a failure the error and the innermost frame of
        its traceback.
    """
    duration = record.get('duration')
    took = f'{duration:.3f} s' if isinstance(duration, (int, float)) else '? s'
    name, key = record.get('name', '?'), record.get('hash', '?')
    lines = [
        f"{name} {_short_hash(key)}: {record.get('status', '?')}",
        f'  ran on {_host_pid(record)}, from {local_time(record.get("start"))} '
        f'to {local_time(record.get("end"))} ({took})',
        f'  peak memory of the worker: {_format_bytes(record.get("peak_memory"))}',
    ]
    job = record.get('batch')
    if isinstance(job, dict):
        lines.append(f'  in batch job: {describe_batch_job(job)}')
    error = record.get('error')
    if isinstance(error, dict):
        lines.append(f'  error: {_error_summary(error)}')
        lines.extend('    ' + line for line in traceback_tail(record))
    return '\n'.join(lines)


def failure_id(record: dict) -> tuple:
    """Return what tells one failure of a task from another: ``(host, pid, start)``.

    Usage: ``if failure_id(new) != failure_id(old): ...``
    """
    return (record.get('host'), record.get('pid'), record.get('start'))


def failure_line(record: dict) -> str:
    """Describe a failure record in one line: ``Type: message (on host, pid N, time)``.

    Usage: ``logging.warning(failure_line(store.failure_mark(key)))``
    """
    error = record.get('error')
    summary = _error_summary(error) if isinstance(error, dict) else 'failed'
    when = local_time(record.get('end', record.get('start')))
    return f'{summary} (on {_host_pid(record)}, {when})'


#: Longest description of a call (:func:`describe_call`), in characters.
CALL_WIDTH = 100


def describe_call(task: Any) -> str:
    """A short form of what `task` computes: ``name(arg, ..., key=value)``.

    Usage: ``describe_call(t)`` → ``"jugfile.process('img3.png', threshold=0.5)"``

    Arguments that are tasks show as their task's name with ``(...)``; long values,
    strings and containers are cut (:mod:`reprlib`); the whole is at most
    :data:`CALL_WIDTH` characters.
    """
    short = _ShortRepr()
    parts = [short.repr(a) for a in getattr(task, 'args', ())]
    parts += [f'{k}={short.repr(v)}' for k, v in getattr(task, 'kwargs', {}).items()]
    text = f'{task.name}({", ".join(parts)})'
    return text if len(text) <= CALL_WIDTH else text[:CALL_WIDTH - 4] + '...)'


class _ShortRepr(reprlib.Repr):
    """reprlib's short forms, with tasks shown by name."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = self.maxother = 40
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 4

    def repr1(self, x: Any, level: int) -> str:
        if getattr(type(x), '_jug_is_task', False):
            base = x
            while not hasattr(base, 'name') and hasattr(base, 'base'):
                base = base.base  # a Tasklet: its task
            return f'{getattr(base, "name", "task")}(...)'
        return super().repr1(x, level)


def format_failure(name: str, key: bytes | str, record: dict | None) -> list:
    """Describe one failed task for ``jug status --failed``: a list of lines.

    Usage: ``for line in format_failure(name, key, record): options.print_out(line)``

    Parameters
    ----------
    name : str
        The task's name.
    key : bytes or str
        The task's hash.
    record : dict or None
        Its run record of the failure, or None if there is none (e.g. the task failed
        under a worker that keeps no records, such as Jug 2.7).

    Returns
    -------
    list of str
        ``<name> <hash[:12]>: <Type>: <message> (on <host>, pid <pid>, <time>)``, then
        the innermost frame of the traceback indented by four spaces; or one line
        saying there is no record.
    """
    head = f'{name} {_short_hash(key)}'
    if record is None:
        return [f'{head}: failed, but there is no run record of the failure']
    lines = [f'{head}: {failure_line(record)}']
    lines.extend('    ' + line for line in traceback_tail(record))
    return lines


# --- which tasks failed ------------------------------------------------------------------

def _as_key(key: Any) -> bytes:
    return key.encode('utf-8') if isinstance(key, str) else bytes(key)


def find_failed(store: Any, unfinished: Iterable, interrupted: list | None = None) -> list:
    """Return the tasks among `unfinished` that failed, with their run records.

    Usage: ``find_failed(store, [(t.name, t.hash()) for t in tasks if not t.can_load()])``

    A task without a result counts as failed if its lock is marked failed (the worker
    ran with ``--keep-failed``), or if its run record says it failed (the lock was
    released, but the record remains until the task runs again or is invalidated).

    Parameters
    ----------
    store : store
        Where to look (a :class:`jug.backends.memoize_store.memoize_store` keeps this
        cheap: one listing of the locks and one of the records).
    unfinished : iterable of (str, bytes or str)
        ``(name, hash)`` of the tasks that have no result, in the order to report them;
        a hash seen twice is reported once.
    interrupted : list, optional
        If given, ``(name, hash, record)`` of each task whose last run was interrupted
        (and that did not fail) is appended to it.

    Returns
    -------
    list of (str, bytes, dict or None)
        ``(name, hash, record)`` per failed task; `record` is None when there is no
        record of the failure.
    """
    recorded = {_as_key(k) for k in store.list_records()}
    seen = set()
    failed = []
    for name, key in unfinished:
        key = _as_key(key)
        if key in seen:
            continue
        seen.add(key)
        record = store.load_record(key) if key in recorded else None
        status = record.get('status') if record is not None else None
        if status == STATUS_FAILED or store.getlock(key).is_failed():
            # (an older successful or interrupted run says nothing about this failure)
            failed.append((name, key, record if status == STATUS_FAILED else None))
        elif status == STATUS_INTERRUPTED and interrupted is not None:
            interrupted.append((name, key, record))
    return failed
