"""The lease layer shared by file and redis locks (jug/backends/leases.py): owner tokens,
and the heartbeat helper process (jug/backends/heartbeat_process.py) that refreshes the
locks of a process."""
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from jug.backends import heartbeat_process, leases
from jug.backends.heartbeat_process import Helper
from jug.backends.leases import Heartbeat, Lease, new_token, nodename, token_is_ours

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_tokens_name_this_process_and_differ():
    a, b = new_token(), new_token()
    assert a != b and a.startswith(f'{nodename()}:{os.getpid()}:') and ' ' not in a
    assert token_is_ours(a)
    assert not token_is_ours(f'{nodename()}:{os.getpid() + 1}:00') and not token_is_ours('x')


def _wait_for(condition, timeout=10.0, what='the condition'):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.01)


def _lock_file(tmp_path, name='a'):
    path = tmp_path / name
    path.write_text(f'x\nJug-lease: 5 - {name}-token - 0.05\n')
    os.utime(path, (1000, 1000))
    return str(path)


def _file_lease(path):
    return Lease(path, f'{os.path.basename(path)}-token', 'file', {'path': path})


@pytest.fixture
def beat():
    """A heartbeat of its own (the process's one stays untouched), closed afterwards."""
    heartbeat = Heartbeat()
    yield heartbeat
    heartbeat.drop_where(lambda lease: True)
    heartbeat.close()


def _refreshed(path):
    return os.stat(path).st_mtime > 1000


def test_the_helper_refreshes_held_locks_until_dropped(beat, tmp_path):
    a, b = _lock_file(tmp_path, 'a'), _lock_file(tmp_path, 'b')
    beat.hold(_file_lease(a), 0.05)
    beat.hold(_file_lease(b), 0.05)
    assert beat.helper_pid() not in (None, os.getpid())
    _wait_for(lambda: _refreshed(a) and _refreshed(b), what='both refreshes')
    assert beat.drop(a, wait=True) == 'a-token'  # acknowledged: no refresh after this
    os.utime(a, (1000, 1000))
    os.utime(b, (1000, 1000))
    _wait_for(lambda: _refreshed(b), what='b refreshed again')
    assert not _refreshed(a)
    assert beat.token(a) is None and beat.token(b) == 'b-token'


def test_a_dead_helper_is_replaced_and_told_every_held_lock(beat, tmp_path):
    a, b = _lock_file(tmp_path, 'a'), _lock_file(tmp_path, 'b')
    beat.hold(_file_lease(a), 0.05)
    first = beat.helper_pid()
    os.kill(first, signal.SIGKILL)
    _wait_for(lambda: not beat._link.alive(), what='the helper to die')
    beat.hold(_file_lease(b), 0.05)  # starts another
    assert beat.helper_pid() not in (None, first)
    os.utime(a, (1000, 1000))
    _wait_for(lambda: _refreshed(a) and _refreshed(b), what='both refreshed')


def test_the_helper_exits_with_its_parent(tmp_path):
    path = _lock_file(tmp_path)
    script = (
        'import sys, time\n'
        'from jug.backends.leases import Heartbeat, Lease\n'
        'beat = Heartbeat()\n'
        f'beat.hold(Lease({path!r}, "a-token", "file", {{"path": {path!r}}}), 0.05)\n'
        'print(beat.helper_pid(), flush=True)\n'
        'time.sleep(60)\n')
    child = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        helper = int(child.stdout.readline())
        _wait_for(lambda: _refreshed(path), what='a refresh')
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    _wait_for(lambda: not os.path.exists(f'/proc/{helper}') or _is_zombie(helper),
              what='the helper to exit')
    os.utime(path, (1000, 1000))
    assert not _refreshed(path)


def _is_zombie(pid):
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            return f.read().rsplit(b')', 1)[1].split()[0] == b'Z'
    except OSError:
        return True


def test_a_thread_refreshes_when_no_helper_process_can_start(beat, tmp_path, monkeypatch,
                                                             caplog):
    def impossible():
        raise PermissionError(13, 'Permission denied', sys.executable)
    monkeypatch.setattr(leases, '_ProcessLink', impossible)
    path = _lock_file(tmp_path)
    with caplog.at_level(logging.WARNING):
        beat.hold(_file_lease(path), 0.05)
    assert 'refreshed by a thread' in caplog.text
    assert beat.helper_pid() is None
    _wait_for(lambda: _refreshed(path), what='the thread to refresh')
    beat.drop(path, wait=True)
    os.utime(path, (1000, 1000))
    time.sleep(0.2)  # four intervals: a refresh after the drop would show
    assert not _refreshed(path)


def test_helper_handles_hold_and_drop():
    helper = Helper(os.getpid())
    assert helper.sleep_time() == heartbeat_process.LONGEST_SLEEP
    assert helper.handle({'op': 'hold', 'key': 'k', 'token': 't', 'kind': 'file',
                          'params': {'path': '/nonexistent'}, 'interval': 0.5}) is None
    assert 0 < helper.sleep_time() <= 0.5
    assert helper.handle({'op': 'drop', 'key': 'k', 'ack': 0}) is None
    assert helper.handle({'op': 'drop', 'key': 'k', 'ack': 7}) == 'ok 7'  # twice: fine
    assert helper.held == {}


def test_helper_skips_refreshes_while_its_parent_is_stopped(monkeypatch):
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    calls = []
    monkeypatch.setitem(heartbeat_process._REFRESHERS, 'test', calls.append)
    try:
        helper = Helper(sleeper.pid)
        helper.handle({'op': 'hold', 'key': 'k', 'token': 't', 'kind': 'test',
                       'params': {}, 'interval': 0})
        sleeper.send_signal(signal.SIGSTOP)
        _wait_for(lambda: leases.process_is_stopped(sleeper.pid), what='the stop')
        helper.refresh_due()
        assert calls == []  # a frozen worker's locks must expire
        sleeper.send_signal(signal.SIGCONT)
        _wait_for(lambda: not leases.process_is_stopped(sleeper.pid), what='the continue')
        helper.refresh_due()
        assert len(calls) == 1 and calls[0][0]['key'] == 'k'
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_failing_refresh_does_not_stop_the_helper(monkeypatch, caplog):
    calls = []

    def broken(held):
        calls.append(1)
        raise OSError('transient')
    monkeypatch.setitem(heartbeat_process._REFRESHERS, 'test', broken)
    helper = Helper(os.getpid())
    helper.handle({'op': 'hold', 'key': 'k', 'token': 't', 'kind': 'test', 'params': {},
                   'interval': 0})
    with caplog.at_level(logging.WARNING):
        helper.refresh_due()
        helper.refresh_due()
    assert len(calls) == 2 and 'transient' in caplog.text


def test_dropping_a_lock_of_a_dead_helper_is_no_error(beat, tmp_path):
    path = _lock_file(tmp_path)
    beat.hold(_file_lease(path), 0.05)
    os.kill(beat.helper_pid(), signal.SIGKILL)
    _wait_for(lambda: not beat._link.alive(), what='the helper to die')
    assert beat.drop(path, wait=True) == 'a-token'


def test_the_helper_ignores_signals_sent_to_the_whole_process_group(beat, tmp_path):
    """Ctrl-C, a batch system's SIGTERM, a closed terminal's SIGHUP: the worker decides
    (it releases its locks first), so the helper must outlive the signal."""
    a, b = _lock_file(tmp_path, 'a'), _lock_file(tmp_path, 'b')
    beat.hold(_file_lease(a), 0.05)
    beat.hold(_file_lease(b), 0.05)
    beat.drop(b, wait=True)  # answered: the helper is up (its signal handlers set)
    helper = beat.helper_pid()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        os.kill(helper, sig)
    beat.hold(_file_lease(b), 0.05)
    beat.drop(b, wait=True)  # answered: the helper handled the signals and lives on
    assert beat._link.alive() and beat.helper_pid() == helper


def test_the_helper_starts_whatever_the_working_directory_holds(beat, tmp_path,
                                                               monkeypatch):
    """``python -m`` would import a ``jug`` found in the working directory (another
    checkout of Jug, a jugfile called jug.py) instead of this one."""
    (tmp_path / 'jug').mkdir()
    (tmp_path / 'jug' / '__init__.py').write_text('raise ImportError("not this jug")\n')
    monkeypatch.chdir(tmp_path)
    path = _lock_file(tmp_path)
    beat.hold(_file_lease(path), 0.05)
    assert beat.helper_pid() is not None  # a helper process, not the thread fallback
    _wait_for(lambda: _refreshed(path), what='a refresh')


def test_a_helper_that_cannot_start_is_replaced_by_a_thread(beat, tmp_path, monkeypatch,
                                                           caplog):
    from jug.backends import subprocesses
    monkeypatch.setattr(subprocesses, '_BOOTSTRAP', 'import sys; sys.exit(1)  # {module}')
    path = _lock_file(tmp_path)
    with caplog.at_level(logging.WARNING):
        beat.hold(_file_lease(path), 0.05)
    assert 'did not start' in caplog.text and 'refreshed by a thread' in caplog.text
    _wait_for(lambda: _refreshed(path), what='the thread to refresh')


def test_a_zombie_is_not_alive():
    """A process that exited but was not reaped yet holds its pid: it is gone all the
    same (its locks are stale)."""
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    _wait_for(lambda: leases._process_state(child.pid) in (b'Z', b'X', None),
              what='the child to exit')
    try:
        assert not leases.pid_alive(child.pid)
    finally:
        child.wait()
    assert leases.pid_alive(os.getpid())
