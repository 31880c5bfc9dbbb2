"""Locks under hostile timing, end to end (docs/failures.rst, "Guarantees"):

* a worker frozen (SIGSTOP) past its lease is taken over; when it is continued it
  commits nothing: the one result stored is the new owner's (file store and redis);
* a task holding the GIL in one long C call keeps its lock: no second worker runs it;
* a worker whose clock is 15 minutes ahead (libfaketime) takes nothing over;
* an empty lock file (a worker killed between creating and writing it) is taken over,
  and the run completes with exit 0 and ``jug check`` 0.

The timing-sensitive tests also run beside two busy processes (``cpu_contention``).
"""
import glob
import os
import signal
import subprocess
import time

import pytest

from jug.backends.file_store import file_store
from jug.backends.lockfiles import EMPTY_LOCK_GRACE, parse_lock
from jugtest import jug_command, jug_env, jug27_lock_text, require_program

DEADLINE = 60

WAITING_JUGFILE = '''
import os
import time
from jug import TaskGenerator

WHO = os.environ.get('WORKER', 'nobody')


@TaskGenerator
def job():
    open('running.' + WHO, 'w').close()
    deadline = time.monotonic() + 60
    while not os.path.exists('go.' + WHO):
        if time.monotonic() > deadline:
            raise RuntimeError('the test never said go')
        time.sleep(0.01)
    return WHO


result = job()
'''


def _wait_for(condition, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.01)


class Worker:
    """A ``jug execute`` subprocess whose stderr goes to a file (read while it runs)."""

    def __init__(self, cwd, name, *options, prefix=()):
        self.cwd = cwd
        self.stderr_path = os.path.join(cwd, f'stderr.{name}')
        with open(self.stderr_path, 'w') as stderr:
            self.process = subprocess.Popen(
                [*prefix, *jug_command('execute', 'jf.py', '--will-cite', *options)],
                cwd=cwd, env=jug_env(WORKER=name), stdout=subprocess.DEVNULL, stderr=stderr)

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def wait(self):
        try:
            return self.process.wait(timeout=DEADLINE)
        finally:
            self.kill()

    def kill(self):
        """Kill it if it still runs (also if it is stopped)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()


def _exists(cwd, name):
    return lambda: os.path.exists(os.path.join(cwd, name))


@pytest.fixture(params=['file', 'redis'])
def jugdir(request, tmp_path):
    if request.param == 'file':
        return str(tmp_path / 'jf.jugdata')
    return request.getfixturevalue('redis_url')


def _python(cwd, script):
    """Run the Python `script` in `cwd` (with this checkout's jug); return its output."""
    out = subprocess.run([*jug_command()[:-2], '-c', script], cwd=cwd, env=jug_env(),
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _load_result(cwd, jugdir):
    """The stored value of jf.result, or the string 'none'."""
    return _python(cwd, 'from jug.jug import init\nfrom jug import value\n'
                        f'store, space = init("jf.py", {jugdir!r})\n'
                        'print(value(space["result"]) if space["result"].can_load() '
                        'else "none")\nstore.close()\n')


def _task_key(cwd, expression='space["result"]'):
    """The hash of the task `expression` of jf.py."""
    return _python(cwd, 'from jug.jug import init\n'
                        'store, space = init("jf.py", "dict_store")\n'
                        f'print({expression}.hash().decode())\n')


def test_a_worker_continued_after_losing_its_lock_commits_nothing(tmp_path, jugdir,
                                                                  cpu_contention):
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(WAITING_JUGFILE)
    lease = ['--jugdir', jugdir, '--lease-time', '1', '--heartbeat-interval', '0.2']
    a = Worker(cwd, 'A', *lease)
    b = None
    try:
        _wait_for(_exists(cwd, 'running.A'), 'A to start the task')
        a.process.send_signal(signal.SIGSTOP)  # frozen past its lease
        b = Worker(cwd, 'B', *lease)
        _wait_for(_exists(cwd, 'running.B'), 'B to take the task over')
        (tmp_path / 'go.A').touch()
        a.process.send_signal(signal.SIGCONT)  # A finishes while B holds the lock
        _wait_for(lambda: 'lost its lock' in a.stderr(), 'A to find its lock lost')
        assert _load_result(cwd, jugdir) == 'none'  # A's result was not stored
        (tmp_path / 'go.B').touch()
        assert b.wait() == 0, b.stderr()
        assert a.wait() == 0, a.stderr()
    finally:
        for worker in (a, b):
            if worker is not None:
                worker.wait()
    assert _load_result(cwd, jugdir) == 'B'
    assert 'Traceback' not in a.stderr() + b.stderr()
    check = subprocess.run(jug_command('check', 'jf.py', '--jugdir', jugdir), cwd=cwd,
                           env=jug_env())
    assert check.returncode == 0


GIL_JUGFILE = '''
import os
from jug import TaskGenerator


@TaskGenerator
def heavy():
    open('ran.%d' % os.getpid(), 'w').close()
    return sum(range(10 ** 8))  # one C call of about 2 s: it never lets the GIL go


result = heavy()
'''


def test_a_task_holding_the_gil_keeps_its_lock(tmp_path, cpu_contention):
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(GIL_JUGFILE)
    lease = ['--lease-time', '0.5', '--heartbeat-interval', '0.1']
    a = Worker(cwd, 'A', *lease)
    b = None
    try:
        _wait_for(lambda: glob.glob(os.path.join(cwd, 'ran.*')), 'the task to start')
        lock = glob.glob(os.path.join(cwd, 'jf.jugdata', 'locks', '*.lock'))[0]
        first = os.stat(lock).st_mtime_ns
        b = Worker(cwd, 'B', *lease)
        # refreshed while the task is still inside its C call (A has not committed)
        _wait_for(lambda: not os.path.exists(lock) or os.stat(lock).st_mtime_ns > first,
                  'a refresh')
        assert b.wait() == 0, b.stderr()
        assert a.wait() == 0, a.stderr()
    finally:
        for worker in (a, b):
            if worker is not None:
                worker.wait()
    assert len(glob.glob(os.path.join(cwd, 'ran.*'))) == 1, 'the task ran twice'
    assert 'Took over' not in b.stderr()


def _faketime():
    return ['faketime', '-f', '+15m']


def test_a_worker_whose_clock_is_ahead_takes_nothing_over(tmp_path):
    require_program('faketime', 'faketime')
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(WAITING_JUGFILE)
    a = Worker(cwd, 'A', '--heartbeat-interval', '0.5')  # (B soon sees it alive)
    b = None
    try:
        _wait_for(_exists(cwd, 'running.A'), 'A to start the task')
        # B's clock is 15 minutes ahead: A's lock looks 15 minutes old to it
        b = Worker(cwd, 'B', '--nr-wait-cycles', '2', '--wait-cycle-time', '0.2',
                   prefix=_faketime())
        b.wait()
        assert not os.path.exists(os.path.join(cwd, 'running.B'))
        assert 'Took over' not in b.stderr()
        (tmp_path / 'go.A').touch()
        assert a.wait() == 0, a.stderr()
    finally:
        for worker in (a, b):
            if worker is not None:
                worker.wait()
    assert _load_result(cwd, str(tmp_path / 'jf.jugdata')) == 'A'


def test_a_remote_lock_is_judged_by_the_filesystem_clock(tmp_path):
    """A lock of another host, refreshed just now for the last time (lease 5 s): a worker
    whose clock is 15 minutes ahead takes it over when its lease has run out, not
    at once."""
    require_program('faketime', 'faketime')
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(WAITING_JUGFILE)
    (tmp_path / 'go.B').touch()
    key = _task_key(cwd)
    locks = tmp_path / 'jf.jugdata' / 'locks'
    locks.mkdir(parents=True)
    lease = 5
    (locks / f'{key}.lock').write_text(
        jug27_lock_text(4242, 'elsewhere')
        + f'Jug-lease: {lease} 99 elsewhere:4242:0123456789abcdef otherboot:1\n')
    planted = time.monotonic()
    b = Worker(cwd, 'B', '--nr-wait-cycles', '1', '--wait-cycle-time', '0.2',
               prefix=_faketime())
    assert b.wait() == 0, b.stderr()
    assert time.monotonic() - planted >= lease - 0.5, 'taken over before its lease ran out'
    assert 'Took over the stale lock' in b.stderr() and 'lease of 5 s expired' in b.stderr()
    assert _load_result(cwd, str(tmp_path / 'jf.jugdata')) == 'B'


QUICK_JUGFILE = '''
from jug import TaskGenerator


@TaskGenerator
def double(x):
    return 2 * x


values = [double(i) for i in range(4)]
'''


@pytest.mark.parametrize('age', [EMPTY_LOCK_GRACE + 5, EMPTY_LOCK_GRACE - 2],
                         ids=['old', 'young'])
def test_an_empty_lock_is_taken_over_and_the_run_completes(tmp_path, age):
    """Left by a worker killed between creating and writing its lock (Jug 2.7 creates,
    then writes); a young one may still be written, so it is waited for first."""
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(QUICK_JUGFILE)
    store = file_store(str(tmp_path / 'jf.jugdata'))
    lock = store.getlock(_task_key(cwd, 'space["values"][2]'))
    os.makedirs(os.path.dirname(lock.fullname))
    open(lock.fullname, 'w').close()
    then = time.time() - age
    os.utime(lock.fullname, (then, then))
    run = subprocess.run(jug_command('execute', 'jf.py', '--will-cite'), cwd=cwd,
                         env=jug_env(), capture_output=True, text=True, timeout=DEADLINE)
    assert run.returncode == 0, run.stderr
    assert 'Took over the stale lock' in run.stderr and 'empty' in run.stderr
    check = subprocess.run(jug_command('check', 'jf.py'), cwd=cwd, env=jug_env())
    assert check.returncode == 0
    assert store.listlocks() == []


def test_a_lock_is_never_seen_empty_while_workers_race(tmp_path):
    """Many workers creating the same locks: every lock file anyone reads is whole."""
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(QUICK_JUGFILE.replace('range(4)', 'range(300)'))
    workers = [subprocess.Popen(jug_command('execute', 'jf.py', '--will-cite'), cwd=cwd,
                                env=jug_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(3)]
    locks = os.path.join(cwd, 'jf.jugdata', 'locks')
    seen = 0
    try:
        while any(w.poll() is None for w in workers):
            for path in glob.glob(os.path.join(locks, '*.lock')):
                try:
                    with open(path) as f:
                        text = f.read()
                except FileNotFoundError:
                    continue
                info = parse_lock(text)
                assert info.pid is not None and info.token is not None, repr(text)
                seen += 1
    finally:
        for w in workers:
            w.wait(timeout=DEADLINE)
    assert all(w.returncode == 0 for w in workers)
    assert seen > 0


def test_sigterm_to_the_whole_process_group_releases_the_lock(tmp_path):
    """A batch system (or ``timeout``) signals every process of a job, the heartbeat
    helper too: the worker still releases its lock and records the interruption."""
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(WAITING_JUGFILE)
    with open(os.path.join(cwd, 'stderr'), 'w') as stderr:
        worker = subprocess.Popen(jug_command('execute', 'jf.py', '--will-cite'), cwd=cwd,
                                  env=jug_env(WORKER='A'), stdout=subprocess.DEVNULL,
                                  stderr=stderr, start_new_session=True)
    try:
        _wait_for(_exists(cwd, 'running.A'), 'the task to start')
        os.killpg(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=DEADLINE) == 1
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    with open(os.path.join(cwd, 'stderr')) as f:
        errors = f.read()
    assert 'Traceback' not in errors and 'could not remove' not in errors, errors
    store = file_store(str(tmp_path / 'jf.jugdata'))
    assert store.listlocks() == []
    [key] = store.list_records()
    assert store.load_record(key)['status'] == 'interrupted'


def _plant_abandoned_lock(jugdir, key, lease, interval):
    """A lock of a worker of another host that stopped refreshing it just now."""
    if jugdir.startswith('redis:'):
        import redis

        from jug.backends.redis_client import parse_url
        client = redis.Redis(**parse_url(jugdir))
        owner = f'elsewhere:4242:0123456789abcdef 99 otherboot:1 {lease * 1000} {interval * 1000}'
        client.set(b'lock:' + key.encode(), b'L', px=lease * 1000)
        client.set(b'lockowner:' + key.encode(), owner.encode(), px=lease * 1000)
        client.close()
        return
    locks = os.path.join(jugdir, 'locks')
    os.makedirs(locks)
    with open(os.path.join(locks, key + '.lock'), 'w') as f:
        f.write(jug27_lock_text(4242, 'elsewhere') +
                f'Jug-lease: {lease} 99 elsewhere:4242:0123456789abcdef otherboot:1 {interval}\n')


def test_the_last_worker_waits_for_a_lock_nobody_refreshes(tmp_path, jugdir):
    """Its holder (on another host) died: the lock goes stale when its lease runs out.
    A worker with little patience waits for that instead of giving up, then runs the
    task: the run completes without anyone starting another worker."""
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(WAITING_JUGFILE)
    (tmp_path / 'go.B').touch()
    _plant_abandoned_lock(jugdir, _task_key(cwd), lease=3, interval=0.5)
    started = time.monotonic()
    b = Worker(cwd, 'B', '--jugdir', jugdir, '--nr-wait-cycles', '1', '--wait-cycle-time',
               '0.2', '--verbose', 'info')
    assert b.wait() == 0, b.stderr()
    assert time.monotonic() - started > 2  # it did wait for the lease to run out
    assert 'Waiting to see whether the holders of 1 lock(s) are alive' in b.stderr()
    assert _load_result(cwd, jugdir) == 'B'


def test_the_last_worker_waits_for_a_holder_that_froze_after_it_was_seen_alive(tmp_path):
    """B sees A refresh its lock, so A is alive; then A freezes (as a node that dies).
    B's patience runs out before A's lease: it waits for the lease and runs the task."""
    cwd = str(tmp_path)
    (tmp_path / 'jf.py').write_text(WAITING_JUGFILE)
    (tmp_path / 'go.B').touch()
    lease = ['--lease-time', '4', '--heartbeat-interval', '0.2']
    a = Worker(cwd, 'A', *lease)
    b = None
    try:
        _wait_for(_exists(cwd, 'running.A'), 'A to start the task')
        lock = glob.glob(os.path.join(cwd, 'jf.jugdata', 'locks', '*.lock'))[0]
        b = Worker(cwd, 'B', *lease, '--nr-wait-cycles', '2', '--wait-cycle-time', '0.5',
                   '--verbose', 'info')
        _wait_for(lambda: 'waiting for 1 task' in b.stderr(), 'B to wait for A')
        for _ in range(3):  # A refreshes while B watches: B sees it alive
            seen = os.stat(lock).st_mtime_ns
            _wait_for(lambda: os.stat(lock).st_mtime_ns != seen, 'a refresh by A')
        a.process.send_signal(signal.SIGSTOP)
        assert b.wait() == 0, b.stderr()
    finally:
        a.kill()  # frozen for good
        if b is not None:
            b.wait()
    assert 'Took over the stale lock' in b.stderr()
    assert _load_result(cwd, str(tmp_path / 'jf.jugdata')) == 'B'
