"""``jug execute --stop-after SECONDS``: no new task is taken once the time is up, also
by a worker that is waiting for others (what ``jug submit --time`` relies on); the
worker stops with exit code 0 and one line, its locks released."""
import os
import subprocess
import time

import pytest

from jugtest import files_in, jug_command, jug_env

MESSAGE = 'jug: stopping: time limit reached (--stop-after): no new task is taken'

JUGFILE = '''
import time
from jug import TaskGenerator


@TaskGenerator
def slow(seconds, i=0):
    time.sleep(seconds)
    return i


@TaskGenerator
def after(first, x):
    return x


first = slow(FIRST)
later = [slow(0.1, i) for i in range(1, 31)]
waiting = [after(first, x) for x in range(3)]
'''


def _project(tmp_path, first):
    (tmp_path / 'jf.py').write_text(JUGFILE.replace('FIRST', str(first)))


def _execute(tmp_path, *args, **kwargs):
    return subprocess.run(jug_command('execute', 'jf.py', '--will-cite', *args), cwd=tmp_path,
                          env=jug_env(), capture_output=True, text=True, timeout=120,
                          **kwargs)


def _done(tmp_path):
    return sum(len(files_in(tmp_path / 'jf.jugdata' / d))
               for d in files_in(tmp_path / 'jf.jugdata') if len(d) == 2)


@pytest.mark.parametrize('jobs', [[], ['-j', '2']], ids=['one worker', 'two workers'])
def test_a_running_worker_takes_no_task_after_the_time(tmp_path, jobs):
    _project(tmp_path, 0.1)
    run = _execute(tmp_path, '--stop-after', '0.8', *jobs)
    assert run.returncode == 0, run.stderr
    assert MESSAGE in run.stderr
    assert 0 < _done(tmp_path) < 34
    assert files_in(tmp_path / 'jf.jugdata' / 'locks') == []
    if jobs:  # the merged summary: what ran, and why the rest did not
        assert 'Stopped before the end (time limit reached (--stop-after)' in run.stdout
        assert 'could not run' not in run.stdout
        total = next(line for line in run.stdout.splitlines() if line.split()[-1:] == ['Total'])
        assert int(total.split()[0]) == _done(tmp_path)


def test_a_waiting_worker_stops_at_the_time(tmp_path):
    _project(tmp_path, 6)
    holder = subprocess.Popen(jug_command('execute', 'jf.py', '--will-cite'), cwd=tmp_path,
                              env=jug_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not files_in(tmp_path / 'jf.jugdata' / 'locks'):  # it holds `first`
            assert time.monotonic() < deadline
            time.sleep(0.02)
        started = time.monotonic()
        # the others run `later`, then wait for `first`, which the holder runs for 6 s
        run = _execute(tmp_path, '--stop-after', '4', '--nr-wait-cycles', '100')
        took = time.monotonic() - started
        assert run.returncode == 0, run.stderr
        assert MESSAGE in run.stderr
        assert took < 5.5, took  # it did not wait for `first`
        assert holder.poll() is None  # which the holder still runs
    finally:
        holder.wait(timeout=60)


@pytest.mark.parametrize('value', ['0', '-3', 'soon'])
def test_a_bad_value_is_one_line(tmp_path, value):
    _project(tmp_path, 0.1)
    run = _execute(tmp_path, '--stop-after', value)
    assert run.returncode == 2
    assert run.stderr.strip() == (f'jug: error: jug execute: --stop-after needs a positive '
                                  f'number of seconds, not {value!r}')
    assert not os.path.exists(tmp_path / 'jf.jugdata')
