"""Who is working: ``jug status --workers`` (also with ``--cache``) and ``jug webstatus``
list the workers holding tasks, from their locks, on the file store and on redis; a
lock whose worker is gone is counted apart."""
import json
import os
import socket
import subprocess
import time

import pytest

from jug.backends.file_store import file_store
from jug.backends.lockfiles import LOCK_TIME_FORMAT
from jug.jug import init
from jug.subcommands.webstatus import _render_page, counts_json
from jug.statusview import view_of_tasks
import jug.task
from jugtest import dead_pid, jug27_lock_text, jug_command, jug_env

JUGFILE = '''
from jug import TaskGenerator


@TaskGenerator
def double(x):
    return 2 * x


values = [double(i) for i in range(4)]
'''


@pytest.fixture(params=['file', 'redis'])
def jugdir(request, tmp_path):
    if request.param == 'file':
        return str(tmp_path / 'jf.jugdata')
    return request.getfixturevalue('redis_url')


def _status(tmp_path, jugdir, *args):
    run = subprocess.run(jug_command('status', 'jf.py', '--jugdir', jugdir, '--workers',
                                     *args),
                         cwd=tmp_path, env=jug_env(), capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1, run.stderr  # not all complete
    return run.stdout


def _worker_lines(out):
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith('Workers holding')))
    return lines[start:]


def test_status_lists_the_workers_holding_tasks(tmp_path, monkeypatch, jugdir):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'jf.py').write_text(JUGFILE)
    store, _ = init('jf.py', jugdir)
    held = jug.task.alltasks[1]
    lock = store.getlock(held.hash())
    before = time.time()
    assert lock.get()
    try:
        for args in ([], ['--cache'], ['--short']):
            lines = _worker_lines(_status(tmp_path, jugdir, *args))
            assert lines[0] == 'Workers holding tasks: 1', lines
            assert lines[1].split() == ['Host', 'PID', 'Since', 'State', 'Task']
            host, pid, day, clock, state, name, key = lines[2].split()
            assert (host, int(pid), state, name) == \
                (socket.gethostname().split('.')[0], os.getpid(), 'alive', 'jf.double')
            assert key == f'({held.hash().decode()[:12]})'
            since = time.mktime(time.strptime(f'{day} {clock}', '%Y-%m-%d %H:%M:%S'))
            assert before - 1 <= since <= time.time() + 1
            assert len(lines) == 3
        # webstatus: the same worker in the page and in status.json
        view = view_of_tasks(jug.task.alltasks, store, with_workers=True)
        data = json.loads(counts_json(view))
        [worker] = data['workers']
        assert worker['pid'] == os.getpid() and worker['state'] == 'alive'
        assert worker['tasks'] == [{'name': 'jf.double', 'hash': held.hash().decode()}]
        page = _render_page('jf.py', 5, view)
        assert '<h2>Workers (1)</h2>' in page and f'<td>{os.getpid()}</td>' in page
    finally:
        lock.release()
    lines = _worker_lines(_status(tmp_path, jugdir))
    assert lines[0] == 'Workers holding tasks: 0'
    assert 'no worker is running a task' in lines[1]


def test_a_gone_worker_is_counted_apart(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'jf.py').write_text(JUGFILE)
    init('jf.py', 'jf.jugdata')
    locks = tmp_path / 'jf.jugdata' / 'locks'
    locks.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().split('.')[0]
    (locks / (jug.task.alltasks[0].hash().decode() + '.lock')).write_text(
        jug27_lock_text(dead_pid(), host))
    lines = _worker_lines(_status(tmp_path, 'jf.jugdata'))
    assert lines[0] == 'Workers holding tasks: 0'
    assert lines[-1] == ('Locks of workers that are gone (stale; the next jug execute takes '
                         'their tasks over): 1')


def test_the_lock_file_says_when_it_was_taken(tmp_path):
    store = file_store(str(tmp_path / 'd'))
    lock = store.getlock(b'0' * 40)
    assert lock.holder() is None
    assert lock.get()
    try:
        holder = lock.holder()
        assert holder['pid'] == os.getpid() and holder['state'] == 'held'
        assert abs(holder['since'] - time.time()) < 2
    finally:
        lock.release()
    # Jug 2.7's locks say it too (local time, whole seconds)
    (tmp_path / 'd' / 'locks' / ('1' * 40 + '.lock')).write_text(
        f'PID {os.getpid()} on HOSTNAME h\nLock created on '
        f'{time.strftime(LOCK_TIME_FORMAT, time.localtime(1_800_000_000))}\n')
    assert store.getlock(b'1' * 40).holder()['since'] == 1_800_000_000


def test_a_jug27_redis_lock_is_counted_apart(tmp_path, monkeypatch, redis_url):
    import redis
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'jf.py').write_text(JUGFILE)
    init('jf.py', redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(b'lock:' + jug.task.alltasks[0].hash(), b'L')  # no owner: Jug 2.7's
    finally:
        client.close()
    lines = _worker_lines(_status(tmp_path, redis_url))
    assert lines[0] == 'Workers holding tasks: 0'
    assert lines[-1] == 'Locks held by workers that do not say who they are (Jug 2.7): 1'
