"""Leased redis locks: heartbeat, takeover after the lease (at once for a dead process
of this host), exactly one taker wins, Jug 2.7's locks and failed locks are never taken
over, release, fail and commit only of our own lock."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from jug.backends import redis_client, redis_locks
from jug.backends.leases import LeaseSettings, heartbeat
from jug.backends.redis_store import redis_store

from jugtest import race_in_processes
from store_helpers import H1, H2
from test_redis_store import raw, store  # noqa: F401  (fixtures shared with that module)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCK = b'lock:' + H1
OWNER = b'lockowner:' + H1


def _wait_for(condition, timeout=10.0, what='the condition'):
    """Bounded polling (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.01)


def _helpers_of(pid):
    """The pids of the heartbeat helper processes whose parent is `pid`."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat', 'rb') as f:
                parent = int(f.read().rsplit(b')', 1)[1].split()[1])
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmdline = f.read()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b'jug.backends.heartbeat_process' in cmdline:
            found.append(int(entry))
    return found


def test_set_lease_sets_the_expiry(store, raw):
    store.set_lease(LeaseSettings(42, 10))
    assert store.getlock(H1).get()
    assert 40_000 < raw.pttl(LOCK) <= 42_000
    assert 40_000 < raw.pttl(OWNER) <= 42_000
    store.getlock(H1).release()
    assert raw.exists(LOCK, OWNER) == 0


def test_heartbeat_keeps_a_lock_past_its_lease(store, raw):
    store.set_lease(LeaseSettings(0.3, 0.05))
    lock = store.getlock(H1)
    assert lock.get()
    other = redis_store(store.url)
    end = time.monotonic() + 1.0  # more than three leases
    while time.monotonic() < end:
        assert raw.get(LOCK) == b'L', 'the lock expired although its holder is alive'
        assert other.getlock(H1).get() is False
        time.sleep(0.02)
    assert 0 < raw.pttl(LOCK) <= 300
    lock.release()
    other.close()


def test_heartbeat_is_one_helper_process_for_all_locks(store, raw):
    store.set_lease(LeaseSettings(5, 0.05))
    raw.config_resetstat()
    locks = [store.getlock(b'%040d' % i) for i in range(20)]
    assert all(lock.get() for lock in locks)
    assert _helpers_of(os.getpid()) == [heartbeat.helper_pid()]
    # every lock is refreshed (by the scripts the helper runs), over and over
    _wait_for(lambda: raw.info('commandstats').get('cmdstat_eval', {}).get('calls', 0) >= 60,
              what='three rounds of refreshes')
    assert all(4000 < raw.pttl(lock.fullname) <= 5000 for lock in locks)
    for lock in locks:
        lock.release()


HOLDER = textwrap.dedent('''
    import sys
    from jug.backends.leases import LeaseSettings
    from jug.backends.redis_store import redis_store
    url, key, lease = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
    store = redis_store(url)
    store.set_lease(LeaseSettings(lease, lease / 5))
    lock = store.getlock(key)
    assert lock.get()
    print('locked', flush=True)
    for line in sys.stdin:
        if line.strip() == 'release':
            lock.release()
            print('released', flush=True)
''')


@pytest.fixture
def holder(redis_url):
    """Start a process holding lock H1 (lease 1 s); returns the Popen."""
    children = []

    def start(lease=1.0):
        child = subprocess.Popen([sys.executable, '-c', HOLDER, redis_url, H1.decode(),
                                  str(lease)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env=dict(os.environ, PYTHONPATH=ROOT))
        children.append(child)
        assert child.stdout.readline().strip() == 'locked'
        return child
    yield start
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
            child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()


def test_frozen_holder_is_taken_over_after_its_lease(store, raw, holder):
    child = holder(lease=1.0)
    assert raw.get(OWNER).decode().split(':')[1] == str(child.pid)
    assert store.getlock(H1).is_held_by_live_worker()
    alive_until = time.monotonic() + 1.5  # beyond its lease: its heartbeat refreshes it
    while time.monotonic() < alive_until:
        assert store.getlock(H1).get() is False
        time.sleep(0.05)
    child.send_signal(signal.SIGSTOP)  # frozen: no more refreshes
    lock = store.getlock(H1)
    assert lock.get() is False  # not before its lease runs out
    _wait_for(lock.get, timeout=5, what='the takeover')
    mine = raw.get(OWNER)
    assert mine.decode().split(':')[1] == str(os.getpid())
    # the frozen holder wakes up and releases "its" lock: ours must stay
    child.send_signal(signal.SIGCONT)
    child.stdin.write('release\n')
    child.stdin.flush()
    assert child.stdout.readline().strip() == 'released'
    assert raw.get(LOCK) == b'L' and raw.get(OWNER) == mine
    lock.release()
    assert raw.exists(LOCK) == 0


def test_killed_holder_is_taken_over(store, raw, holder):
    child = holder(lease=0.5)
    child.kill()
    child.wait()
    _wait_for(store.getlock(H1).get, timeout=5, what='the takeover')
    assert raw.get(OWNER).decode().split(':')[1] == str(os.getpid())
    store.getlock(H1).release()


def _taker(url, abandoned_owner, barrier, results):
    store = redis_store(url)
    store.set_lease(LeaseSettings(60, 30))  # the winner keeps it while the others look
    lock = store.getlock(H1)
    barrier.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if lock.get():
            results.put((os.getpid(), True))
            return
        owner = store.redis.get(OWNER)
        if owner is not None and owner != abandoned_owner:
            results.put((os.getpid(), False))
            return
    results.put((os.getpid(), None))


@pytest.mark.parametrize('round', range(3))
def test_exactly_one_of_many_processes_takes_over(redis_url, raw, round):
    abandoned = b'elsewhere 1 0123456789abcdef'
    raw.set(LOCK, b'L', px=400)  # a worker that stopped refreshing: 0.4 s left
    raw.set(OWNER, abandoned, px=400)
    outcomes = race_in_processes(_taker, (redis_url, abandoned))
    assert None not in [won for _, won in outcomes]
    winners = [pid for pid, won in outcomes if won]
    assert len(winners) == 1
    assert raw.get(OWNER).decode().split(':')[1] == str(winners[0])


def test_jug27_lock_is_never_taken_over(store, raw):
    raw.set(LOCK, b'L')  # Jug 2.7: no expiry, no owner
    lock = store.getlock(H1)
    assert lock.get() is False
    assert lock.is_locked() and not lock.is_failed()
    assert not lock.is_stale()
    assert not lock.is_held_by_live_worker()  # unknown: cleanup may remove it
    assert raw.pttl(LOCK) == -1
    assert raw.get(LOCK) == b'L'


def test_jug27_getset_on_our_lock_is_repaired_by_the_heartbeat(store, raw):
    store.set_lease(LeaseSettings(5, 0.05))
    assert store.getlock(H1).get()
    assert raw.getset(LOCK, b'L') == b'L'  # what a Jug 2.7 worker's get() does
    assert raw.pttl(LOCK) == -1  # GETSET dropped the expiry...
    _wait_for(lambda: 0 < raw.pttl(LOCK) <= 5000, what='the heartbeat to put it back')
    store.getlock(H1).release()


def test_failed_lock_persists(store, raw):
    store.set_lease(LeaseSettings(0.3, 0.05))
    lock = store.getlock(H1)
    assert lock.get()
    assert store.getlock(H2).get()  # still refreshed: shows that heartbeats happen
    assert lock.fail()
    assert raw.get(LOCK) == b'F'
    assert raw.pttl(LOCK) == -1 and raw.exists(OWNER) == 0
    end = time.monotonic() + 1.0  # three leases: H2 lives only if refreshed meanwhile
    while time.monotonic() < end:
        assert raw.get(LOCK) == b'F' and raw.pttl(LOCK) == -1  # not given an expiry back
        assert raw.get(b'lock:' + H2) == b'L'
        time.sleep(0.02)
    assert store.getlock(H1).get() is False
    assert lock.is_failed() and not lock.is_stale()
    assert not lock.is_held_by_live_worker()
    lock.release()  # what `jug cleanup --failed-only` does
    assert raw.exists(LOCK) == 0
    store.getlock(H2).release()


def test_fail_of_a_jug27_lock_and_of_nothing(store, raw):
    assert store.getlock(H1).fail() is False
    assert raw.exists(LOCK) == 0
    raw.set(LOCK, b'L')
    assert store.getlock(H1).fail() is True
    assert raw.get(LOCK) == b'F'


def test_release_keeps_a_lock_taken_over_by_someone_else(store, raw):
    store.set_lease(LeaseSettings(60, 30))
    lock = store.getlock(H1)
    assert lock.get()
    # our lease ran out while we were frozen, and another worker took the lock
    raw.set(LOCK, b'L', px=60_000)
    raw.set(OWNER, b'elsewhere 7 theirs', px=60_000)
    lock.release()
    assert raw.get(OWNER) == b'elsewhere 7 theirs'
    assert raw.get(LOCK) == b'L'
    # so does a commit, which stores nothing: the result is the new owner's to write
    assert store.getlock(H2).get() is True
    raw.set(b'lockowner:' + H2, b'elsewhere 7 theirs', px=60_000)
    assert store.commit('v', H2, {'r': 1}) is False
    assert not store.can_load(H2) and store.load_record(H2) is None
    assert raw.get(b'lockowner:' + H2) == b'elsewhere 7 theirs'
    assert heartbeat.token(store.getlock(H2).lease_key) is None  # not refreshed any more
    # a lock this process does not hold is released whoever holds it (as Jug 2.7)
    store.getlock(H1).release()
    assert raw.exists(LOCK, OWNER) == 0


def test_held_by_live_worker(store, raw):
    lock = store.getlock(H1)
    assert not lock.is_held_by_live_worker()  # no lock
    assert lock.get()
    assert not lock.is_held_by_live_worker()  # ours
    lock.release()
    raw.set(LOCK, b'L', px=60_000)
    raw.set(OWNER, b'elsewhere 7 theirs', px=60_000)
    assert lock.is_held_by_live_worker()


def _lose_first_reply(store, monkeypatch, text):
    """Make the script `text` run on the server but lose its first reply (a connection
    error after it ran); return the list its calls are appended to."""
    import redis.exceptions
    script = store.connection.script(text)
    real_script = store.connection.script
    calls = []

    def flaky(keys, args):
        calls.append(1)
        result = type(script).__call__(script, keys=keys, args=args)
        if len(calls) == 1:
            raise redis.exceptions.ConnectionError('reply lost')
        return result
    monkeypatch.setattr(store.connection, 'script',
                        lambda asked: flaky if asked == text else real_script(asked))
    monkeypatch.setattr(redis_client, '_backoff_sleep', lambda s: None)
    return calls


def test_get_is_idempotent_when_its_reply_is_lost(store, raw, monkeypatch):
    # the acquire script ran, but the connection broke before its reply: the retry
    # (same token) must report success, not "taken by someone else"
    store.can_load(H1)  # contacted: connection errors are retried
    calls = _lose_first_reply(store, monkeypatch, redis_locks._ACQUIRE)
    lock = store.getlock(H1)
    assert lock.get() is True
    assert len(calls) == 2
    assert heartbeat.token(lock.lease_key) == raw.get(OWNER).decode()
    monkeypatch.undo()
    lock.release()
    assert raw.exists(LOCK) == 0


def test_close_stops_refreshing(redis_url, raw):
    s = redis_store(redis_url)
    s.set_lease(LeaseSettings(5, 0.05))
    lock = s.getlock(H1)
    assert lock.get()
    s.close()
    assert heartbeat.token(lock.lease_key) is None
    assert raw.get(LOCK) == b'L'  # left to expire


def test_cleanup_never_deletes_a_lock_taken_after_it_looked(store, raw, monkeypatch):
    """cleanup saw a Jug 2.7 lock (no owner); meanwhile it was released and a worker of
    ours took the lock: that worker's lock stays."""
    lock = store.getlock(H1)
    assert lock.get()
    theirs = raw.get(OWNER)
    cleaner = redis_store(store.url).getlock(H1)
    monkeypatch.setattr(cleaner, '_look', lambda: (b'L', -1, None))  # what it saw
    assert not cleaner.remove_unless_live()
    assert raw.get(LOCK) == b'L' and raw.get(OWNER) == theirs
    monkeypatch.undo()
    lock.release()
    raw.set(LOCK, b'L')  # a real Jug 2.7 lock: removed
    assert cleaner.remove_unless_live() and raw.exists(LOCK) == 0
    cleaner.store.close()


def test_remove_if_failed_removes_only_a_failed_lock(store, raw):
    lock = store.getlock(H1)
    assert lock.get()
    assert not store.getlock(H1).remove_if_failed()  # held, not failed
    assert raw.get(LOCK) == b'L'
    assert lock.fail()
    assert store.getlock(H1).remove_if_failed()
    assert raw.exists(LOCK, OWNER) == 0


def test_commit_is_idempotent_when_its_reply_is_lost(store, raw, monkeypatch):
    """The commit script ran, but its reply was lost: the retry reports success (the
    result is this worker's), not a lost lock."""
    from jug.backends.redis_locks import COMMIT
    store.can_load(H1)  # contacted: connection errors are retried
    lock = store.getlock(H1)
    assert lock.get()
    calls = _lose_first_reply(store, monkeypatch, COMMIT)
    assert store.commit('v', H1, {'r': 1}) is True
    assert len(calls) == 2
    assert store.load(H1) == 'v' and raw.exists(LOCK, OWNER) == 0
