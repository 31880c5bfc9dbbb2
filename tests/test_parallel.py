"""Several ``jug execute`` workers on one jugdir, end to end: no idle sleeps while work
exists, prompt wake-ups, a failure handled once, and ``-j N`` (the bounds below are
generous: far above what the work takes, far below what a fixed 12 or 30 s sleep costs).
"""
import os
import signal
import subprocess
import time

import pytest

from jugtest import jug_command, jug_env

REDUCTION = """
import time
from jug import TaskGenerator


@TaskGenerator
def work(i):
    time.sleep(0.02)
    return i


@TaskGenerator
def total(values):
    return sum(values)


result = total([work(i) for i in range(60)])
"""

CHAIN = """
import os
import time
from jug import TaskGenerator


def note(what):
    with open('ran.log', 'a') as log:
        log.write(f'{os.getpid()} {what}\\n')


@TaskGenerator
def step(x):
    note(f'step{x}')
    time.sleep(0.2)
    return x + 1


@TaskGenerator
def indep(i):
    note(f'indep{i}')
    time.sleep(0.2)
    return i


chain = step(step(step(0)))
others = [indep(i) for i in range(6)]
"""

ONE_FAILS = """
import os
import time
from jug import TaskGenerator


@TaskGenerator
def work(i):
    if i == 7:
        with open('failed.log', 'a') as log:
            log.write(f'{os.getpid()}\\n')
        time.sleep(0.5)  # every worker is running by now
        raise ValueError('input 7 is bad')
    time.sleep(0.05)
    return i


@TaskGenerator
def post(x):
    return x + 1


values = [work(i) for i in range(20)]
posts = [post(v) for v in values]
"""

MANY = """
import os
import time
from jug import TaskGenerator


@TaskGenerator
def work(i):
    with open('ran.log', 'a') as log:
        log.write(f'{os.getpid()} {i}\\n')
    time.sleep(SLEEP)
    return i


results = [work(i) for i in range(N)]
"""


def _start(tmp_path, name, *args):
    return subprocess.Popen(jug_command('execute', name, '--will-cite', *args), cwd=tmp_path,
                            env=jug_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _workers(tmp_path, text, n, *args, name='work.py'):
    (tmp_path / name).write_text(text)
    start = time.monotonic()
    procs = [_start(tmp_path, name, *args) for _ in range(n)]
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    return time.monotonic() - start, outcomes


def _executed(out):
    """The Executed total of a summary table."""
    [total] = [line for line in out.splitlines() if line.rstrip().endswith('Total')]
    return int(total.split()[0])


def test_second_worker_does_not_sleep_a_wait_cycle(tmp_path):
    elapsed, outcomes = _workers(tmp_path, REDUCTION, 2, '--wait-cycle-time', '30')
    for code, out, err in outcomes:
        assert code == 0, err
    assert sum(_executed(out) for _, out, _ in outcomes) == 61
    assert elapsed < 15, f'{elapsed:.1f} s: a worker slept through a 30 s wait cycle'


def test_chain_and_independent_tasks_are_split_between_workers(tmp_path):
    _, outcomes = _workers(tmp_path, CHAIN, 2)
    for code, _, err in outcomes:
        assert code == 0, err
    runs = (tmp_path / 'ran.log').read_text().split('\n')[:-1]
    assert len(runs) == 9 and len({r.split()[1] for r in runs}) == 9  # each task once
    by_worker = {}
    for pid, task in (r.split() for r in runs):
        by_worker.setdefault(pid, []).append(task)
    assert len(by_worker) == 2, by_worker
    assert all(len(tasks) >= 3 for tasks in by_worker.values()), by_worker


def test_a_failure_is_handled_once_and_everyone_stops_promptly(tmp_path):
    elapsed, outcomes = _workers(tmp_path, ONE_FAILS, 3, '--keep-going')
    assert len((tmp_path / 'failed.log').read_text().split()) == 1  # run exactly once
    for code, out, err in outcomes:
        assert code == 1, err
        assert '1 task failed:' in out, out
        assert 'work.work' in out.split('1 task failed:')[1]
        assert '1 task depends on failed tasks and was not run: work.post (1).' in out
    assert sum(_executed(out) for _, out, _ in outcomes) == 19 + 19
    # with the default wait cycles (12 s, 150 times) a worker idling would take minutes
    assert elapsed < 20


def test_jobs_runs_every_task_once(tmp_path):
    (tmp_path / 'work.py').write_text(MANY.replace('SLEEP', '0.005').replace('N', '200'))
    proc = subprocess.run(jug_command('execute', 'work.py', '--will-cite', '-j', '3'),
                          cwd=tmp_path, env=jug_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    runs = [line.split() for line in (tmp_path / 'ran.log').read_text().splitlines()]
    assert sorted(int(i) for _, i in runs) == list(range(200))
    assert len({pid for pid, _ in runs}) >= 2
    assert _executed(proc.stdout) == 200  # one combined summary
    assert proc.stdout.count('Total') == 1
    status = subprocess.run(jug_command('status', 'work.py', '--short'), cwd=tmp_path,
                            env=jug_env(), capture_output=True, text=True)
    assert status.stdout.strip() == 'All tasks complete (200 tasks).'


def _locks(tmp_path):
    """The lock files (not the short-lived files beside them: a lock being linked into
    place, a probe of the filesystem's clock)."""
    lockdir = tmp_path / 'work.jugdata' / 'locks'
    return sorted(n for n in os.listdir(lockdir) if n.endswith('.lock')) \
        if lockdir.exists() else []


def _lock_pids(tmp_path):
    pids = set()
    for name in _locks(tmp_path):
        text = (tmp_path / 'work.jugdata' / 'locks' / name).read_text()
        if text.startswith('PID '):
            pids.add(int(text.split()[1]))
    return pids


@pytest.mark.parametrize('sig, code', [(signal.SIGINT, 130), (signal.SIGTERM, 1)],
                         ids=['ctrl-c', 'sigterm'])
def test_jobs_stop_on_a_signal_and_release_their_locks(tmp_path, sig, code):
    (tmp_path / 'work.py').write_text(MANY.replace('SLEEP', '30').replace('N', '10'))
    proc = _start(tmp_path, 'work.py', '-j', '3')
    deadline = time.monotonic() + 60
    while len(_locks(tmp_path)) < 3:  # each worker holds a task's lock
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    workers = _lock_pids(tmp_path)
    assert len(workers) == 3 and proc.pid not in workers
    proc.send_signal(sig)  # what the terminal's Ctrl-C sends (to the parent's group)
    proc.communicate(timeout=30)
    assert proc.returncode == code
    assert _locks(tmp_path) == []
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_jobs_refuses_a_private_store(tmp_path):
    (tmp_path / 'work.py').write_text(MANY.replace('SLEEP', '0').replace('N', '3'))
    proc = subprocess.run(jug_command('execute', 'work.py', '-j', '2', '--jugdir',
                                      'dict_store'),
                          cwd=tmp_path, env=jug_env(), capture_output=True, text=True)
    assert proc.returncode == 2
    assert '-j/--jobs needs a store that several processes share' in proc.stderr
    assert not (tmp_path / 'ran.log').exists()


def test_jobs_with_a_missing_jugfile_is_one_error(tmp_path):
    proc = subprocess.run(jug_command('execute', 'nothere.py', '-j', '2'), cwd=tmp_path,
                          env=jug_env(), capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr == "jug: error: jugfile 'nothere.py' not found\n"
