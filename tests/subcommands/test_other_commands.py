"""``jug invalidate``, ``cleanup``, ``check``, ``sleep-until`` and ``count``."""
import os

import pytest

import jug.task
from jug.jug import init
from jug.subcommands import check as check_module
from jug.subcommands.check import check, sleep_until
from jug.subcommands.cleanup import cleanup
from jug.subcommands.count import count
from jug.subcommands.execute import execute
from jug.subcommands.invalidate import invalidate


def _run_all(jug_options, name='simple', **values):
    execute(jug_options(name, **values))
    del jug.task.alltasks[:]
    options = jug_options(name, **values)
    store, space = init(options.jugfile, options.jugdir)
    return options, store, space


def test_invalidate_removes_downstream(jug_options):
    options, store, _ = _run_all(jug_options)
    options.invalid_name = 'total'
    invalidate(store, options)
    assert options.print_out[-2].split() == ['4', 'Total']
    assert len(list(store.list())) == 10
    options.print_out.clear()
    invalidate(store, options)
    assert options.print_out == ['Tasks invalidated, but no results removed']
    options.print_out.clear()
    options.invalid_name = 'nothing_is_called_this'
    invalidate(store, options)
    assert options.print_out == ['No results invalidated.']


def test_invalidate_by_pattern_and_without_selection(jug_options):
    options, store, _ = _run_all(jug_options)
    options.invalid_pattern = '/squ.re/'
    invalidate(store, options)
    assert list(store.list()) == []
    options.invalid_pattern = None
    with pytest.raises(ValueError):
        invalidate(store, options)


def test_cleanup_variants(jug_options):
    options, store, _ = _run_all(jug_options)
    store.dump(1, b'0' * 40)  # a result no task refers to
    jug.task.alltasks[0].lock()
    jug.task.alltasks[1].lock()
    jug.task.alltasks[1].fail()
    options.cleanup_failed_only = True
    cleanup(store, options)
    assert options.print_out == ['Removed 1 failure locks']
    options.cleanup_failed_only = False
    options.print_out.clear()
    cleanup(store, options)
    assert options.print_out == ['Removed 1 objects', 'Removed 1 locks']
    assert len(list(store.list())) == 14


def test_cleanup_locks_only_and_keep_locks(jug_options):
    options, store, _ = _run_all(jug_options)
    jug.task.alltasks[0].lock()
    options.cleanup_keep_locks = True
    cleanup(store, options)
    assert options.print_out == ['Removed 0 objects']
    options.cleanup_keep_locks = False
    options.cleanup_locks_only = True
    options.print_out.clear()
    cleanup(store, options)
    assert options.print_out == ['Removed 1 locks']


def test_check(jug_options):
    options = jug_options('simple')
    store, _ = init(options.jugfile, options.jugdir)
    with pytest.raises(SystemExit) as info:
        check(store, options)
    assert info.value.code == 1
    del jug.task.alltasks[:]
    options, store, _ = _run_all(jug_options)
    with pytest.raises(SystemExit) as info:
        check(store, options)
    assert info.value.code == 0
    # a missing dependency of a stored task is vouched for by its dependent...
    store.remove(jug.task.alltasks[0].hash())
    assert check_module._check_or_sleep_until(store, False) == 0
    # ...but a missing final result is not
    store.remove(jug.task.alltasks[-1].hash())
    assert check_module._check_or_sleep_until(store, False) == 1


def test_sleep_until_waits(jug_options, monkeypatch):
    options = jug_options('simple')
    store, space = init(options.jugfile, options.jugdir)
    sleeps = []

    def fake_sleep(seconds):
        sleeps.append(seconds)
        for t in jug.task.alltasks:  # the "other workers" finish during the wait
            if not t.can_load():
                t.run()
    monkeypatch.setattr(check_module.time, 'sleep', fake_sleep)
    with pytest.raises(SystemExit) as info:
        sleep_until.run(options, store, space)
    assert info.value.code == 0
    assert sleeps and set(sleeps) == {check_module.SLEEP_UNTIL_INTERVAL}


def test_count(jug_options):
    options = jug_options('simple')
    init(options.jugfile, options.jugdir)
    count(options)
    rows = {line.split()[1]: int(line.split()[0]) for line in options.print_out[2:5]}
    assert rows == {'simple.inc': 3, 'simple.square': 10, 'simple.total': 1}
    assert not os.path.exists(options.jugdir)
