"""``jug status``: counts, the short form, exit codes and the sqlite cache."""
import sqlite3

import pytest

import jug.task
from jugtest import run_some_squares
from jug.backends.file_store import file_store
from jug.subcommands import status as status_module
from jug.subcommands.execute import execute
from jug.subcommands.status import status


def _totals(ts):
    return {state: sum(getattr(ts, state).values())
            for state in ('failed', 'waiting', 'ready', 'running', 'finished')}


def _partially_run(jug_options):
    """Run squares 0-4 only; lock square 5 as running and square 6 as failed."""
    options = jug_options('simple')
    run_some_squares(options)
    del jug.task.alltasks[:]
    return options


@pytest.mark.parametrize('cache', [False, True])
def test_counts(jug_options, cache):
    options = _partially_run(jug_options)
    options.status_cache = cache
    ts = status_module._status(options)
    assert _totals(ts) == {'failed': 1, 'waiting': 4, 'ready': 3, 'running': 1, 'finished': 5}
    assert ts.waiting['simple.inc'] == 3 and ts.waiting['simple.total'] == 1


def test_table_and_exit_code(jug_options):
    options = _partially_run(jug_options)
    assert status(options) == 1
    out = options.print_out
    assert out[0].split() == ['Failed', 'Waiting', 'Ready', 'Complete', 'Active', 'Task', 'name']
    assert out[-2].split() == ['1', '4', '3', '5', '1', 'Total']
    assert out[-1] == ''


def test_short_forms(jug_options):
    options = _partially_run(jug_options)
    options.short = True
    status(options)
    assert options.print_out == ['7 tasks waiting to be run, 1 failed, 5 complete, (1 active).']
    done = jug_options('simple', short=True)
    file_store('simple.jugdata').remove_locks()
    execute(done)
    del jug.task.alltasks[:]
    done.print_out.clear()
    assert status(done) == 0
    assert done.print_out == ['All tasks complete (14 tasks).']


def test_short_none_active(jug_options):
    options = jug_options('simple', short=True)
    status(options)
    assert options.print_out == ['14 tasks waiting to be run, 0 failed, 0 complete, (none active).']


def test_status_creates_nothing(jug_options, tmp_path):
    options = jug_options('simple')
    status(options)
    assert not (tmp_path / 'simple.jugdata').exists()


def test_cache_is_used_and_updated(jug_options, tmp_path, monkeypatch):
    options = jug_options('simple', status_cache=True)
    assert status(options) == 1
    assert (tmp_path / '.jugstatus.sqlite3').exists()
    connection = sqlite3.connect(str(tmp_path / '.jugstatus.sqlite3'))
    rows = connection.execute('SELECT id, name, hash, status FROM ht ORDER BY id').fetchall()
    deps = connection.execute('SELECT source, target FROM dep').fetchall()
    connection.close()
    assert len(rows) == 14 and rows[0][3] == 'ready' and isinstance(rows[0][2], bytes)
    assert (10, 0) in deps and (11, 10) in deps
    # run everything, then the cached status must not load the jugfile again
    run = jug_options('simple')
    execute(run)
    del jug.task.alltasks[:]

    def no_jugfile(*args, **kwargs):
        raise AssertionError('the cache should not load the jugfile')
    monkeypatch.setattr(status_module, 'init', no_jugfile)
    again = jug_options('simple', status_cache=True)
    assert status(again) == 0
    assert again.print_out[-2].split() == ['0', '0', '0', '14', '0', 'Total']


def test_cache_clear(jug_options, tmp_path):
    options = jug_options('simple', status_cache=True)
    status(options)
    options.status_cache_clear = True
    assert status(options) == 0
    assert not (tmp_path / '.jugstatus.sqlite3').exists()


def test_corrupt_cache_is_a_clear_error(jug_options, tmp_path):
    (tmp_path / 'broken.sqlite3').write_bytes(b'this is not a database' * 100)
    options = jug_options('simple', status_cache=True, status_cache_file='broken.sqlite3')
    with pytest.raises(SystemExit) as info:
        status(options)
    assert 'broken.sqlite3' in str(info.value.code) and '--clear' in str(info.value.code)


def test_connect_called_with_one_argument(jug_options, monkeypatch):
    calls = []
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        calls.append((args, kwargs))
        return real_connect(*args, **kwargs)
    monkeypatch.setattr(sqlite3, 'connect', connect)
    options = jug_options('simple', status_cache=True)
    status(options)
    assert calls == [(('.jugstatus.sqlite3',), {})]


def test_errors_inside_the_cache_connection_propagate_as_they_are(jug_options):
    options = jug_options('simple', status_cache=True)
    with pytest.raises(sqlite3.OperationalError, match='boom'):
        with status_module._open_connection(options):
            raise sqlite3.OperationalError('boom')
    with pytest.raises(sqlite3.IntegrityError):
        with status_module._open_connection(options) as connection:
            connection.execute('CREATE TABLE t (x INTEGER PRIMARY KEY)')
            connection.execute('INSERT INTO t VALUES (1)')
            connection.execute('INSERT INTO t VALUES (1)')
