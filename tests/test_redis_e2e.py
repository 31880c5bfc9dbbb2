"""The commands through a real redis server, and a server restart in the middle of a run."""
import os
import subprocess
import time

from jug import value
from jug.jug import init
from jugtest import jug_command, jug_env

JUGFILE = '''
import time
from jug import TaskGenerator

@TaskGenerator
def slow_square(i):
    time.sleep(0.01)
    return i * i

@TaskGenerator
def total(values):
    return sum(values)

squares = [slow_square(i) for i in range(120)]
result = total(squares)
'''


def _jug(tmp_path, *args):
    return subprocess.run(jug_command(*args), cwd=tmp_path, env=jug_env(),
                          capture_output=True, text=True, timeout=120)


def test_restart_in_the_middle_of_a_run(tmp_path, monkeypatch, redis_server, redis_url):
    (tmp_path / 'work.py').write_text(JUGFILE)
    workers = [subprocess.Popen(jug_command('execute', 'work.py', '--jugdir', redis_url,
                                            '--will-cite', '--wait-cycle-time', '0.1'),
                                cwd=tmp_path, env=jug_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    from jug.backends.redis_store import redis_store
    store = redis_store(redis_url)
    deadline = time.time() + 60
    while len(list(store.list())) < 20:  # some results are in: restart now
        assert time.time() < deadline and all(w.poll() is None for w in workers)
        time.sleep(0.01)
    store.close()
    redis_server.restart(keep_data=True)
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert _jug(tmp_path, 'check', 'work.py', '--jugdir', redis_url).returncode == 0
    monkeypatch.chdir(tmp_path)
    store, space = init('work.py', redis_url)
    assert value(space['squares']) == [i * i for i in range(120)]
    assert value(space['result']) == sum(i * i for i in range(120))
    store.close()


def test_commands_on_redis(tmp_path, redis_url):
    (tmp_path / 'work.py').write_text(JUGFILE.replace('range(120)', 'range(10)'))
    jugdir = ('--jugdir', redis_url)
    assert _jug(tmp_path, 'check', 'work.py', *jugdir).returncode == 1
    assert _jug(tmp_path, 'execute', 'work.py', '--will-cite', *jugdir).returncode == 0
    assert _jug(tmp_path, 'sleep-until', 'work.py', *jugdir).returncode == 0
    cached = _jug(tmp_path, 'status', 'work.py', '--cache', '--short', *jugdir)
    assert cached.stdout.strip() == 'All tasks complete (11 tasks).'
    invalidated = _jug(tmp_path, 'invalidate', 'work.py', '--name', 'total', *jugdir)
    assert invalidated.stdout.splitlines()[-2].split() == ['1', 'Total']
    # (not --cache: like Jug 2.7's, the cache trusts the results it saw finished)
    again = _jug(tmp_path, 'status', 'work.py', '--short', *jugdir)
    assert again.stdout.strip() == \
        '1 tasks waiting to be run, 0 failed, 10 complete, (none active).'
    (tmp_path / 'work.py').write_text(JUGFILE.replace('range(120)', 'range(5)'))
    cleaned = _jug(tmp_path, 'cleanup', 'work.py', *jugdir)
    assert cleaned.stdout.splitlines() == ['Removed 5 objects', 'Removed 0 locks']
    packed = _jug(tmp_path, 'pack', 'work.py', *jugdir)
    assert packed.returncode == 1 and 'only file stores' in packed.stderr
    assert not os.path.exists(tmp_path / 'work.jugdata')


def test_jobs_on_redis(tmp_path, monkeypatch, redis_url):
    (tmp_path / 'work.py').write_text(JUGFILE)
    proc = _jug(tmp_path, 'execute', 'work.py', '--jugdir', redis_url, '--will-cite',
                '-j', '3')
    assert proc.returncode == 0, proc.stderr
    [total] = [line for line in proc.stdout.splitlines() if line.rstrip().endswith('Total')]
    assert total.split()[:2] == ['121', '0']  # each task executed once, by some worker
    monkeypatch.chdir(tmp_path)
    _, space = init('work.py', redis_url)
    assert value(space['result']) == sum(i * i for i in range(120))
    from jug.backends.redis_store import redis_store
    store = redis_store(redis_url)
    records = [store.load_record(key) for key in store.list_records()]
    assert len(records) == 121
    assert len({record['pid'] for record in records}) >= 2  # the work was shared
