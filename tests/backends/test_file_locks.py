"""Leased file locks (jug.backends.file_locks, jug.backends.lockfiles): liveness, stale
locks, takeover, the holder's fenced last acts, creation with content, hostile files."""
import os
import signal
import subprocess
import sys
import time

import pytest

from jug.backends import file_locks, leases, lockfiles
from jug.backends.base import LOCK_EXPIRING, LOCK_HELD, LOCK_STALE
from jug.backends.file_locks import LockLost
from jug.backends.file_store import FAILED_LOCK_MTIME, file_store
from jug.backends.leases import LeaseSettings
from jug.backends.lockfiles import parse_lock, read_lock
from jugtest import dead_pid, jug27_lock_text, race_in_processes

KEY = b'0123456789abcdef0123456789abcdef01234567'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def _remote(lease=60, token='elsewhere:1:0123456789abcdef', interval=None):
    """A lock held by a worker of another host."""
    line = f'Jug-lease: {lease} 9 {token} otherboot:1'
    return jug27_lock_text(1, 'elsewhere') + line + (f' {interval}' if interval else '') + '\n'


def _wait_for(condition, timeout=10.0, what='the condition'):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.01)


def test_parse_lock_variants():
    info = parse_lock(jug27_lock_text(12, 'node') + 'Jug-lease: 120 777 abcd sp 20\n')
    assert (info.pid, info.host, info.lease_time, info.start_id, info.token, info.space,
            info.interval) == (12, 'node', 120.0, '777', 'abcd', 'sp', 20.0)
    older = parse_lock(jug27_lock_text(12, 'node') + 'Jug-lease: 600 777 abcd\n')
    assert older.lease_time == 600 and older.interval is None and older.space is None
    old = parse_lock(jug27_lock_text(12, 'node'))
    assert old.lease_time is None and old.token is None and not old.is_empty()
    junk = parse_lock('garbage\nPID x on HOSTNAME\n\x00')
    assert junk.pid is None and junk.lease_time is None and junk.is_empty()


def test_settings_are_validated():
    with pytest.raises(ValueError):
        LeaseSettings(10, 20)
    with pytest.raises(ValueError):
        LeaseSettings(10, 0)


def test_a_new_lock_is_complete_at_once_and_leaves_nothing_else(store):
    lock = store.getlock(KEY)
    assert lock.get()
    info = parse_lock(_text(lock.fullname))
    assert (info.pid, info.lease_time, info.interval) == (os.getpid(), 120, 20)
    assert os.listdir(os.path.dirname(lock.fullname)) == [KEY.decode() + '.lock']
    lock.release()
    assert os.listdir(os.path.dirname(lock.fullname)) == []


def test_live_lock_is_not_stale(store):
    lock = store.getlock(KEY)
    assert lock.get()
    assert not lock.is_stale() and lock.stale_reason() is None
    assert lock.holder_state() == LOCK_HELD
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
                       + f'Jug-lease: 120 1 tok {space} 20\n')
    assert 'reused' in lock.stale_reason()


def test_pids_of_another_pid_namespace_are_not_looked_up(store):
    """Two containers may share a host name: their pids mean nothing to each other."""
    text = jug27_lock_text(dead_pid(), leases.nodename()) + 'Jug-lease: 120 1 tok otherboot:123\n'
    lock = _write_lock(store, text)
    assert lock.stale_reason() is None
    assert not store.getlock(KEY).get()


def test_a_live_local_holder_is_never_stale_by_its_lease(store):
    """A holder of this host that is alive only looks late (e.g. its task holds the
    GIL): its lock is not taken over, however old."""
    space = leases.process_space_id()
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        text = (jug27_lock_text(sleeper.pid, leases.nodename())
                + f'Jug-lease: 1 {leases.process_start_id(sleeper.pid)} tok {space} 0.2\n')
        lock = _write_lock(store, text, mtime=time.time() - 3600)
        assert lock.stale_reason() is None
        assert not store.getlock(KEY).get()
        # ...unless it is stopped (SIGSTOP) beyond its lease: a frozen worker
        sleeper.send_signal(signal.SIGSTOP)
        _wait_for(lambda: leases.process_is_stopped(sleeper.pid), what='the stop')
        assert 'expired' in lock.stale_reason()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_empty_lock_is_stale_after_a_short_grace(store):
    lock = _write_lock(store, '')
    assert lock.stale_reason() is None  # may be being written right now (Jug 2.7)
    assert lock.is_held_by_live_worker()  # so cleanup keeps it
    old = time.time() - lockfiles.EMPTY_LOCK_GRACE - 1
    lock = _write_lock(store, '', mtime=old)
    assert 'empty' in lock.stale_reason()
    assert not lock.is_held_by_live_worker()
    assert store.getlock(KEY).get()  # taken over


def test_a_lock_that_is_not_a_regular_file_is_stale_at_once(store, tmp_path):
    lock = store.getlock(KEY)
    os.makedirs(os.path.dirname(lock.fullname))
    os.mkfifo(lock.fullname)  # a plain open() for reading would block forever
    assert 'not a regular file' in lock.stale_reason()
    assert lock.holder_state() == LOCK_STALE and not lock.is_failed()
    assert store.getlock(KEY).get()
    assert parse_lock(_text(lock.fullname)).pid == os.getpid()
    lock.release()
    target = tmp_path / 'precious'
    target.write_text('keep me')
    os.symlink(target, lock.fullname)
    assert lock.stale_reason() is not None
    os.utime(target, (FAILED_LOCK_MTIME, FAILED_LOCK_MTIME))
    assert not lock.is_failed() or os.path.islink(lock.fullname)  # the link is not failed
    assert store.getlock(KEY).get()
    assert target.read_text() == 'keep me'


def test_expired_lease_is_stale_but_jug27_lock_never_by_age(store):
    old = time.time() - 3600
    lock = _write_lock(store, _remote(lease=60), mtime=old)
    assert 'expired' in lock.stale_reason()
    lock = _write_lock(store, jug27_lock_text(1, 'some-other-host'), mtime=old)
    assert lock.stale_reason() is None
    assert not store.getlock(KEY).get()


def test_an_overdue_lock_is_expiring_before_it_is_stale(store):
    lock = _write_lock(store, _remote(lease=60, interval=5), mtime=time.time() - 11)
    assert lock.holder_state() == LOCK_EXPIRING  # two refreshes missed
    lock = _write_lock(store, _remote(lease=60, interval=5), mtime=time.time() - 9)
    assert lock.holder_state() == LOCK_HELD
    lock = _write_lock(store, _remote(lease=60, interval=5), mtime=time.time() - 61)
    assert lock.holder_state() == LOCK_STALE


def test_ages_are_measured_with_the_filesystem_clock(store, monkeypatch):
    """A host whose clock is ahead (here by 15 minutes) takes nothing over early."""
    lock = _write_lock(store, _remote(lease=60))
    real_time = time.time
    monkeypatch.setattr(lockfiles, '_fs_offsets', {})  # measure the offset afresh
    monkeypatch.setattr(time, 'time', lambda: real_time() + 900)
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
    _write_lock(store, _remote(lease=5), mtime=time.time() - 60)
    outcomes = race_in_processes(_race, (store.jugdir,))
    winners = [pid for pid, won in outcomes if won]
    assert len(winners) == 1
    holder = parse_lock(_text(store.getlock(KEY).fullname))
    assert holder.pid == winners[0]
    assert os.listdir(os.path.join(store.jugdir, 'locks')) == [KEY.decode() + '.lock']


def test_takeover_refuses_a_lock_changed_since_it_was_judged(store):
    lock = _write_lock(store, _remote(lease=5), mtime=time.time() - 60)
    judged, info = read_lock(lock.fullname)
    os.utime(lock.fullname)  # its holder refreshed it meanwhile
    assert not lockfiles.take_over(lock.fullname, judged, b'new', info)
    assert 'elsewhere:1:' in _text(lock.fullname)


def test_abandoned_takeover_marker_is_superseded(store):
    lock = _write_lock(store, _remote(lease=5), mtime=time.time() - 60)
    judged, info = read_lock(lock.fullname)
    marker = lockfiles.marker_base(lock.fullname, judged, info) + '.0'
    open(marker, 'w').close()
    assert not store.getlock(KEY).get()  # someone is taking it over right now
    old = time.time() - lockfiles.TAKEOVER_TIMEOUT - 10
    os.utime(marker, (old, old))  # ...but they died doing so
    assert store.getlock(KEY).get()
    assert store.listlocks() == [KEY]


def test_heartbeat_refreshes_and_respects_failed_marker(store):
    store.set_lease(LeaseSettings(2, 0.05))
    lock = store.getlock(KEY)
    assert lock.get()
    os.utime(lock.fullname, (time.time() - 100,) * 2)
    _wait_for(lambda: time.time() - os.stat(lock.fullname).st_mtime < 50,
              what='the heartbeat to refresh the lock')
    assert lock.fail()
    time.sleep(0.2)  # several heartbeats: none may undo the failed marker
    assert lock.is_failed()
    lock.release()


def _taken_over_by_another(lock):
    """Simulate another worker taking `lock` over (as after our lease expired)."""
    os.unlink(lock.fullname)
    assert lockfiles.create_lock(lock.fullname, _remote(token='elsewhere:7:theirs').encode())


def test_release_and_fail_keep_a_lock_taken_over_by_someone_else(store):
    lock = store.getlock(KEY)
    assert lock.get()
    _taken_over_by_another(lock)
    lock.release()
    assert 'theirs' in _text(lock.fullname)
    assert leases.heartbeat.token(lock.fullname) is None  # not refreshed any more
    os.unlink(lock.fullname)
    assert lock.get()
    _taken_over_by_another(lock)
    assert lock.fail() is False
    assert not lock.is_failed() and 'theirs' in _text(lock.fullname)


def test_commit_stores_nothing_once_the_lock_is_lost(store):
    lock = store.getlock(KEY)
    assert lock.get()
    _taken_over_by_another(lock)
    assert store.commit('mine', KEY, {'status': 'finished'}) is False
    assert not store.can_load(KEY) and store.load_record(KEY) is None
    assert 'theirs' in _text(lock.fullname)
    assert os.listdir(store.tempdir()) == []  # the written result was discarded


def test_fenced_acts_exclude_a_takeover(store):
    lock = store.getlock(KEY)
    assert lock.get()
    with lock.fenced():
        # a worker judging the lock stale now cannot take it over
        judged, info = read_lock(lock.fullname)
        assert not lockfiles.take_over(lock.fullname, judged, b'new', info)
    assert lockfiles.take_over(lock.fullname, *read_lock(lock.fullname)[:1], b'new',
                               read_lock(lock.fullname)[1])
    with pytest.raises(LockLost):
        with lock.fenced():
            pass


def test_live_worker_lock_is_kept_by_safe_cleanup(store):
    lock = _write_lock(store, _remote())
    assert lock.is_held_by_live_worker()
    assert not lock.remove_unless_live()
    assert not _write_lock(store, jug27_lock_text(1, 'elsewhere')).is_held_by_live_worker()
    own = store.getlock(KEY)
    own.release()
    assert own.get() and not own.is_held_by_live_worker()  # this process's own lock
    own.release()


HOLD_THE_GIL = '''
import sys, time
from jug.backends.file_store import file_store
from jug.backends.leases import LeaseSettings
store = file_store(sys.argv[1])
store.set_lease(LeaseSettings(1, 0.1))
lock = store.getlock(sys.argv[2])
assert lock.get()
print('locked', flush=True)
sum(range(10 ** 8))  # one C call: no other thread of this process runs meanwhile
print('done', flush=True)
lock.release()
'''


def test_a_task_holding_the_gil_keeps_its_lock_fresh(store):
    child = subprocess.Popen([sys.executable, '-c', HOLD_THE_GIL, store.jugdir, KEY.decode()],
                             stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        assert child.stdout.readline() == 'locked\n'
        path = store.getlock(KEY).fullname
        first = os.stat(path).st_mtime_ns
        # the lock keeps being refreshed while the holder is inside its long C call
        _wait_for(lambda: os.stat(path).st_mtime_ns > first or child.poll() is not None,
                  what='a refresh')
        assert child.poll() is None, 'the call ended before any refresh: make it longer'
        assert not store.getlock(KEY).get()
        assert child.stdout.readline() == 'done\n'
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_a_fenced_act_waits_for_a_takeover_that_gives_up(store, monkeypatch):
    """A worker judged our lock stale just before we refreshed it: it holds the marker
    for a moment, then gives up.  Our commit waits for it instead of discarding work."""
    lock = store.getlock(KEY)
    assert lock.get()
    marker = lockfiles.marker_base(lock.fullname, *read_lock(lock.fullname)) + '.0'
    open(marker, 'w').close()
    pauses = []

    def the_taker_gives_up(seconds):
        pauses.append(seconds)
        os.unlink(marker)
    monkeypatch.setattr(file_locks.time, 'sleep', the_taker_gives_up)
    assert store.commit('mine', KEY) is True
    assert len(pauses) == 1
    assert store.load(KEY) == 'mine' and store.listlocks() == []


def test_commit_and_release_survive_a_dead_heartbeat_helper(store):
    lock = store.getlock(KEY)
    assert lock.get()
    os.kill(leases.heartbeat.helper_pid(), signal.SIGKILL)
    _wait_for(lambda: not leases.heartbeat._link.alive(), what='the helper to die')
    assert store.commit('v', KEY) is True
    assert store.load(KEY) == 'v' and store.listlocks() == []
    assert lock.get()  # a new helper is started
    os.kill(leases.heartbeat.helper_pid(), signal.SIGKILL)
    _wait_for(lambda: not leases.heartbeat._link.alive(), what='the helper to die')
    lock.release()
    assert store.listlocks() == []


def test_cleanup_removes_what_killed_workers_left_beside_the_locks(store):
    lock = store.getlock(KEY)
    assert lock.get()
    locks = os.path.dirname(lock.fullname)
    live_marker = lockfiles.marker_base(lock.fullname, *read_lock(lock.fullname)) + '.0'
    orphan_marker = f'{lock.fullname}.takeover.deadbeefdeadbeef.0'
    gone_lock_marker = os.path.join(locks, 'ff' * 20 + '.lock.takeover.1.2.0')
    old = time.time() - lockfiles.LEFTOVER_AGE - 10
    files = {live_marker: None, orphan_marker: None, gone_lock_marker: None,
             os.path.join(locks, f'.{KEY.decode()}.lock.1.ab.new'): old,
             os.path.join(locks, '.clock.1.ab'): old,
             os.path.join(locks, f'.{KEY.decode()}.lock.2.cd.new'): None}  # in use
    for path, mtime in files.items():
        open(path, 'w').close()
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    store.cleanup([], keeplocks=True)
    assert sorted(os.listdir(locks)) == sorted(
        os.path.basename(p) for p in (lock.fullname, live_marker,
                                      os.path.join(locks, f'.{KEY.decode()}.lock.2.cd.new')))
    os.unlink(live_marker)  # (else the release would wait for it to be abandoned)
    lock.release()


def test_the_heartbeat_finds_a_lock_taken_in_another_working_directory(tmp_path,
                                                                         monkeypatch):
    """The helper keeps the working directory it was started in; a jugdir given as a
    relative path must still be refreshed."""
    leases.heartbeat.close()
    (tmp_path / 'first').mkdir()
    (tmp_path / 'second').mkdir()
    monkeypatch.chdir(tmp_path / 'first')
    started_here = file_store('jd').getlock(KEY)
    assert started_here.get()  # the helper starts in 'first'
    monkeypatch.chdir(tmp_path / 'second')
    store = file_store('jd')
    store.set_lease(LeaseSettings(2, 0.05))
    lock = store.getlock(KEY)
    assert lock.get()
    path = str(tmp_path / 'second' / 'jd' / 'locks' / (KEY.decode() + '.lock'))
    os.utime(path, (time.time() - 100,) * 2)
    _wait_for(lambda: time.time() - os.stat(path).st_mtime < 50, what='a refresh')
    lock.release()
    monkeypatch.chdir(tmp_path / 'first')
    started_here.release()


def test_an_interrupted_fenced_step_leaves_no_marker(store, monkeypatch):
    """Ctrl-C (or SIGTERM, or an I/O error) right after the marker was won: the marker
    goes with it, or the release that follows would wait for it to be abandoned."""
    lock = store.getlock(KEY)
    assert lock.get()
    monkeypatch.setattr(lock, '_check_own', lambda token: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        with lock.fenced():
            pass
    monkeypatch.undo()
    assert [n for n in os.listdir(os.path.dirname(lock.fullname)) if 'takeover' in n] == []
    lock.release()
    assert store.listlocks() == []


def test_a_lock_linked_before_its_temp_file_vanished_is_taken(store, monkeypatch):
    """The link succeeded, then the temp file was removed by someone else (or an NFS
    retry): the lock is ours, not an orphan nobody refreshes."""
    real_link = os.link

    def link_then_lose_the_temp(source, target):
        real_link(source, target)
        os.unlink(source)
    monkeypatch.setattr(os, 'link', link_then_lose_the_temp)
    lock = store.getlock(KEY)
    assert lock.get()
    monkeypatch.undo()
    assert leases.heartbeat.token(lock.fullname) == parse_lock(_text(lock.fullname)).token
    lock.release()
    assert store.listlocks() == []


def test_fs_now_ignores_steps_of_this_hosts_clock(store, monkeypatch):
    locks = os.path.join(store.jugdir, 'locks')
    os.makedirs(locks)
    before = lockfiles.fs_now(locks)
    real_time = time.time
    monkeypatch.setattr(time, 'time', lambda: real_time() + 150)  # e.g. NTP steps it
    assert abs(lockfiles.fs_now(locks) - before) < 5


def test_the_heartbeat_never_touches_a_lock_that_replaced_ours(store, monkeypatch):
    """Between reading the token and touching the file, the lock was taken over: the
    touch goes to our old file, not to the new owner's (which may be marked failed)."""
    lock = store.getlock(KEY)
    os.makedirs(os.path.dirname(lock.fullname))
    lockfiles.create_lock(lock.fullname, b'x\nJug-lease: 5 - ours - 0.05\n')
    real_parse = lockfiles.parse_lock

    def taken_over_meanwhile(text):
        os.unlink(lock.fullname)
        lockfiles.create_lock(lock.fullname, _remote(token='elsewhere:7:theirs').encode())
        os.utime(lock.fullname, (FAILED_LOCK_MTIME, FAILED_LOCK_MTIME))
        return real_parse(text)
    monkeypatch.setattr(lockfiles, 'parse_lock', taken_over_meanwhile)
    assert lockfiles.refresh(lock.fullname, 'ours') is True  # (it touched its own file)
    monkeypatch.undo()
    assert lock.is_failed() and 'theirs' in _text(lock.fullname)


def test_remove_if_failed_removes_only_the_failed_lock_it_saw(store, monkeypatch):
    lock = _write_lock(store, _remote(), mtime=FAILED_LOCK_MTIME)
    assert lock.remove_if_failed() and store.listlocks() == []
    assert not store.getlock(KEY).remove_if_failed()  # nothing there
    lock = _write_lock(store, _remote(), mtime=FAILED_LOCK_MTIME)
    real_take_over = lockfiles.take_over

    def replaced_meanwhile(path, judged, content, info):
        os.unlink(path)
        lockfiles.create_lock(path, _remote(token='elsewhere:8:live').encode())
        return real_take_over(path, judged, content, info)
    monkeypatch.setattr(file_locks, 'take_over', replaced_meanwhile)
    assert not lock.remove_if_failed()
    assert 'elsewhere:8:live' in _text(lock.fullname)


def test_a_takeover_frozen_after_winning_its_marker_gives_up(store, monkeypatch):
    lock = _write_lock(store, _remote(lease=5), mtime=time.time() - 60)
    judged, info = read_lock(lock.fullname)
    clock = [time.monotonic()]
    monkeypatch.setattr(lockfiles.time, 'monotonic', lambda: clock[0])
    real_read = lockfiles.read_lock

    def frozen_for_an_hour(path):
        clock[0] += 3600
        return real_read(path)
    monkeypatch.setattr(lockfiles, 'read_lock', frozen_for_an_hour)
    assert not lockfiles.take_over(lock.fullname, judged, b'new', info)
    monkeypatch.undo()
    assert 'elsewhere:1:' in _text(lock.fullname)
