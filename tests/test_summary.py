"""The summary of ``jug execute`` (jug/summary.py): report lines, exit code, and the
merge of the summaries of the workers of ``-j``; and ``-j``'s helpers (jug/jobs.py)."""
import os
import sys

import pytest

from jug.errors import OptionError
from jug.jobs import parse_jobs, worker_arguments
from jug.options import default_options
from jug.summary import MAX_FAILED_LISTED, RunSummary

from jugtest import Output

A, B, C, D = ('a' * 40, 'b' * 40, 'c' * 40, 'd' * 40)


def _summary(executed=None, loaded=None, **fields):
    s = RunSummary()
    s.executed_keys = executed or {}
    s.loaded_keys = loaded or {}
    s.executed = {name: len(keys) for name, keys in s.executed_keys.items()}
    s.loaded = {name: len(keys) for name, keys in s.loaded_keys.items()}
    for field, value in fields.items():
        setattr(s, field, value)
    return s


def test_nothing_to_report():
    s = _summary()
    assert s.report_lines() == [] and s.exit_code() == 0


def test_report_lines_name_failures_and_what_they_block():
    s = _summary(failed=[['m.f', A, 'ValueError: bad']],
                 blocked=[['m.g', B], ['m.h', C], ['m.g', D]])
    assert s.report_lines() == [
        '1 task failed:',
        f'    m.f {A[:12]}: ValueError: bad',
        '3 tasks depend on failed tasks and were not run: m.g (2), m.h (1).',
    ]
    assert s.exit_code() == 1


def test_many_failures_are_cut_short():
    failed = [['m.f', f'{i:040x}', 'E'] for i in range(MAX_FAILED_LISTED + 3)]
    lines = _summary(failed=failed).report_lines()
    assert lines[0] == f'{MAX_FAILED_LISTED + 3} tasks failed:'
    assert lines[-1] == '    ... and 3 more (jug status --failed lists them all)'


def test_waiting_and_unavailable_do_not_fail_the_run():
    s = _summary(waiting=[['m.f', A]], gave_up=True, unavailable=[['m.g', B]])
    first, second = s.report_lines()
    assert first.startswith('Gave up waiting for 1 task held by other processes')
    assert second.startswith('1 task could not run: waiting for tasks not selected')
    assert s.exit_code() == 0
    assert _summary(raised=True).exit_code() == 1


def test_merge_counts_each_task_once():
    one = _summary(executed={'m.f': [A]}, loaded={'m.f': [B, C], 'm.g': [D]})
    two = _summary(executed={'m.f': [C]}, loaded={'m.f': [A, B], 'm.g': [D]})
    merged = RunSummary.merge([RunSummary.from_json(one.to_json()),
                               RunSummary.from_json(two.to_json())])
    assert merged.executed == {'m.f': 2}      # A by one, C by two
    assert merged.loaded == {'m.f': 1, 'm.g': 1}  # B and D were done before the run
    options = default_options.copy()
    options.print_out = Output()
    merged.print(options)
    assert options.print_out[-2].split() == ['2', '2', 'Total']


def test_merge_keeps_undone_tasks_nobody_did_with_the_best_reason():
    ran_it = _summary(failed=[['m.f', A, 'ValueError: bad']], raised=True,
                      blocked=[['m.g', B]])
    saw_it = _summary(failed=[['m.f', A, 'it failed in another worker: ...']],
                      blocked=[['m.g', B]], waiting=[['m.h', C]],
                      executed={'m.i': [D]})
    late = _summary(loaded={'m.h': [C]}, blocked=[['m.i', D]])
    merged = RunSummary.merge([saw_it, ran_it, late])
    assert merged.failed == [['m.f', A, 'ValueError: bad']]  # as the worker that ran it
    assert merged.blocked == [['m.g', B]]
    assert merged.waiting == []  # C was done after all, D was executed
    assert merged.raised and merged.exit_code() == 1


def test_a_stopped_worker_leaves_nothing_undone():
    from jug.scheduler import ExecutionState, Undone
    state = ExecutionState()
    state.undone = Undone()
    state.undone.unavailable = [('m.f', B)]  # what the loop had not taken when it stopped

    class Stats:
        executed, loaded, keys = {'m.f': 1}, {}, {'executed': {'m.f': [A]}, 'loaded': {}}
    stopped = RunSummary.of_worker(Stats(), state, False, 'time limit reached (--stop-after)')
    assert stopped.unavailable == [] and stopped.exit_code() == 0
    still_running = _summary(executed={'m.f': [C]})
    merged = RunSummary.merge([RunSummary.from_json(stopped.to_json()), still_running])
    assert merged.report_lines() == [
        'Stopped before the end (time limit reached (--stop-after)): the next jug execute '
        'goes on.']
    assert merged.executed == {'m.f': 2} and merged.exit_code() == 0


@pytest.mark.parametrize('value, jobs', [(None, 1), ('1', 1), (3, 3), ('4', 4)])
def test_parse_jobs(value, jobs):
    assert parse_jobs(value) == jobs


@pytest.mark.parametrize('value', ['0', 'auto', 'AUTO', 0])
def test_parse_jobs_one_per_cpu(value):
    assert parse_jobs(value) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize('value', ['-1', 'many', '2.5'])
def test_parse_jobs_rejects(value):
    with pytest.raises(OptionError, match='--jobs must be a number of workers'):
        parse_jobs(value)


def test_worker_arguments_repeat_the_options(monkeypatch):
    options = default_options.copy()
    options.jugfile = 'analysis.py'
    options.jugdir = '100%.jugdata'
    options.execute_keep_going = True
    options.execute_name = 'f'
    options.aggressive_unload = True
    monkeypatch.setattr(sys, 'argv', ['analysis.py', '--input', 'x'])
    args = worker_arguments(options, '/tmp/report.json')
    assert args[:4] == ['execute', 'analysis.py', '--jugdir', '100%%.jugdata']
    # last before the jugfile's own arguments: they win over options given twice
    assert args[-7:-3] == ['--jobs', '1', '--worker-report', '/tmp/report.json']
    assert '--keep-going' in args and '--aggressive-unload' in args
    assert '--keep-failed' not in args
    assert args[args.index('--name') + 1] == 'f'
    assert args[args.index('--wait-cycle-time') + 1] == '12.0'
    assert args[-3:] == ['--', '--input', 'x']
