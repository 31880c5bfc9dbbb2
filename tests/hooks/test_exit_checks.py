"""Tests of jug.hooks.exit_checks: the helpers register hooks that exit with status 0."""
import time

import pytest

from jug.errors import OptionError
from jug.hooks import jug_hook
from jug.hooks import register
from jug.hooks.exit_checks import (exit_after_n_tasks, exit_after_time, exit_env_vars,
                                   exit_if_file_exists, exit_when_true)

PRE = 'execute.task-pre-execute'
EXECUTED = 'execute.task-executed1'


class FakeTask:
    name = 'jugfile.f'


def fire(name, times=1):
    for _ in range(times):
        jug_hook(name, (FakeTask(),))


def n_hooks(name):
    return len(register._hooks[name])


def assert_exits_zero(name):
    with pytest.raises(SystemExit) as e:
        fire(name)
    assert e.value.code == 0


def test_repeated_calls_register_once():
    for _ in range(3):
        exit_after_n_tasks(10)
        exit_after_time(hours=2)
        exit_if_file_exists('some-file')
    assert n_hooks(EXECUTED) == 2
    assert n_hooks(PRE) == 1
    exit_after_n_tasks(20)
    assert n_hooks(EXECUTED) == 3
    assert n_hooks(PRE) == 1


def test_exit_after_n_tasks():
    exit_after_n_tasks(3)
    fire(EXECUTED, 2)
    assert_exits_zero(EXECUTED)


def test_exit_after_n_tasks_counts_from_first_registration():
    exit_after_n_tasks(3)
    fire(EXECUTED, 2)
    exit_after_n_tasks(3)  # e.g. the jugfile re-executed after a barrier
    assert_exits_zero(EXECUTED)


def test_exit_after_n_tasks_ignores_other_hooks():
    exit_after_n_tasks(1)
    fire(PRE, 5)
    jug_hook('execute.task-loadable', (FakeTask(),))
    assert_exits_zero(EXECUTED)


def test_exit_if_file_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exit_if_file_exists('stop.txt')
    fire(PRE, 3)
    fire(EXECUTED, 3)
    (tmp_path / 'stop.txt').write_text('')
    fire(EXECUTED)  # only checked before executing
    assert_exits_zero(PRE)


def test_exit_if_file_exists_different_files(tmp_path):
    exit_if_file_exists(str(tmp_path / 'a'))
    exit_if_file_exists(str(tmp_path / 'b'))
    assert n_hooks(PRE) == 2
    fire(PRE)
    (tmp_path / 'b').write_text('')
    assert_exits_zero(PRE)


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_exit_after_time(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(time, 'time', clock)
    exit_after_time(hours=1, minutes=2, seconds=3)
    clock.now += 3600 + 120 + 2
    fire(EXECUTED)
    clock.now += 1
    assert_exits_zero(EXECUTED)


def test_exit_after_time_deadline_fixed_at_first_call(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(time, 'time', clock)
    exit_after_time(seconds=10)
    clock.now += 8
    exit_after_time(seconds=10)  # does not move the deadline
    clock.now += 2
    assert_exits_zero(EXECUTED)


def test_exit_after_time_key_includes_all_arguments():
    exit_after_time(hours=1)
    exit_after_time(minutes=60)
    exit_after_time(seconds=3600)
    exit_after_time(1, 0, 0)
    assert n_hooks(EXECUTED) == 3


_stop_now = []


def _module_level_condition():
    return bool(_stop_now)


def test_exit_when_true():
    exit_when_true(_module_level_condition)
    fire(EXECUTED, 2)
    _stop_now.append(True)
    try:
        assert_exits_zero(EXECUTED)
    finally:
        _stop_now.clear()


def test_exit_when_true_takes_task():
    seen = []

    def condition(task):
        seen.append(task.name)
        return len(seen) == 2

    exit_when_true(condition, function_takes_Task=True)
    fire(EXECUTED)
    assert_exits_zero(EXECUTED)
    assert seen == ['jugfile.f', 'jugfile.f']


def test_exit_when_true_not_fired_before_execution():
    exit_when_true(lambda: True)
    fire(PRE)
    jug_hook('execute.task-loadable', (FakeTask(),))
    assert_exits_zero(EXECUTED)


def _compile_condition(filename):
    namespace = {}
    exec(compile('def condition():\n    return False\n', filename, 'exec'), namespace)
    return namespace['condition']


def test_exit_when_true_without_closure_registers_once_per_code():
    # A re-executed jugfile creates a new function object with an equal code object.
    first = _compile_condition('jugfile.py')
    second = _compile_condition('jugfile.py')
    assert first is not second
    exit_when_true(first)
    exit_when_true(second)
    assert n_hooks(EXECUTED) == 1
    exit_when_true(first, function_takes_Task=True)  # the flag is part of the key
    assert n_hooks(EXECUTED) == 2
    exit_when_true(_module_level_condition)
    assert n_hooks(EXECUTED) == 3


def test_exit_when_true_with_closure_always_registers():
    limit = 5

    def condition():
        return limit < 0

    exit_when_true(condition)
    exit_when_true(condition)
    assert n_hooks(EXECUTED) == 2
    fire(EXECUTED)


def test_exit_env_vars_nothing_set():
    exit_env_vars({})
    exit_env_vars({'JUG_MAX_TASKS': '', 'JUG_MAX_HOURS': '0', 'JUG_MAX_MINUTES': '0'})
    assert n_hooks(EXECUTED) == 0
    assert n_hooks(PRE) == 0


def test_exit_env_vars_defaults_to_os_environ(monkeypatch):
    for var in ('JUG_MAX_HOURS', 'JUG_MAX_MINUTES', 'JUG_MAX_SECONDS',
                'JUG_EXIT_IF_FILE_EXISTS'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('JUG_MAX_TASKS', '2')
    exit_env_vars()
    assert n_hooks(EXECUTED) == 1
    fire(EXECUTED)
    assert_exits_zero(EXECUTED)


def test_exit_env_vars_max_tasks():
    exit_env_vars({'JUG_MAX_TASKS': '3'})
    exit_env_vars({'JUG_MAX_TASKS': '3'})
    assert n_hooks(EXECUTED) == 1
    fire(EXECUTED, 2)
    assert_exits_zero(EXECUTED)


def test_exit_env_vars_time_is_combined(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(time, 'time', clock)
    exit_env_vars({'JUG_MAX_HOURS': '1', 'JUG_MAX_MINUTES': '1', 'JUG_MAX_SECONDS': '1'})
    assert n_hooks(EXECUTED) == 1
    clock.now += 3660
    fire(EXECUTED)
    clock.now += 1
    assert_exits_zero(EXECUTED)


@pytest.mark.parametrize('var, seconds', [('JUG_MAX_HOURS', 3600),
                                          ('JUG_MAX_MINUTES', 60),
                                          ('JUG_MAX_SECONDS', 1)])
def test_exit_env_vars_single_time_unit(monkeypatch, var, seconds):
    clock = FakeClock()
    monkeypatch.setattr(time, 'time', clock)
    exit_env_vars({var: '1'})
    clock.now += seconds - 0.5
    fire(EXECUTED)
    clock.now += 0.5
    assert_exits_zero(EXECUTED)


def test_exit_env_vars_file(tmp_path):
    stop = tmp_path / 'please-stop'
    exit_env_vars({'JUG_EXIT_IF_FILE_EXISTS': str(stop)})
    assert n_hooks(PRE) == 1
    fire(PRE)
    stop.write_text('')
    assert_exits_zero(PRE)


def test_exit_env_vars_all(tmp_path):
    exit_env_vars({'JUG_MAX_TASKS': '7', 'JUG_MAX_SECONDS': '30',
                   'JUG_EXIT_IF_FILE_EXISTS': str(tmp_path / 'x')})
    assert n_hooks(EXECUTED) == 2
    assert n_hooks(PRE) == 1


def test_exit_env_vars_invalid_number():
    with pytest.raises(OptionError) as e:
        exit_env_vars({'JUG_MAX_TASKS': 'many'})
    assert 'JUG_MAX_TASKS' in str(e.value)
    assert 'many' in str(e.value)
