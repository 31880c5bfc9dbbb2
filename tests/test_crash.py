"""Workers killed at random never strand work (issue: lock leases, crash safety).

Three ``jug execute`` workers share 300 tasks of about 20 ms that log when they start
and end.  Workers are killed (SIGKILL) in the middle of a task and restarted, or frozen
(SIGSTOP) until their lease expires; with no manual cleanup the work must finish, every
result must be right, no task may have run in two live workers at once, and no task may
have run more often than there were kills.  Each test runs on the file store and on a
real redis server, on an idle machine and beside two busy processes.
"""
import collections
import os
import random
import signal
import subprocess
import time

import pytest

from jug import value
from jug.jug import init
from jugtest import jug_command, jug_env

N_TASKS = 300
JUGFILE = '''
import os
import time
from jug import TaskGenerator

LOG = os.path.abspath('runs.log')


def log(event, i):
    with open(LOG, 'a') as f:
        f.write(f'{event} {i} {os.getpid()} {time.time()!r}\\n')


@TaskGenerator
def work(i):
    log('start', i)
    time.sleep(0.02)
    log('end', i)
    return i * i


@TaskGenerator
def total(values):
    return sum(values)


squares = [work(i) for i in range(N_TASKS)]
result = total(squares)
'''.replace('N_TASKS', str(N_TASKS))


class Workers:
    """The worker processes of one test, and when each stopped being live."""

    def __init__(self, cwd, *extra):
        self.cwd = cwd
        self.extra = extra
        self.procs = []
        self.dead_at = {}  # pid -> time it was killed or frozen

    def start(self):
        self.procs.append(subprocess.Popen(
            jug_command('execute', 'crash.py', '--will-cite', '--wait-cycle-time', '0.1',
                        *self.extra),
            cwd=self.cwd, env=jug_env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))

    def live(self):
        return [p for p in self.procs if p.poll() is None and p.pid not in self.dead_at]

    def in_a_task(self, proc):
        """Whether the log shows ``proc`` inside a task now."""
        running = set()
        for event, i, pid, _ in _events(self.cwd):
            if pid == proc.pid:
                (running.add if event == 'start' else running.discard)(i)
        return bool(running)

    def stop(self, proc, sig):
        self.dead_at[proc.pid] = time.time()
        proc.send_signal(sig)

    def wait_all(self, deadline):
        for p in self.procs:
            if p.pid in self.dead_at:
                p.kill()
            p.wait(timeout=max(1, deadline - time.time()))


def _events(cwd):
    try:
        with open(os.path.join(cwd, 'runs.log')) as log:
            lines = log.read().splitlines()
    except FileNotFoundError:
        return []
    return [(e, int(i), int(pid), float(t)) for e, i, pid, t in
            (line.split() for line in lines if line.count(' ') == 3)]


def _pick_victim(workers, rng, deadline):
    """Wait until some live worker is inside a task; return it."""
    while time.time() < deadline:
        busy = [p for p in workers.live() if workers.in_a_task(p)]
        if busy:
            return rng.choice(busy)
        time.sleep(0.005)
    raise AssertionError('no worker was ever inside a task')


def _check_runs(cwd, workers, max_extra_runs):
    runs = collections.defaultdict(list)  # task -> [(start, end, pid)]
    starts = {}
    for event, i, pid, t in _events(cwd):
        if event == 'start':
            starts[(i, pid)] = t
        else:
            runs[i].append((starts.pop((i, pid)), t, pid))
    for (i, pid), t in starts.items():  # runs cut short by a kill or a freeze
        runs[i].append((t, workers.dead_at[pid], pid))
    assert sorted(runs) == list(range(N_TASKS))
    for i, intervals in runs.items():
        intervals.sort()
        for (s0, e0, p0), (s1, e1, p1) in zip(intervals, intervals[1:]):
            assert s1 >= e0, f'task {i} ran in {p0} and {p1} at the same time'
    extra = sum(len(v) - 1 for v in runs.values())
    assert extra <= max_extra_runs


def _check_results(cwd, monkeypatch, jugdir):
    assert subprocess.run(jug_command('check', 'crash.py', '--jugdir', jugdir), cwd=cwd,
                          env=jug_env()).returncode == 0
    monkeypatch.chdir(cwd)
    store, space = init('crash.py', jugdir)
    assert value(space['squares']) == [i * i for i in range(N_TASKS)]
    assert value(space['result']) == sum(i * i for i in range(N_TASKS))
    assert list(store.listlocks()) == []
    store.close()


@pytest.fixture(params=['file', 'redis'])
def jugdir(request, tmp_path):
    """The store the workers share: a directory, or a real redis server."""
    if request.param == 'file':
        return str(tmp_path / 'crash.jugdata')
    return request.getfixturevalue('redis_url')


def test_workers_killed_and_restarted(tmp_path, monkeypatch, jugdir, cpu_contention):
    """With default options: a killed worker's locks (file or redis) are known stale at
    once on its host, and a last plain ``jug execute`` completes the run."""
    (tmp_path / 'crash.py').write_text(JUGFILE)
    rng = random.Random(1234)
    deadline = time.time() + 80
    workers = Workers(str(tmp_path), '--jugdir', jugdir)
    for _ in range(3):
        workers.start()
    kills = 0
    for _ in range(8):
        victim = _pick_victim(workers, rng, deadline)
        workers.stop(victim, signal.SIGKILL)
        victim.wait()
        kills += 1
        workers.start()
    workers.wait_all(deadline)
    assert all(p.returncode == 0 for p in workers.procs if p.pid not in workers.dead_at)
    last = subprocess.run(jug_command('execute', 'crash.py', '--will-cite', '--jugdir', jugdir,
                                      '--nr-wait-cycles', '3', '--wait-cycle-time', '1'),
                          cwd=tmp_path, env=jug_env(), capture_output=True, text=True,
                          timeout=max(1, deadline - time.time()))
    assert last.returncode == 0, last.stderr
    _check_runs(str(tmp_path), workers, kills)
    _check_results(str(tmp_path), monkeypatch, jugdir)


def test_frozen_worker_loses_its_lease(tmp_path, monkeypatch, jugdir, cpu_contention):
    (tmp_path / 'crash.py').write_text(JUGFILE)
    rng = random.Random(99)
    deadline = time.time() + 50
    workers = Workers(str(tmp_path), '--jugdir', jugdir,
                      '--lease-time', '1', '--heartbeat-interval', '0.2')
    for _ in range(3):
        workers.start()
    victim = _pick_victim(workers, rng, deadline)
    workers.stop(victim, signal.SIGSTOP)  # frozen: alive, but its lease is not refreshed
    frozen_task = next(i for e, i, pid, _ in reversed(_events(str(tmp_path)))
                       if pid == victim.pid)
    others = [p for p in workers.procs if p is not victim]
    for p in others:
        p.wait(timeout=max(1, deadline - time.time()))
        assert p.returncode == 0
    workers.wait_all(deadline)  # the frozen worker is killed, never resumed
    rerun = [pid for e, i, pid, _ in _events(str(tmp_path))
             if e == 'end' and i == frozen_task]
    assert rerun and victim.pid not in rerun
    _check_runs(str(tmp_path), workers, 1)
    _check_results(str(tmp_path), monkeypatch, jugdir)
