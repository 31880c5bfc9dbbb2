"""Scenario jugfiles (tests/jugfiles/) run end to end by two ``jug execute`` workers,
then checked with ``jug check`` and ``value()``."""
import os
import shutil
import subprocess

import pytest

from jug import value
from jug.jug import init
from jugtest import JUGFILES, jug_command, jug_env


SCENARIOS = {
    'barrier_pipeline': {'sizes': [3, 1, 2], 'result': 4},
    'nested_bvalue': {'first': [0, 1, 2], 'second': [0, 1, 4], 'third': 25},
    'barrier_in_compound': {'result': 12},
    'mapreduce_generator': {'total': sum(i * i for i in range(10)),
                            'squares': [i * i for i in range(7)],
                            'from_range': 30},
    'empty_map': {'mapped': [], 'curried': [], 'reduced': []},
    'map_slices': {'middle': [25, 36, 49, 64, 81], 'inner': [9, 16], 'last': 484,
                   'middle_total': 255, 'from_parts': 0 + 484 + 16},
}


def _run_workers(tmp_path, name, *extra, workers=2):
    shutil.copy(os.path.join(JUGFILES, name + '.py'), tmp_path)
    procs = [subprocess.Popen(jug_command('execute', name + '.py', '--will-cite',
                                          '--wait-cycle-time', '0.1', *extra),
                              cwd=tmp_path, env=jug_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(workers)]
    return [(p.wait(timeout=120), *p.communicate()) for p in procs]


def _check(tmp_path, name):
    return subprocess.run(jug_command('check', name + '.py'), cwd=tmp_path,
                          env=jug_env()).returncode


@pytest.mark.parametrize('extra', [[], ['--aggressive-unload'], ['--debug']],
                         ids=['plain', 'aggressive-unload', 'debug'])
@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_scenario(tmp_path, monkeypatch, name, extra):
    for code, out, err in _run_workers(tmp_path, name, *extra):
        assert code == 0, err
    assert _check(tmp_path, name) == 0
    monkeypatch.chdir(tmp_path)
    _, space = init(name + '.py', name + '.jugdata')
    assert '__jug__hasbarrier__' not in space
    for variable, expected in SCENARIOS[name].items():
        assert value(space[variable]) == expected, variable


def test_compound_result_is_reused_without_inner_tasks(tmp_path, monkeypatch):
    for code, _, err in _run_workers(tmp_path, 'barrier_in_compound'):
        assert code == 0, err
    monkeypatch.chdir(tmp_path)
    import jug.task
    init('barrier_in_compound.py', 'barrier_in_compound.jugdata')
    assert [t.name for t in jug.task.alltasks] == ['barrier_in_compound.pipeline']
    results = os.listdir(tmp_path / 'barrier_in_compound.jugdata')
    stored = sum(len(os.listdir(tmp_path / 'barrier_in_compound.jugdata' / d))
                 for d in results if len(d) == 2)
    assert stored == 1 + 4 + 1 + 1  # numbers, 4 doubles, total, the compound result


def test_failure_before_barrier_stops_with_error(tmp_path, monkeypatch):
    outcomes = _run_workers(tmp_path, 'fail_before_barrier')
    for code, _, err in outcomes:
        assert code == 1
        assert 'this task always fails' in err
    assert _check(tmp_path, 'fail_before_barrier') == 1
    monkeypatch.chdir(tmp_path)
    _, space = init('fail_before_barrier.py', 'fail_before_barrier.jugdata')
    assert space['__jug__hasbarrier__'] is True
    assert value(space['ok']) == 9


def test_failure_before_barrier_keep_going_is_bounded_and_not_retried(tmp_path):
    outcomes = _run_workers(tmp_path, 'fail_before_barrier', '--keep-going',
                            '--nr-wait-cycles', '3')
    for code, out, err in outcomes:
        assert code == 1, err
        assert 'Executed' in out  # the summary is printed
    runs = (tmp_path / 'fails.log').read_text().split()
    # each worker tries the failing task at most once, although it re-reads the
    # jugfile after every wait
    assert 1 <= len(runs) <= 2 and len(set(runs)) == len(runs)


def test_keep_failed_marks_it_once_for_all_workers(tmp_path):
    outcomes = _run_workers(tmp_path, 'fail_before_barrier', '--keep-going',
                            '--keep-failed', '--nr-wait-cycles', '2')
    # one worker ran the task and failed; the other found its lock marked failed and
    # did not run it; both exit 1 (a task is left undone because of a failure) and
    # name it in their summaries
    assert sorted(code for code, _, _ in outcomes) == [1, 1]
    for _, out, err in outcomes:
        assert '1 task failed:' in out, out + err
        assert 'fail_before_barrier.fails' in out
    assert len((tmp_path / 'fails.log').read_text().split()) == 1
    status = subprocess.run(jug_command('status', 'fail_before_barrier.py', '--short'),
                            cwd=tmp_path, env=jug_env(), capture_output=True, text=True)
    assert status.stdout.splitlines() == [
        '0 tasks waiting to be run, 1 failed, 1 complete, (none active).',
        '1 task failed in its last run (jug status --failed shows it, with its error).']


MUTATES = """
import numpy as np
from jug import TaskGenerator


@TaskGenerator
def mutate(arr):
    arr[0] = 99
    return int(arr.sum())


@TaskGenerator
def creates_task(x):
    from jug import Task
    Task(abs, x)
    return x


result = mutate(np.arange(3))
"""


def test_debug_detects_an_argument_changed_by_its_task(tmp_path):
    (tmp_path / 'mutates.py').write_text(MUTATES)
    plain = subprocess.run(jug_command('execute', 'mutates.py', '--will-cite'), cwd=tmp_path,
                           env=jug_env(), capture_output=True, text=True)
    assert plain.returncode == 0
    shutil.rmtree(tmp_path / 'mutates.jugdata')
    debug = subprocess.run(jug_command('execute', 'mutates.py', '--debug'), cwd=tmp_path,
                           env=jug_env(), capture_output=True, text=True)
    assert debug.returncode == 1
    assert 'hash of task mutates.mutate changed unexpectedly' in debug.stderr


def test_debug_detects_a_task_created_by_a_task(tmp_path):
    (tmp_path / 'creates.py').write_text(MUTATES.replace('result = mutate(np.arange(3))',
                                                         'result = creates_task(1)'))
    debug = subprocess.run(jug_command('execute', 'creates.py', '--debug'), cwd=tmp_path,
                           env=jug_env(), capture_output=True, text=True)
    assert debug.returncode == 1
    assert 'created new tasks while running' in debug.stderr
