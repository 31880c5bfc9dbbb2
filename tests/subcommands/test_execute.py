"""``jug execute`` in-process: the execution loop's outcomes and budgets
(docs/parallel.rst)."""
import signal
import time

import pytest

import jug.task
from jug.backends.dict_store import dict_store
from jug.hooks import register_hook
from jug.jug import ExecutionState, execution_loop, init
from jug.subcommands.execute import execute


def _load(options, store=None):
    return init(options.jugfile, options.jugdir, store=store)


def test_keep_going_keep_failed_outcome(jug_options, monkeypatch):
    options = jug_options('failing', execute_keep_going=True, execute_keep_failed=True,
                          execute_nr_wait_cycles=1, execute_wait_cycle_time=0)
    store = dict_store()
    _load(options, store)
    tasks = jug.task.alltasks
    assert execution_loop(tasks, options, ExecutionState()) is True
    assert len(store.store) == 17
    assert len(tasks) == 3
    assert sum(t.is_failed() for t in jug.task.alltasks + [] if t.name.endswith('some_fail')) \
        in (0, 3)
    assert sum(1 for k in store.store if k.startswith(b'lock:')) == 3
    assert all(t.name.endswith('plus1') for t in tasks)


def test_failure_without_keep_going_propagates(jug_options):
    options = jug_options('failing', execute_keep_failed=True)
    store = dict_store()
    _load(options, store)
    tasks = jug.task.alltasks
    with pytest.raises(ValueError, match='failing on purpose for 2'):
        execution_loop(tasks, options, ExecutionState())
    assert sum(1 for k in store.store if k.startswith(b'result:')) == 2
    assert sum(1 for k in store.store if k.startswith(b'lock:')) == 1
    assert len(tasks) == 10 and all(t.name.endswith('plus1') for t in tasks)


def test_failed_task_not_retried_in_same_run_and_lock_released(jug_options):
    options = jug_options('failing', execute_keep_going=True,
                          execute_nr_wait_cycles=1, execute_wait_cycle_time=0)
    store = dict_store()
    _load(options, store)
    state = ExecutionState()
    execution_loop(jug.task.alltasks, options, state)
    assert len(state.failed) == 3
    assert not any(k.startswith(b'lock:') for k in store.store)


def test_store_access_budget(jug_options):
    options = jug_options('simple')
    store = dict_store()
    _load(options, store)
    execution_loop(jug.task.alltasks, options, ExecutionState())
    assert max(store.counts.values()) < 5
    squares_keys = [t.hash() for t in jug.task.alltasks]
    for key in squares_keys:
        assert store.counts[b'exists:' + key] <= 4


def test_independent_tasks_touch_keys_at_most_three_times(tmp_path):
    store = dict_store()
    jug.task.Task.store = store
    tasks = [jug.task.Task(abs, -i) for i in range(5)]
    from jug.options import default_options
    options = default_options.copy()
    execution_loop(list(tasks), options, ExecutionState())
    assert max(store.counts.values()) < 4
    assert store.counts[b'exists:' + tasks[0].hash()] == 3


def test_wait_cycles_sleep_exactly(jug_options, monkeypatch):
    options = jug_options('simple', execute_nr_wait_cycles=2, execute_wait_cycle_time=0.5)
    store = dict_store()
    _load(options, store)
    tasks = jug.task.alltasks
    blocker = tasks[0]
    blocker.lock()  # another process is "running" the first square
    sleeps = []
    monkeypatch.setattr(time, 'sleep', sleeps.append)
    execution_loop(tasks, options, ExecutionState())
    assert sleeps == [0.5, 0.5]
    assert [t.name for t in tasks] == ['simple.total', 'simple.inc', 'simple.inc', 'simple.inc']


def test_name_filter_works_on_a_copy(jug_options):
    options = jug_options('simple', execute_name='square')
    store = dict_store()
    _load(options, store)
    tasks = jug.task.alltasks
    before = list(tasks)
    execution_loop(tasks, options, ExecutionState())
    assert tasks == before
    assert sum(1 for k in store.store if k.startswith(b'result:')) == 10


def test_hooks_fire(jug_options):
    options = jug_options('simple')
    seen = []
    register_hook('execute.task-pre-execute', lambda t: seen.append(('pre', t.name)))
    register_hook('execute.task-executed1', lambda t: seen.append(('done', t.name)))
    _load(options, dict_store())
    execution_loop(jug.task.alltasks, options, ExecutionState())
    assert seen.count(('done', 'simple.square')) == 10
    assert seen[0] == ('pre', 'simple.square') and seen[1] == ('done', 'simple.square')


def test_debug_mode_detects_tasks_created_while_running(jug_options):
    options = jug_options('simple', debug=True)
    jug.task.Task.store = dict_store()

    def creates_a_task():
        jug.task.Task(abs, 1)
        return 1
    t = jug.task.Task(creates_a_task)
    with pytest.raises(RuntimeError, match='created new tasks'):
        execution_loop([t], options, ExecutionState())


def test_aggressive_unload_frees_results(jug_options):
    options = jug_options('simple', aggressive_unload=True)
    _load(options, dict_store())
    tasks = list(jug.task.alltasks)
    execution_loop(list(tasks), options, ExecutionState())
    assert sum(t.is_loaded() for t in tasks) <= 2


def test_execute_command_prints_table_and_returns(jug_options, capsys):
    options = jug_options('simple')
    assert execute(options) is None
    lines = options.print_out
    assert lines[0].split() == ['Executed', 'Loaded', 'Task', 'name']
    assert lines[-2].split() == ['14', '0', 'Total']
    assert signal.getsignal(signal.SIGTERM).__name__ == '_sigterm'
    options2 = jug_options('simple')
    execute(options2)
    assert options2.print_out[-2].split() == ['0', '14', 'Total']


def test_execute_keep_going_exits_1(jug_options):
    options = jug_options('failing', execute_keep_going=True, execute_nr_wait_cycles=0)
    with pytest.raises(SystemExit) as info:
        execute(options)
    assert info.value.code == 1


def test_env_limit_exits_0_without_table(jug_options, monkeypatch):
    options = jug_options('simple')
    monkeypatch.setenv('JUG_MAX_TASKS', '3')
    with pytest.raises(SystemExit) as info:
        execute(options)
    assert info.value.code == 0
    assert info.value.message == 'jug: stopping: 3 tasks executed (limit 3)'  # main says it
    assert options.print_out == []
    assert len(list(jug.task.Task.store.list())) == 3


def test_stop_file(jug_options, tmp_path):
    options = jug_options('simple')
    (tmp_path / '__jug_please_stop_running.txt').write_text('')
    with pytest.raises(SystemExit) as info:
        execute(options)
    assert info.value.code == 0
    assert info.value.message == ("jug: stopping: the file '__jug_please_stop_running.txt' "
                                  'exists (remove it to let jug execute run tasks)')
    store = jug.task.Task.store
    assert list(store.list()) == [] and list(store.listlocks()) == []


def test_stop_file_is_said_in_one_line(run_jug, tmp_path):
    (tmp_path / 'jf.py').write_text('from jug import TaskGenerator\n'
                                    'f = TaskGenerator(abs)\n'
                                    'x = f(-1)\n')
    (tmp_path / '__jug_please_stop_running.txt').write_text('')
    run = run_jug('execute', 'jf.py', '--will-cite')
    assert run.returncode == 0
    assert run.stderr == ("jug: stopping: the file '__jug_please_stop_running.txt' exists "
                          '(remove it to let jug execute run tasks)\n')
