"""Barriers and bvalue and what the commands see with them (docs/barriers.rst)."""
import os
import shutil

import pytest

import jug.task
from jug import TaskGenerator
from jug.backends.dict_store import dict_store
from jug.barrier import BarrierError, barrier, bvalue
from jug.io import NoLoad
from jug.jug import init
from jug.options import default_options
from jug.subcommands import check as check_module
from jug.subcommands.cleanup import cleanup
from jug.subcommands.execute import execute
from jug.subcommands.invalidate import invalidate
from jug.subcommands.status import _status
from jug.task import Task
from jugtest import JUGFILES



@TaskGenerator
def listing(n):
    return list(range(n))


@pytest.fixture
def store():
    s = dict_store()
    Task.store = s
    return s


def test_barrier_raises_until_everything_is_stored(store):
    t = listing(3)
    with pytest.raises(BarrierError):
        barrier()
    t.run()
    barrier()


def test_bvalue_walks_containers_and_noload(store):
    t, u = listing(2), listing(3)
    nl = NoLoad(t)
    assert bvalue(nl) is nl  # even though t has not run
    with pytest.raises(BarrierError):
        bvalue([nl, u])
    with pytest.raises(BarrierError):
        bvalue({'k': (1, u[0])})
    u.run()
    assert bvalue({'k': (1, u[0])}) == {'k': (1, 0)}
    assert bvalue(7) == 7


def test_bvalue_value_errors_are_not_barriers(store):
    t = listing(2)
    t.run()
    with pytest.raises(IndexError):
        bvalue(t[5])


def Options(**values):
    """Options for tests/jugfiles/barrier_pipeline.py in the current directory; the
    printed lines are collected in ``options.lines``."""
    options = default_options.copy()
    options.jugfile = 'barrier_pipeline.py'
    options.jugdir = 'barrier_pipeline.jugdata'
    options.will_cite = True
    lines = []
    options.print_out = lambda line='': lines.append(line)
    options.lines = lines
    options.update(values)
    return options


@pytest.fixture
def pipeline_dir(tmp_path, monkeypatch):
    shutil.copy(os.path.join(JUGFILES, 'barrier_pipeline.py'), tmp_path)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    import sys
    sys.modules.pop('barrier_pipeline', None)


def _totals(ts):
    return {state: sum(getattr(ts, state).values())
            for state in ('failed', 'waiting', 'ready', 'running', 'finished')}


def test_status_sees_tasks_up_to_the_barrier(pipeline_dir):
    assert _totals(_status(Options())) == {
        'failed': 0, 'waiting': 0, 'ready': 1, 'running': 0, 'finished': 0}
    execute(Options())
    jug.task.alltasks = []
    assert _totals(_status(Options())) == {
        'failed': 0, 'waiting': 0, 'ready': 0, 'running': 0, 'finished': 5}


def test_sleep_until_reloads_after_barriers(pipeline_dir, monkeypatch):
    options = Options()
    store, space = init(options.jugfile, options.jugdir)
    sleeps = []

    def other_worker_runs(seconds):
        sleeps.append(seconds)
        for t in jug.task.alltasks:
            if not t.can_load() and t.can_run():
                t.run()
    monkeypatch.setattr(check_module.time, 'sleep', other_worker_runs)
    with pytest.raises(SystemExit) as info:
        check_module.sleep_until.run(options, store, space)
    assert info.value.code == 0
    assert len(sleeps) >= 2
    assert len(jug.task.alltasks) == 5  # no duplicates after the reloads


def test_cleanup_and_invalidate_see_only_tasks_before_the_barrier(pipeline_dir):
    execute(Options())
    jug.task.alltasks = []
    options = Options()
    store, _ = init(options.jugfile, options.jugdir)
    first = jug.task.alltasks[0]
    store.remove(first.hash())  # the barrier is now not passed
    jug.task.alltasks = []
    store, _ = init(options.jugfile, options.jugdir)
    assert len(jug.task.alltasks) == 1
    options.invalid_name = 'total'
    invalidate(store, options)
    assert options.lines == ['No results invalidated.']
    cleanup(store, Options(cleanup_keep_locks=True))
    # the results of the tasks after the barrier were not known to cleanup: removed
    assert list(store.list()) == []
