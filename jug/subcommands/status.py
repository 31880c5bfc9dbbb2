"""``jug status``: how many tasks of each name are failed, waiting, ready, done, running.

Layer 5.  The counts are a :class:`jug.statusview.StatusView` (the one view every
display reads); states come from ``jug.taskstate.classify``, for live tasks and for
the sqlite cache (``--cache``) alike.  ``sqlite3`` is imported only when the cache is
used, to keep start-up cheap.  ``--failed`` then lists the failed tasks with the errors
kept in their run records (which tasks count as failed is decided by
``jug.records.find_failed``).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import defaultdict

from .. import task as _task_module
from ..backends import memoize_store
from ..backends.select import select
from ..errors import JugExit, OptionError
from ..gctuning import fewer_collections
from ..io import print_task_summary_table
from ..jug import init
from ..options import add_flag
from ..records import find_failed, format_failure
from ..statusview import (StatusView, unfinished_failure_note, view_of_rows, view_of_tasks,
                          workers_of_rows)
from ..taskstate import FAILED, FINISHED, READY, RUNNING, STALE, STATES, WAITING, classify
from ..workersview import format_workers
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    import sqlite3
    from types import ModuleType
    from typing import Any, Iterator, Mapping

    from ..optionchain import Options
    from ..task import Task

UNKNOWN = 'unknown'
#: ``--watch`` without a number: seconds between two looks.
DEFAULT_WATCH = 2.0
#: Cursor to the top left, then erase the screen (a terminal's ANSI codes).
_HOME_AND_CLEAR = '\x1b[H\x1b[2J'
failed, waiting, ready, running, finished = FAILED, WAITING, READY, RUNNING, FINISHED


#: Jug 2.7's name of the counts by name and state: the one status view.
TaskStatus = StatusView


def _all_complete(ts: StatusView) -> bool:
    return ts.all_complete()


def _print_status(options: Options, ts: StatusView) -> None:
    if options.short:
        _print_short(options, ts)
    else:
        print_task_summary_table(options, ts.groups())
    for note in ts.notes:  # (none when there is nothing to say: Jug 2.7's output)
        options.print_out(note)


def _print_failures(options: Options, failures: list, interrupted: list | None) -> None:
    """``--failed``: a heading line, then each failed task's error (one call per line);
    then, if there are any, the tasks whose last run was interrupted, likewise."""
    options.print_out(f'Failed tasks: {len(failures)}')
    for name, key, record in failures:
        for line in format_failure(name, key, record):
            options.print_out(line)
    if interrupted:
        options.print_out(f'Interrupted tasks (not failed: the next jug execute runs them '
                          f'again): {len(interrupted)}')
        for name, key, record in interrupted:
            for line in format_failure(name, key, record):
                options.print_out(line)


def _print_short(options: Options, ts: StatusView) -> None:
    total = {state: ts.total(state) for state in STATES}
    if _all_complete(ts):
        options.print_out(f'All tasks complete ({total[FINISHED]} tasks).')
        return
    active = f'({total[RUNNING]} active)' if total[RUNNING] else '(none active)'
    sentence = (f'{total[WAITING] + total[READY]} tasks waiting to be run, '
                f'{total[FAILED]} failed, {total[FINISHED]} complete, {active}.')
    if total[STALE]:
        sentence += (f' {total[STALE]} locked by workers that are gone (stale; the next '
                     'jug execute takes them over).')
    options.print_out(sentence)


def _status_nocache(options: Options) -> StatusView:
    """Load the jugfile and classify every task against a listing of the store."""
    store, _ = init(options.jugfile, options.jugdir)
    try:
        return view_of_tasks(_task_module.alltasks, store, options.status_failed,
                             options.status_workers)
    finally:
        store.close()


# --- the sqlite cache (--cache) --------------------------------------------------------

def _sqlite3() -> ModuleType:
    import sqlite3  # imported here to keep `import jug` light
    return sqlite3


@contextlib.contextmanager
def _open_connection(options: Options) -> Iterator[sqlite3.Connection]:
    """Open the cache database, commit on success and always close it."""
    sqlite3 = _sqlite3()
    filename = options.status_cache_file
    try:
        connection = sqlite3.connect(filename)
    except sqlite3.Error as e:
        raise JugExit(f'jug status: cannot open the status cache {filename!r}: {e}')
    try:
        yield connection  # what goes wrong in here propagates as it is (Jug 2.7 does)
        connection.commit()
    finally:
        connection.close()


def _cache_error(filename: str, error: Exception) -> JugExit:
    """The one-line error of ``jug status --cache`` for a sqlite3 error."""
    sqlite3 = _sqlite3()
    if isinstance(error, sqlite3.OperationalError):
        return JugExit(f'jug status: error with the status cache {filename!r}: {error}')
    if isinstance(error, sqlite3.DatabaseError):
        return JugExit(f'jug status: the status cache {filename!r} is damaged ({error}); '
                       'remove it with `jug status --cache --clear`')
    return JugExit(f'jug status: cannot write the status cache {filename!r}: {error}')


def load_jugfile(options: Options) -> tuple[Any, list[list[Any]], dict[int, list[int]]]:
    """Load the jugfile; return ``(store, ht, deps)`` for the cache.

    ``ht`` is a list of ``[index, name, hash, status]`` rows in creation order and
    ``deps`` maps an index to the indices of its direct dependencies.
    """
    store, _ = init(options.jugfile, options.jugdir)
    tasks = _task_module.alltasks
    index_of: dict[bytes, int] = {}
    ht: list[list[Any]] = []
    deps: dict[int, list[int]] = {}
    with fewer_collections():
        for i, t in enumerate(tasks):
            key = t.hash()
            deps[i] = sorted({_resolve(index_of, dep, t) for dep in t.dependencies()})
            index_of.setdefault(key, i)
            ht.append([i, t.name, key, UNKNOWN])
    return store, ht, deps


def _resolve(index_of: dict[bytes, int], dep: Task, t: Task) -> int:
    try:
        return index_of[dep.hash()]
    except KeyError:
        raise JugExit(1, f'jug status --cache: task {t.name} depends on a task ({dep.name}) '
                         'that is not among the tasks defined before it, so the cache cannot '
                         'record the dependency. Use jug status without --cache for this '
                         'jugfile.') from None


def create_sqlite3(connection: sqlite3.Connection, ht: list[list[Any]],
                   deps: Mapping[int, list[int]]) -> None:
    """Create the cache tables and fill them."""
    connection.execute('CREATE TABLE ht (id INTEGER PRIMARY KEY, name CHAR(128), '
                       'hash CHAR(128), status CHAR(32))')
    connection.execute('CREATE TABLE dep (source INT, target INT)')
    connection.executemany('INSERT INTO ht VALUES (?, ?, ?, ?)',
                           [(i, name, key, status) for i, name, key, status in ht])
    connection.executemany('INSERT INTO dep VALUES (?, ?)',
                           [(source, target) for source, targets in deps.items()
                            for target in targets])


def retrieve_sqlite3(connection: sqlite3.Connection
                     ) -> tuple[list[list[Any]], dict[int, list[int]]]:
    """Read ``(ht, deps)`` from the cache; raises ``OperationalError`` if there is none."""
    ht = [list(row) for row in
          connection.execute('SELECT id, name, hash, status FROM ht ORDER BY id')]
    deps: defaultdict[int, list[int]] = defaultdict(list)
    for source, target in connection.execute('SELECT source, target FROM dep'):
        deps[source].append(target)
    return ht, deps


def save_dirty3(connection: sqlite3.Connection, dirty: list[tuple[str, int]]) -> None:
    """Write the changed ``(status, id)`` pairs back to the cache."""
    connection.executemany('UPDATE ht SET status = ? WHERE id = ?', dirty)


def update_status(store: Any, ht: list[list[Any]], deps: Mapping[int, list[int]]
                  ) -> list[tuple[str, int]]:
    """Recompute every row's status in place; return the ``(status, id)`` changes.

    A cached ``finished`` is trusted; rows are visited in creation order, so each
    task's dependencies already have their new status.
    """
    status_of: dict[int, str] = {}
    dirty = []
    for row in ht:
        i, _, key, cached = row
        key = bytes(key)
        lock = store.getlock(key)  # a memoize_store lock: cheap, answers from listings
        state = classify(
            lambda: cached == FINISHED or store.can_load(key),
            lambda: cached == READY or all(status_of[d] == FINISHED for d in deps.get(i, ())),
            lock.is_locked, lock.is_failed, lock.is_stale)
        status_of[i] = state
        if state != cached:
            row[3] = state
            dirty.append((state, i))
    return dirty


def _status_cached(options: Options) -> StatusView:
    sqlite3 = _sqlite3()
    try:
        return _status_from_cache(options, sqlite3)
    except sqlite3.Error as e:
        raise _cache_error(options.status_cache_file, e) from e


def _status_from_cache(options: Options, sqlite3: ModuleType) -> StatusView:
    with _open_connection(options) as connection:
        try:
            ht, deps = retrieve_sqlite3(connection)
        except sqlite3.OperationalError as e:
            if 'no such table' not in str(e):
                raise
            store, ht, deps = load_jugfile(options)
            listed = memoize_store(store, list_base=True)
            update_status(listed, ht, deps)
            create_sqlite3(connection, ht, deps)
        else:
            store = select(options.jugdir)
            listed = memoize_store(store, list_base=True)
            save_dirty3(connection, update_status(listed, ht, deps))
        failures = None
        interrupted: list | None = None
        unfinished = [(name, key) for _, name, key, state in ht if state != FINISHED]
        if options.status_failed:
            interrupted = []
            failures = find_failed(listed, unfinished, interrupted)
            notes = []
        else:
            notes = unfinished_failure_note(listed, (key for _, key in unfinished))
        workers = workers_of_rows(store, ht) if options.status_workers else None
        store.close()
    view = view_of_rows(ht, failures, interrupted)
    view.notes.extend(notes)
    view.workers = workers
    return view


def _clear_cache(options: Options) -> None:
    try:
        os.unlink(options.status_cache_file)
    except FileNotFoundError:
        pass


def _show(options: Options, ts: StatusView) -> None:
    """Print the status (and, with ``--failed``, the failures)."""
    _print_status(options, ts)
    if ts.failures is not None:
        _print_failures(options, ts.failures, ts.interrupted)
    if ts.workers is not None:
        for line in format_workers(ts.workers):
            options.print_out(line)


def _watch(options: Options) -> int:
    """``--watch``: show the status every few seconds (redrawn in place on a terminal)
    until every task is done (exit 0) or Ctrl-C (exit as status would)."""
    interval = float(options.status_watch)
    if not interval > 0:
        raise OptionError(f'jug status: --watch needs a positive number of seconds, not '
                          f'{options.status_watch!r}')
    if options.status_cache:
        def look() -> StatusView:
            return _status_cached(options)
    else:
        store, _ = init(options.jugfile, options.jugdir)  # loaded once, looked at often

        def look() -> StatusView:
            return view_of_tasks(_task_module.alltasks, store, options.status_failed,
                                 options.status_workers)
    terminal = sys.stdout.isatty()
    complete = False
    try:
        while True:
            ts = look()
            complete = _all_complete(ts)
            if terminal:
                sys.stdout.write(_HOME_AND_CLEAR)
            _show(options, ts)
            options.print_out(f'(at {time.strftime("%H:%M:%S")}; every {interval:g} s until all '
                              'tasks are done; Ctrl-C stops)')
            sys.stdout.flush()
            if complete:
                return 0
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0 if complete else 1


def _status(options: Options) -> StatusView | None:
    """Compute the status counts (``None`` after ``--cache --clear``)."""
    if options.status_cache:
        if options.status_cache_clear:
            _clear_cache(options)
            return None
        return _status_cached(options)
    return _status_nocache(options)


class StatusCommand(SubCommand):
    """Show how many tasks are done, ready, waiting, failed

    status: how many tasks are finished, ready, waiting, running or failed.  Exits 0
    when every task is finished, 1 otherwise.
    """

    name = 'status'
    loads_jugfile_itself = True

    def run(self, options: Options, *args: Any, **kwargs: Any) -> int:
        if options.status_watch is not None:
            return _watch(options)
        ts = _status(options)
        if ts is None:
            return 0
        _show(options, ts)
        return 0 if _all_complete(ts) else 1

    def parse(self, parser: argparse._ActionsContainer) -> None:
        add_flag(parser, '--cache', 'status_cache',
                 'Keep the status in a sqlite3 file between calls (faster for large '
                 'jugfiles; do not use if the jugfile changes)')
        parser.add_argument('--cache-file', action='store', dest='status_cache_file',
                            help='Name of the cache file (default: .jugstatus.sqlite3)')
        add_flag(parser, '--clear', 'status_cache_clear', 'With --cache: delete the cache file')
        add_flag(parser, '--failed', 'status_failed',
                 'Also list the failed tasks with their errors (from the run records)')
        add_flag(parser, '--workers', 'status_workers',
                 'Also list the workers running tasks now: host, pid, since when, task '
                 '(from their locks)')
        parser.add_argument('--watch', nargs='?', const=DEFAULT_WATCH, type=float,
                            dest='status_watch', metavar='SECONDS',
                            help='Show the status again every SECONDS (default '
                                 f'{DEFAULT_WATCH:g}) until every task is done, or Ctrl-C')

    def parse_defaults(self) -> dict[str, Any]:
        return {'status_cache': False, 'status_cache_clear': False,
                'status_cache_file': '.jugstatus.sqlite3', 'status_failed': False,
                'status_watch': None, 'status_workers': False}


status = StatusCommand()
