"""Leased file locks (jug.backends.file_locks): liveness, stale locks, takeover, heartbeat."""
import multiprocessing
import os
import time

import pytest

from jug.backends import file_locks, leases
from jug.backends.base import LOCK_STALE
from jug.backends.file_locks import parse_lock, read_lock
from jug.backends.file_store import FAILED_LOCK_MTIME, file_store
from jug.backends.leases import LeaseSettings
from jugtest import dead_pid, jug27_lock_text

KEY = b'0123456789abcdef0123456789abcdef01234567'


@pytest.fixture
def store(tmp_path):
    return file_store(str(tmp_path / 'jugdata'))


def _text(path):
    with open(path) as f:
        return f.read()


def _write_lock(store, text, mtime=None):
    lock = store.getlock(KEY)
    os.makedirs(os.path.dirname(lock.fullname), exist_ok=True)
    with open(lock.fullname, 'w') as f:
        f.write(text)
    if mtime is not None:
        os.utime(lock.fullname, (mtime, mtime))
    return lock


def test_parse_lock_variants():
    info = parse_lock(jug27_lock_text(12, 'node') + 'Jug-lease: 600 777 abcd\n')
    assert (info.pid, info.host, info.lease_time, info.start_id, info.token) == \
        (12, 'node', 600.0, '777', 'abcd')
    old = parse_lock(jug27_lock_text(12, 'node'))
    assert old.lease_time is None and old.token is None
    junk = parse_lock('garbage\nPID x on HOSTNAME\n\x00')
    assert junk.pid is None and junk.lease_time is None


def test_settings_are_validated():
    with pytest.raises(ValueError):
        LeaseSettings(10, 20)
    with pytest.raises(ValueError):
        LeaseSettings(10, 0)


def test_live_lock_is_not_stale(store):
    lock = store.getlock(KEY)
    assert lock.get()
    assert not lock.is_stale() and lock.stale_reason() is None
    assert not store.getlock(KEY).get()
    lock.release()


def test_dead_process_on_this_host_is_stale_even_for_jug27_locks(store):
    lock = _write_lock(store, jug27_lock_text(dead_pid(), leases.nodename()))
    assert 'is gone' in lock.stale_reason()
    assert lock.holder_state() == LOCK_STALE
    assert store.getlock(KEY).get()  # taken over
    assert parse_lock(_text(lock.fullname)).pid == os.getpid()


def test_reused_pid_is_stale(store):
    me = os.getpid()
    space = leases.process_space_id()
    lock = _write_lock(store, jug27_lock_text(me, leases.nodename())
                       + f'Jug-lease: 600 1 tok {space}\n')
    assert 'reused' in lock.stale_reason()


def test_pids_of_another_pid_namespace_are_not_looked_up(store):
    """Two containers may share a host name: their pids mean nothing to each other."""
    text = jug27_lock_text(dead_pid(), leases.nodename()) + 'Jug-lease: 600 1 tok otherboot:123\n'
    lock = _write_lock(store, text)
    assert lock.stale_reason() is None
    assert not store.getlock(KEY).get()


def test_empty_lock_is_stale_only_when_old(store):
    lock = _write_lock(store, '')
    assert lock.stale_reason() is None  # may be being written right now
    lock = _write_lock(store, '', mtime=time.time() - 2 * leases.DEFAULT_LEASE_TIME)
    assert 'empty' in lock.stale_reason()


def test_heartbeat_survives_an_io_error(store, monkeypatch):
    store.set_lease(LeaseSettings(2, 0.05))
    lock = store.getlock(KEY)
    assert lock.get()
    real_utime = os.utime
    failures = []

    def flaky_utime(path, *args, **kwargs):
        if not failures:
            failures.append(path)
            raise OSError(5, 'Input/output error', path)
        return real_utime(path, *args, **kwargs)
    monkeypatch.setattr(os, 'utime', flaky_utime)
    real_utime(lock.fullname, (time.time() - 100,) * 2)
    deadline = time.time() + 10
    while time.time() - os.stat(lock.fullname).st_mtime > 50:
        assert time.time() < deadline, 'the heartbeat stopped after one I/O error'
        time.sleep(0.02)
    assert failures
    lock.release()


def test_expired_lease_is_stale_but_jug27_lock_never_by_age(store):
    old = time.time() - 3600
    other_host = jug27_lock_text(1, 'some-other-host')
    lock = _write_lock(store, other_host + 'Jug-lease: 60 5 tok\n', mtime=old)
    assert 'expired' in lock.stale_reason()
    lock = _write_lock(store, other_host, mtime=old)
    assert lock.stale_reason() is None
    assert not store.getlock(KEY).get()


def test_failed_lock_is_never_stale(store):
    lock = _write_lock(store, jug27_lock_text(dead_pid(), leases.nodename()),
                       mtime=FAILED_LOCK_MTIME)
    assert lock.is_failed() and not lock.is_stale()
    assert not store.getlock(KEY).get()


def _race(jugdir, barrier, results):
    lock = file_store(jugdir).getlock(KEY)
    barrier.wait()
    results.put((os.getpid(), lock.get()))


@pytest.mark.parametrize('round', range(3))
def test_exactly_one_of_many_processes_takes_over(store, round):
    _write_lock(store, jug27_lock_text(1, 'elsewhere') + 'Jug-lease: 5 9 tok\n',
                mtime=time.time() - 60)
    context = multiprocessing.get_context('fork')
    barrier = context.Barrier(6)
    results = context.Queue()
    workers = [context.Process(target=_race, args=(store.jugdir, barrier, results))
               for _ in range(6)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=30) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    winners = [pid for pid, won in outcomes if won]
    assert len(winners) == 1
    holder = parse_lock(_text(store.getlock(KEY).fullname))
    assert holder.pid == winners[0]
    assert os.listdir(os.path.join(store.jugdir, 'locks')) == [KEY.decode() + '.lock']


def test_takeover_refuses_a_lock_changed_since_it_was_judged(store):
    lock = _write_lock(store, jug27_lock_text(1, 'elsewhere') + 'Jug-lease: 5 9 tok\n',
                       mtime=time.time() - 60)
    judged, _ = read_lock(lock.fullname)
    os.utime(lock.fullname)  # its holder refreshed it meanwhile
    assert not file_locks.take_over(lock.fullname, judged, b'new', 0o666)
    assert 'tok' in _text(lock.fullname)


def test_abandoned_takeover_marker_is_superseded(store):
    lock = _write_lock(store, jug27_lock_text(1, 'elsewhere') + 'Jug-lease: 5 9 tok\n',
                       mtime=time.time() - 60)
    judged, _ = read_lock(lock.fullname)
    marker = f'{lock.fullname}.takeover.{judged.st_ino}.{judged.st_mtime_ns}.0'
    open(marker, 'w').close()
    assert not store.getlock(KEY).get()  # someone is taking it over right now
    os.utime(marker, (time.time() - 3600,) * 2)  # ...but they died doing so
    assert store.getlock(KEY).get()
    assert store.listlocks() == [KEY]


def test_heartbeat_refreshes_and_respects_failed_marker(store):
    store.set_lease(LeaseSettings(2, 0.05))
    lock = store.getlock(KEY)
    assert lock.get()
    os.utime(lock.fullname, (time.time() - 100,) * 2)
    deadline = time.time() + 10
    while time.time() - os.stat(lock.fullname).st_mtime > 50:
        assert time.time() < deadline, 'the heartbeat did not refresh the lock'
        time.sleep(0.02)
    assert lock.fail()
    time.sleep(0.2)  # several heartbeats: none may undo the failed marker
    assert lock.is_failed()
    lock.release()


def test_release_keeps_a_lock_taken_over_by_someone_else(store):
    store.set_lease(LeaseSettings(0.2, 0.1))
    lock = store.getlock(KEY)
    assert lock.get()
    with leases.heartbeat.guard:  # freeze our heartbeat while "another worker" takes over
        with open(lock.fullname, 'w') as f:
            f.write(jug27_lock_text(1, 'elsewhere') + 'Jug-lease: 600 9 theirs\n')
        time.sleep(0.15)
    lock.release()
    assert 'theirs' in _text(lock.fullname)


def test_live_worker_lock_is_kept_by_safe_cleanup(store):
    live = jug27_lock_text(1, 'elsewhere') + 'Jug-lease: 600 9 tok\n'
    lock = _write_lock(store, live)
    assert lock.is_held_by_live_worker()
    assert not _write_lock(store, jug27_lock_text(1, 'elsewhere')).is_held_by_live_worker()
    own = store.getlock(KEY)
    own.release()
    assert own.get() and not own.is_held_by_live_worker()  # this process's own lock
    own.release()
