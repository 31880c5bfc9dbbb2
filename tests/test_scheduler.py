"""The execution loop's scheduling (jug/scheduler.py), in-process: what runs first,
tasks held by other processes, waiting, failures seen elsewhere, and the report of
what was left undone."""
import time

import pytest

import jug.task
from jug.backends.dict_store import dict_store
from jug.hooks import register_hook
from jug.jug import ExecutionState, execution_loop, init
from jug.records import finish_record, start_record
from jug.scheduler import FIRST_POLL

CHAIN_LAST = """
import time
from jug import TaskGenerator


@TaskGenerator
def indep(i):
    return i


@TaskGenerator
def step(x):
    return x + 1


@TaskGenerator
def use(x):
    return x


others = [indep(i) for i in range(4)]
chain = step(step(step(0)))
used = use(others[0])
"""


def _jugfile(tmp_path, monkeypatch, text, name='sched'):
    monkeypatch.chdir(tmp_path)
    (tmp_path / f'{name}.py').write_text(text)


def _options(jug_options, name='simple', **values):
    values.setdefault('execute_wait_cycle_time', 30.0)
    values.setdefault('execute_nr_wait_cycles', 150)
    return jug_options(name, **values)


def _executed_order():
    order = []
    register_hook('execute.task-pre-execute', lambda t: order.append(t.name))
    return order


def _no_sleep(seconds):
    raise AssertionError(f'the worker slept {seconds} s although nothing could change')


def test_longest_chain_runs_first(jug_options, tmp_path, monkeypatch):
    options = _options(jug_options)
    _jugfile(tmp_path, monkeypatch, CHAIN_LAST)
    order = _executed_order()
    init('sched.py', dict_store())
    execution_loop(jug.task.alltasks, options, ExecutionState())
    # most tasks waiting behind first: the chain's head (2), then indep(0) and the
    # chain's middle (1 each, in the jugfile's order), then the rest in that order
    assert order == ['sched.step', 'sched.indep', 'sched.step', 'sched.indep',
                     'sched.indep', 'sched.indep', 'sched.step', 'sched.use']


def test_held_task_is_skipped_then_polled_promptly(jug_options, monkeypatch):
    options = _options(jug_options)
    store, _ = init(options.jugfile, options.jugdir)
    tasks = jug.task.alltasks
    held = tasks[0]  # square(0): "another process" runs it
    assert held.lock()
    sleeps = []

    def other_process_finishes(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            store.dump(0, held.hash())
            held.unlock()
    monkeypatch.setattr(time, 'sleep', other_process_finishes)
    order = _executed_order()
    state = ExecutionState()
    execution_loop(tasks, options, state)
    assert order[:9] == ['simple.square'] * 9  # all the others, without waiting
    assert order[9:] == ['simple.total', 'simple.inc', 'simple.inc', 'simple.inc']
    assert sleeps == [FIRST_POLL] * 3  # it noticed the result at the next look
    assert not state.undone and tasks == []


def test_released_task_is_run_by_the_waiting_worker(jug_options, monkeypatch):
    options = _options(jug_options)
    init(options.jugfile, options.jugdir)
    held = jug.task.alltasks[0]
    assert held.lock()
    monkeypatch.setattr(time, 'sleep', lambda seconds: held.unlock())  # its worker died
    order = _executed_order()
    execution_loop(jug.task.alltasks, options, ExecutionState())
    assert order.count('simple.square') == 10
    assert held.can_load()


def test_gives_up_after_the_wait_cycles_and_says_so(jug_options, monkeypatch):
    options = _options(jug_options, execute_nr_wait_cycles=2, execute_wait_cycle_time=0.2)
    init(options.jugfile, options.jugdir)
    tasks = jug.task.alltasks
    assert tasks[0].lock()
    sleeps = []
    monkeypatch.setattr(time, 'sleep', sleeps.append)
    state = ExecutionState()
    execution_loop(tasks, options, state)
    assert sum(sleeps) == pytest.approx(0.4)
    assert state.nr_waits == 2
    undone = state.undone
    assert undone.gave_up and not undone.because_of_failures()
    assert sorted(name for name, _ in undone.waiting) == \
        ['simple.inc', 'simple.inc', 'simple.inc', 'simple.square', 'simple.total']


def test_stops_at_once_when_only_failures_block(jug_options, monkeypatch):
    options = _options(jug_options, 'failing', execute_keep_going=True)
    init(options.jugfile, options.jugdir)
    monkeypatch.setattr(time, 'sleep', _no_sleep)
    state = ExecutionState()
    assert execution_loop(jug.task.alltasks, options, state) is True
    undone = state.undone
    assert [name for name, _, _ in undone.failed] == ['failing.some_fail'] * 3
    assert all('ValueError: failing on purpose' in why for _, _, why in undone.failed)
    assert [name for name, _ in undone.blocked] == ['failing.plus1'] * 3
    assert undone.because_of_failures() and not undone.waiting


def test_failed_lock_blocks_its_dependents_without_waiting(jug_options, monkeypatch):
    options = _options(jug_options)
    init(options.jugfile, options.jugdir)
    tasks = jug.task.alltasks
    failed = tasks[3]
    assert failed.lock() and failed.fail()  # a --keep-failed worker failed it
    monkeypatch.setattr(time, 'sleep', _no_sleep)
    state = ExecutionState()
    assert execution_loop(tasks, options, state) is False
    assert state.undone.failed == [('simple.square', failed.hash(),
                                    'its lock is marked as failed')]
    assert [name for name, _ in state.undone.blocked] == \
        ['simple.total', 'simple.inc', 'simple.inc', 'simple.inc']


def _failure_record(t):
    try:
        raise ValueError('failed in the other worker')
    except ValueError as e:
        return finish_record(start_record(t), e)


def test_failure_in_another_worker_since_start_is_not_retried(jug_options, monkeypatch):
    options = _options(jug_options)
    store, _ = init(options.jugfile, options.jugdir)
    tasks = jug.task.alltasks
    victim = tasks[5]
    # once this worker runs, another one records the failure of square(5)
    register_hook('execute.task-executed1',
                  lambda t: t is tasks[0] and store.save_record(victim.hash(),
                                                                _failure_record(victim)))
    order = _executed_order()
    monkeypatch.setattr(time, 'sleep', _no_sleep)
    state = ExecutionState()
    execution_loop(tasks, options, state)
    assert order.count('simple.square') == 9
    assert not victim.can_load() and not victim.is_locked()
    [(name, key, why)] = state.undone.failed
    assert key == victim.hash()
    assert why.startswith('it failed in another worker: ValueError: failed in the other worker')
    assert len(state.undone.blocked) == 4


def test_failure_recorded_before_start_is_retried(jug_options):
    options = _options(jug_options)
    store, _ = init(options.jugfile, options.jugdir)
    victim = jug.task.alltasks[5]
    store.save_record(victim.hash(), _failure_record(victim))
    state = ExecutionState()
    execution_loop(jug.task.alltasks, options, state)
    assert victim.can_load() and not state.undone
    assert store.failure_mark(victim.hash()) is None  # cleared by the successful run
    assert store.load_record(victim.hash())['status'] == 'finished'


OUTSIDE = """
from jug import TaskGenerator


@TaskGenerator
def first(x):
    return x


@TaskGenerator
def second(x):
    return x * 2


a = first(1)
b = second(a)
c = second(2)
"""


def test_selected_task_whose_input_nobody_runs_stops_at_once(jug_options, tmp_path,
                                                              monkeypatch):
    options = _options(jug_options, execute_name='second')
    _jugfile(tmp_path, monkeypatch, OUTSIDE)
    init('sched.py', 'sched.jugdata')
    monkeypatch.setattr(time, 'sleep', _no_sleep)
    state = ExecutionState()
    execution_loop(jug.task.alltasks, options, state)
    assert [name for name, _ in state.undone.unavailable] == ['sched.second']
    assert jug.task.alltasks[2].can_load()  # second(2) ran


def test_selected_task_waits_for_its_input_held_elsewhere(jug_options, tmp_path,
                                                          monkeypatch):
    options = _options(jug_options, execute_name='second')
    _jugfile(tmp_path, monkeypatch, OUTSIDE)
    store, _ = init('sched.py', 'sched.jugdata')
    a, b, c = jug.task.alltasks
    assert a.lock()

    def other_worker(seconds):
        store.dump(1, a.hash())
        a.unlock()
    monkeypatch.setattr(time, 'sleep', other_worker)
    state = ExecutionState()
    execution_loop(jug.task.alltasks, options, state)
    assert b.can_load() and not state.undone


def test_private_store_waits_whole_cycles(jug_options, monkeypatch):
    # nothing but this process changes a dict_store: no point in polling it
    options = _options(jug_options, execute_nr_wait_cycles=3, execute_wait_cycle_time=0.5)
    init(options.jugfile, dict_store())
    jug.task.alltasks[0].lock()
    sleeps = []
    monkeypatch.setattr(time, 'sleep', sleeps.append)
    execution_loop(jug.task.alltasks, options, ExecutionState())
    assert sleeps == [0.5, 0.5, 0.5]


def test_a_holder_seen_alive_is_unknown_again_once_its_lock_is_overdue(monkeypatch):
    from jug import scheduler
    from jug.backends.base import LOCK_EXPIRING, LOCK_HELD
    now = [100.0]
    monkeypatch.setattr(scheduler.time, 'monotonic', lambda: now[0])
    liveness = scheduler._Liveness()

    def look(state, deadline):
        liveness.begin_poll()
        liveness.note(b'k', state, deadline)
        return liveness.unsure

    assert look(LOCK_HELD, 200.0) == 1       # first seen: alive or not, unknown yet
    now[0] = 101.0
    assert look(LOCK_HELD, 201.0) == 0       # refreshed since: alive
    assert look(LOCK_EXPIRING, 201.0) == 1   # overdue: it may have died since
    assert liveness.expiring == 1 and liveness.keep_waiting()
    assert look(LOCK_HELD, 230.0) == 0       # refreshed again: alive
    now[0] = 230.001
    assert look(LOCK_EXPIRING, 230.0) == 1   # just past its deadline: a lock about to
    # expire (a redis key read 1 ms before the server drops it) is no sign of life
    assert look(LOCK_HELD, 230.0) == 1
    now[0] = 300.0
    assert look(LOCK_EXPIRING, 230.0) == 0   # well past its deadline, still not stale:
    # its store judges it alive (a live process of this host)
