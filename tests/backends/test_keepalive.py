"""file_keepalive_store, its locks and the monitor process (docs/backends.rst)."""
import os
import time

import pytest

from jug.backends import file_keepalive_monitor as monitor_module
from jug.backends.file_store import (KEEPALIVE_FAILED_AGE, file_keepalive_based_lock,
                                     file_keepalive_store, file_store)
from jug.backends.select import select

H1 = b'0123456789abcdef0123456789abcdef01234567'


@pytest.fixture
def store(tmp_path):
    return file_keepalive_store(str(tmp_path / 'jd'))


def test_select_and_repr(tmp_path):
    s = select('file_keepalive:' + str(tmp_path / 'jd'))
    assert type(s) is file_keepalive_store
    assert isinstance(s, file_store)
    assert repr(s) == str(s) == f'file_keepalive_store({tmp_path / "jd"})'
    assert s.jugdir == str(tmp_path / 'jd')


def test_lock_spawns_and_kills_monitor(store):
    lock = store.getlock(H1)
    assert isinstance(lock, file_keepalive_based_lock)
    assert lock.monitor is None
    assert lock.get()
    proc = lock.monitor
    assert proc is not None
    assert "'jug.backends.file_keepalive_monitor'" in proc.args[2]
    assert proc.args[-1] == lock.fullname
    assert proc.poll() is None
    other = store.getlock(H1)
    assert other.get() is False
    assert other.monitor is None  # a failed get() spawns nothing
    lock.release()
    assert lock.monitor is None
    assert proc.poll() == -9
    assert not os.path.exists(lock.fullname)


def test_fail_kills_monitor(store):
    lock = store.getlock(H1)
    assert lock.get()
    proc = lock.monitor
    assert lock.fail()
    assert lock.monitor is None
    assert proc.poll() == -9
    assert os.stat(lock.fullname).st_mtime == 1
    assert lock.is_failed()
    assert lock.is_locked()
    lock.release()


def test_keepalive_is_failed_by_age(store):
    lock = store.getlock(H1)
    assert not lock.is_failed()
    os.makedirs(os.path.dirname(lock.fullname))
    open(lock.fullname, 'w').close()  # a lock written by some other process
    assert lock.is_locked()
    assert not lock.is_failed()
    old = time.time() - KEEPALIVE_FAILED_AGE - 10
    os.utime(lock.fullname, (old, old))
    assert lock.is_failed()
    assert KEEPALIVE_FAILED_AGE == 30 * 60


# --- the monitor loop, in-process with a fast clock ----------------------------------------------

@pytest.fixture
def fast_monitor(monkeypatch):
    monkeypatch.setattr(monitor_module, 'POLL_INTERVAL', 0.001)
    return monitor_module


def test_monitor_exits_when_lock_vanishes(tmp_path, fast_monitor):
    path = tmp_path / 'x.lock'
    assert fast_monitor.monitor(str(path), os.getppid()) == 0


def test_monitor_exits_when_parent_changes(tmp_path, fast_monitor):
    path = tmp_path / 'x.lock'
    path.write_text('')
    # this process's parent is not the pid we claim started us
    assert fast_monitor.monitor(str(path), os.getppid() + 12345) == 0


def test_monitor_touches_lock(tmp_path, fast_monitor, monkeypatch):
    path = tmp_path / 'x.lock'
    path.write_text('')
    os.utime(path, (100, 100))
    monkeypatch.setattr(fast_monitor, 'TOUCH_EVERY', 3)
    polls = []
    real_exists = os.path.exists

    def exists(p):
        # stop the loop after a few polls by removing the lock
        polls.append(p)
        if len(polls) == 7:
            assert os.stat(path).st_mtime > 1000  # touched at poll 3 (and 6)
            os.unlink(path)
        return real_exists(p)

    monkeypatch.setattr(fast_monitor.os.path, 'exists', exists)
    assert fast_monitor.monitor(str(path), os.getppid()) == 0
    assert len(polls) == 7


def test_monitor_main_usage(capsys):
    assert monitor_module.main(['prog']) == 2
    assert 'usage' in capsys.readouterr().err


def test_is_alive():
    assert monitor_module._is_alive(os.getpid())


def test_monitor_runs_as_module(store):
    # the spawned monitor imports and keeps running (it sleeps between polls)
    lock = store.getlock(H1)
    assert lock.get()
    try:
        time.sleep(1)
        assert lock.monitor.poll() is None
    finally:
        lock.release()


def test_monitor_command_line_usage():
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, '-m', 'jug.backends.file_keepalive_monitor'],
                         env=dict(os.environ, PYTHONPATH=root), capture_output=True, text=True)
    assert out.returncode == 2
    assert 'usage' in out.stderr
