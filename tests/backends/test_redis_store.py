"""redis_store: lazy import, URLs, layout, SCAN, round trips (docs/backends.rst).

The store contract runs on a real server in test_store_contract.py; locks and leases
are in test_redis_locks.py, faults (server down, restarts, passwords) in
test_redis_faults.py, run records in test_redis_records.py.
"""
import base64
import json
import os
import subprocess
import sys

import pytest

from jug.backends import redis_client
from jug.backends import redis_store as module
from jug.backends.leases import heartbeat
from jug.backends.encode import encode
from jug.backends.memoize_store import memoize_store
from jug.errors import MissingPackageError, StoreError

from store_helpers import H1, H2, H3, FakeTask

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --- without a server ------------------------------------------------------------------

def test_import_is_lazy():
    code = ('import sys\n'
            'import jug, jug.backends\n'
            'bad = [m for m in ("numpy", "redis", "sqlite3", "yaml", "polars")'
            ' if m in sys.modules]\n'
            'print(bad)\n'
            'from jug.backends import redis_store\n'
            'print(redis_store.redis is not None, redis_store.redis_functional)\n')
    out = subprocess.run([sys.executable, '-c', code], env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, check=True).stdout.split('\n')
    assert out[0] == '[]'
    assert out[1] == 'True True'


def test_module_attributes():
    import redis
    assert module.redis is redis
    assert module.redis_functional is True
    with pytest.raises(AttributeError):
        module.no_such_attribute


def test_missing_package(monkeypatch):
    monkeypatch.setattr(module, 'redis', None)
    with pytest.raises(OSError, match='pip install') as info:
        module.redis_store('redis:')
    assert isinstance(info.value, MissingPackageError)


@pytest.mark.parametrize('url, host, port, db, username, password', [
    ('redis:', 'localhost', 6379, 0, None, None),
    ('redis://', 'localhost', 6379, 0, None, None),  # no match: defaults (as Jug 2.7)
    ('redis://example.org', 'example.org', 6379, 0, None, None),
    ('redis://10.0.0.2:7000/', '10.0.0.2', 7000, 0, None, None),
    ('redis://my-host.local:7001/3', 'my-host.local', 7001, 3, None, None),
    ('redis://h:7001/12/more', 'h', 7001, 12, None, None),
    ('redis://h:7001/x', 'h', 7001, 0, None, None),  # ignored, as Jug 2.7 does
    ('redis://h:7001/2x', 'h', 7001, 0, None, None),
    ('redis://h:abc/', 'h', 6379, 0, None, None),
    ('redis://:secret@dbhost:6380/2', 'dbhost', 6380, 2, None, 'secret'),
    ('redis://:secret@dbhost', 'dbhost', 6379, 0, None, 'secret'),
    ('redis://alice:secret@dbhost:6380/2', 'dbhost', 6380, 2, 'alice', 'secret'),
    ('redis://:p%40ss%2Fw@dbhost/', 'dbhost', 6379, 0, None, 'p@ss/w'),
])
def test_url(url, host, port, db, username, password):
    assert module.parse_url(url) == {'host': host, 'port': port, 'db': db,
                                     'username': username, 'password': password}
    s = module.redis_store(url)  # real client; constructing it does not connect
    kwargs = s.redis.connection_pool.connection_kwargs
    assert (kwargs['host'], kwargs['port'], kwargs['db']) == (host, port, db)
    assert (kwargs['username'], kwargs['password']) == (username, password)
    s.close()


@pytest.mark.parametrize('url', ['redis://alice@dbhost/', 'redis://@dbhost/',
                                 'redis://a:b@c@dbhost/'])
def test_url_with_unreadable_credentials(url):
    with pytest.raises(StoreError, match='Cannot read the redis URL'):
        module.redis_store(url)


def test_password_is_not_shown():
    s = module.redis_store('redis://alice:hunter2@dbhost:6380/2')
    assert repr(s) == 'redis_store(redis://alice:***@dbhost:6380/2)'
    assert 'hunter2' not in repr(s)


# --- on a real server --------------------------------------------------------------------

@pytest.fixture
def store(redis_url):
    s = module.redis_store(redis_url)
    yield s
    s.close()


@pytest.fixture
def raw(redis_url):
    """A plain redis-py client on the test server (what Jug 2.7 would use)."""
    import redis
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_layout(store, raw):
    store.dump({'x': 1}, H1)
    assert raw.get(b'result:' + H1) == base64.b64encode(encode({'x': 1}))
    store.dump(None, H1.decode())
    assert raw.get(b'result:' + H1) == b''
    assert store.load(H1) is None
    assert store.can_load(H1) == 1
    lock = store.getlock(H1)
    assert lock.get()
    assert raw.get(b'lock:' + H1) == b'L'
    owner = raw.get(b'lockowner:' + H1).decode()
    assert owner.startswith(f'{os.uname().nodename}:{os.getpid()}:')
    assert 0 < raw.pttl(b'lock:' + H1) <= 600_000  # leased (default 600 s)
    assert 0 < raw.pttl(b'lockowner:' + H1) <= 600_000
    assert lock.fail()
    assert raw.get(b'lock:' + H1) == b'F'
    assert raw.pttl(b'lock:' + H1) == -1  # failed locks never expire
    assert raw.exists(b'lockowner:' + H1) == 0
    store.save_record(H1, {'status': 'finished'})
    assert json.loads(raw.get(b'record:' + H1)) == {'status': 'finished'}
    assert sorted(raw.keys()) == [b'lock:' + H1, b'record:' + H1, b'result:' + H1]


def test_reads_what_jug27_wrote(store, raw):
    raw.set(b'result:' + H1, base64.b64encode(encode([1, 'two'])))
    raw.set(b'result:' + H2, b'')
    raw.set(b'lock:' + H3, b'L')
    assert store.load(H1) == [1, 'two']
    assert store.load(H2) is None
    assert sorted(store.list()) == sorted([H1, H2])
    assert list(store.listlocks()) == [H3]
    assert store.getlock(H3).is_locked()
    assert store.getlock(H3).get() is False


def test_load_missing_raises_keyerror(store):
    with pytest.raises(KeyError):
        store.load(H1)


@pytest.mark.parametrize('data', [b'not base64!', base64.b64encode(b'garbage')])
def test_load_damaged_is_a_clear_error(store, raw, data):
    raw.set(b'result:' + H1, data)
    with pytest.raises(StoreError, match=f'cannot load the result {H1.decode()} from the '
                                         f'redis server at .*: it is damaged'):
        store.load(H1)


def test_commit(store, raw):
    lock = store.getlock(H1)
    assert lock.get()
    store.commit([1, 2], H1, {'status': 'finished'})
    assert store.load(H1) == [1, 2]
    assert store.load_record(H1) == {'status': 'finished'}
    assert not lock.is_locked()
    assert raw.exists(b'lockowner:' + H1) == 0
    assert heartbeat.token(lock.lease_key) is None  # not refreshed any more
    store.commit(3, H2)  # no record, no lock held: like dump + release
    assert store.load(H2) == 3 and store.load_record(H2) is None


def test_commit_of_unencodable_value_changes_nothing(store):
    import threading
    lock = store.getlock(H1)
    assert lock.get()
    with pytest.raises(TypeError):
        store.commit(threading.Lock(), H1, {'status': 'finished'})
    assert not store.can_load(H1) and store.load_record(H1) is None
    assert lock.is_locked()  # the caller fails or releases it
    lock.release()


def _commandstats(raw):
    return {k[len('cmdstat_'):]: v['calls'] for k, v in raw.info('commandstats').items()}


def test_listing_uses_scan_not_keys(store, raw, monkeypatch):
    n = 2 * redis_client._SCAN_COUNT + 7  # several SCAN batches
    pipe = raw.pipeline(transaction=False)
    for i in range(n):
        pipe.set(b'result:%040d' % i, b'')
    for i in range(5):
        pipe.set(b'lock:%040d' % i, b'L')
        pipe.set(b'record:%040d' % i, b'{}')
    pipe.execute()

    def no_keys(*args, **kwargs):
        raise AssertionError('KEYS blocks the server: use SCAN')
    monkeypatch.setattr(store.redis, 'keys', no_keys)
    raw.config_resetstat()
    assert len(set(store.list())) == n
    assert len(list(store.listlocks())) == 5
    assert len(store.list_records()) == 5
    assert store.remove_locks() == 5
    assert store.cleanup([FakeTask(b'%040d' % 0)]) == n - 1
    assert list(store.list()) == [b'%040d' % 0]
    assert store.list_records() == [b'%040d' % 0]
    stats = _commandstats(raw)
    assert 'keys' not in stats
    assert stats['scan'] >= 3


class RoundTrips:
    """Counts what the clients send to a server: one send per round trip."""

    def __init__(self, monkeypatch):
        from redis.connection import AbstractConnection
        self.count = 0
        original = AbstractConnection.send_packed_command

        def counting(conn, command, check_health=True):
            self.count += 1
            return original(conn, command, check_health)
        monkeypatch.setattr(AbstractConnection, 'send_packed_command', counting)

    def of(self, operation):
        before = self.count
        operation()
        return self.count - before


def test_round_trips(store, monkeypatch):
    store.can_load(H3)  # connect first: the handshake is not an operation's cost
    rt = RoundTrips(monkeypatch)
    lock = store.getlock(H1)
    costs = {
        'dump': rt.of(lambda: store.dump(1, H1)),
        'can_load': rt.of(lambda: store.can_load(H1)),
        'load': rt.of(lambda: store.load(H1)),
        'get': rt.of(lock.get),
        'is_locked': rt.of(lock.is_locked),
        'is_failed': rt.of(lock.is_failed),
        'is_held_by_live_worker': rt.of(lock.is_held_by_live_worker),
        'release': rt.of(lock.release),
        'get again': rt.of(lock.get),
        'commit': rt.of(lambda: store.commit(2, H1, {'status': 'finished'})),
        'save_record': rt.of(lambda: store.save_record(H2, {})),
        'load_record': rt.of(lambda: store.load_record(H2)),
        'remove': rt.of(lambda: store.remove(H1)),
        'remove_many(2500)': rt.of(lambda: store.remove_many(
            [b'%040d' % i for i in range(2500)])),
        'fail': rt.of(lambda: (store.getlock(H2).get(), store.getlock(H2).fail())) - 1,
    }
    assert costs == dict.fromkeys(costs, 1)


def test_status_on_100000_tasks_lists_in_few_round_trips(store, raw, monkeypatch):
    n = 100_000
    for start in range(0, n, 10_000):
        pipe = raw.pipeline(transaction=False)
        for i in range(start, start + 10_000):
            pipe.set(b'result:%040x' % i, b'')
        pipe.execute()
    raw.set(b'lock:%040x' % n, b'L')
    store.can_load(H1)  # connect first
    rt = RoundTrips(monkeypatch)
    memo = rt.of(lambda: setattr(store, 'memo', memoize_store(store, list_base=True)))
    assert len(store.memo.keys) == n and store.memo.locks == {b'%040x' % n}
    # two SCANs of the whole keyspace, _SCAN_COUNT keys per round trip (give or take)
    assert memo <= 2 * (n // redis_client._SCAN_COUNT + 5)
    assert store.memo.can_load(b'%040x' % 5) and not store.memo.can_load(H1)
    assert rt.count == memo  # answered from the listings
