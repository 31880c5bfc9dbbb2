"""Tests of jug.hooks.execution: TimeTasks and register_time_tasks."""
import time

from jug.hooks import jug_hook
from jug.hooks import register
from jug.hooks.execution import TimeTasks, register_time_tasks


class FakeTask:
    def __init__(self, name):
        self.name = name


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_time_tasks_records_durations(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(time, 'time', clock)
    timer = TimeTasks()
    for name, duration in [('jugfile.a', 1.0), ('jugfile.b', 0.5), ('jugfile.a', 3.0)]:
        timer.start(FakeTask(name))
        assert timer.start_time == clock.now
        clock.now += duration
        timer.stop(FakeTask(name))
    assert dict(timer.times) == {'jugfile.a': [1.0, 3.0], 'jugfile.b': [0.5]}


def test_print_summary(capsys):
    timer = TimeTasks()
    timer.times['jugfile.slow'].extend([1.0, 2.0])
    timer.times['jugfile.a_rather_long_task_name'].append(0.125)
    timer.print_summary()
    out = capsys.readouterr().out
    assert out == ('TIMES\n'
                   '-----\n'
                   'jugfile.a_rather_long_task_name 0.12s (1 tasks)\n'
                   'jugfile.slow         1.50s (2 tasks)\n')


def test_register_time_tasks_hooks_and_summary(monkeypatch, capsys):
    clock = FakeClock()
    monkeypatch.setattr(time, 'time', clock)
    register_time_tasks()
    register_time_tasks()
    assert len(register._hooks['execute.task-pre-execute']) == 1
    assert len(register._hooks['execute.task-executed1']) == 1
    assert len(register._hooks['execute.finished_post_status']) == 1
    for duration in (2.0, 4.0):
        task = FakeTask('jugfile.work')
        jug_hook('execute.task-pre-execute', (task,))
        clock.now += duration
        jug_hook('execute.task-executed1', (task,))
    jug_hook('execute.finished_pre_status')
    assert capsys.readouterr().out == ''
    jug_hook('execute.finished_post_status')
    out = capsys.readouterr().out
    assert out.count('TIMES') == 1
    assert 'jugfile.work         3.00s (2 tasks)' in out.splitlines()
