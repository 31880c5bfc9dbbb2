"""redis_store faults: a server down at start, restarts while running (retried within a
bound), an exhausted retry budget, passwords and database numbers, server errors."""
import logging
import threading
import time

import pytest

from jug.backends import redis_client as module
from jug.backends.leases import LeaseSettings
from jug.backends.redis_store import redis_store
from jug.errors import StoreError

from redisserver import RedisServer, free_port, require_redis_server
from store_helpers import H1, H2

PRIMES = '''
from jug import TaskGenerator

@TaskGenerator
def is_prime(n):
    return all(n % i for i in range(2, n))

primes = [is_prime(i) for i in range(2, 20)]
'''


@pytest.fixture
def sleeps(monkeypatch):
    """Record the backoff waits of redis_store (they still happen)."""
    calls = []
    original = module._backoff_sleep

    def recording(seconds):
        calls.append(seconds)
        original(seconds)
    monkeypatch.setattr(module, '_backoff_sleep', recording)
    return calls


# --- down at start ---------------------------------------------------------------------

def test_server_down_at_start_is_one_clear_error(sleeps):
    url = f'redis://127.0.0.1:{free_port()}/'
    store = redis_store(url, retry_time=60)  # constructing does not connect
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.can_load(H1)
    message = str(info.value)
    assert message.startswith(f'Cannot connect to the redis server at {url}: ')
    assert 'refused' in message
    assert sleeps == []  # never reached: no retries
    assert time.monotonic() - started < 5
    with pytest.raises(StoreError, match='Cannot connect'):
        list(store.list())


@pytest.mark.parametrize('command', ['execute', 'status'])
def test_cli_server_down_at_start(run_jug, tmp_path, command):
    (tmp_path / 'primes.py').write_text(PRIMES)
    url = f'redis://127.0.0.1:{free_port()}/'
    result = run_jug(command, 'primes.py', '--jugdir', url, '--will-cite')
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f'jug: error: Cannot connect to the redis server at {url}: ')


def test_cli_execute_and_status_on_a_real_server(run_jug, tmp_path, redis_url):
    (tmp_path / 'primes.py').write_text(PRIMES)
    import subprocess
    from jugtest import jug_command, jug_env
    workers = [subprocess.Popen(jug_command('execute', 'primes.py', '--jugdir', redis_url,
                                            '--will-cite'),
                                cwd=tmp_path, env=jug_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    status = run_jug('status', 'primes.py', '--jugdir', redis_url, '--short')
    assert status.returncode == 0
    assert status.stdout == 'All tasks complete (18 tasks).\n'
    executed = [int(line.split()[0]) for out, _ in outputs for line in out.splitlines()
                if line.split()[-1:] == ['Total']]
    assert sum(executed) == 18  # each task ran once, in one of the two workers
    store = redis_store(redis_url)
    assert len(list(store.list())) == 18
    assert list(store.listlocks()) == []
    store.close()


# --- restarts ----------------------------------------------------------------------------

def test_operation_is_retried_across_a_restart(redis_server, redis_url, sleeps, monkeypatch,
                                               caplog):
    store = redis_store(redis_url, retry_time=30)
    store.dump('before', H1)
    redis_server.save()  # a server with persistence: its data survive the restart
    redis_server.stop()
    original = module._backoff_sleep

    def start_during_the_wait(seconds):
        original(seconds)
        redis_server.start()  # comes back while the operation is retrying
    monkeypatch.setattr(module, '_backoff_sleep', start_during_the_wait)
    with caplog.at_level(logging.WARNING):
        store.dump('after', H2)
    assert 'lost the connection to the redis server' in caplog.text
    assert store.load(H1) == 'before'
    assert store.load(H2) == 'after'


def test_restart_while_operations_run_loses_nothing(redis_server, redis_url):
    store = redis_store(redis_url, retry_time=60)
    store.set_lease(LeaseSettings(30, 0.05))
    done = []
    restarted = threading.Event()
    failure = []

    def restarter():
        try:
            for _ in range(2):
                deadline = time.monotonic() + 30
                target = len(done) + 20
                while len(done) < target:  # wait for operations to be running
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
                redis_server.restart(keep_data=True)
        except BaseException as e:  # reported by the main thread
            failure.append(e)
        finally:
            restarted.set()
    thread = threading.Thread(target=restarter)
    thread.start()
    big = b'x' * 200_000
    i = 0
    after = 0
    while after < 20:
        key = b'%040d' % i
        lock = store.getlock(key)
        assert lock.get()
        store.commit((i, big), key, {'i': i})
        done.append(key)
        i += 1
        if restarted.is_set():
            after += 1
    thread.join()
    assert not failure, failure
    assert set(store.list()) == set(done)
    for n, key in enumerate(done):
        assert store.load(key) == (n, big)
        assert store.load_record(key) == {'i': n}
    assert list(store.listlocks()) == []
    store.close()


def test_heartbeat_survives_a_restart(redis_server, redis_url):
    store = redis_store(redis_url)
    store.set_lease(LeaseSettings(5, 0.05))
    lock = store.getlock(H1)
    assert lock.get()
    redis_server.restart(keep_data=True)
    restarted = time.monotonic()
    deadline = restarted + 10
    # without a refresh since the restart, less than 5 s - 0.5 s would be left
    while time.monotonic() - restarted < 0.5 or store.redis.pttl(b'lock:' + H1) <= 4500:
        assert time.monotonic() < deadline, 'the heartbeat did not refresh the lock'
        time.sleep(0.01)
    lock.release()
    assert not lock.is_locked()
    store.close()


def test_retry_budget_exhausted(redis_server, redis_url, sleeps):
    store = redis_store(redis_url, retry_time=0.5)
    store.dump(1, H1)
    redis_server.stop()
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.load(H1)
    elapsed = time.monotonic() - started
    assert str(info.value).startswith(f'Lost the connection to the redis server at '
                                      f'{redis_url} and could not reconnect within 0.5 s')
    assert 0.5 <= elapsed < 5
    assert len(sleeps) >= 3  # exponential backoff: several attempts
    del sleeps[:]
    with pytest.raises(StoreError, match='Cannot connect'):
        store.load(H1)  # once given up, the next operation fails at once
    assert sleeps == []
    redis_server.start()
    assert store.can_load(H1) == 0  # back (empty: no persistence) and retrying again
    store.dump(2, H1)
    assert store.load(H1) == 2


def test_retry_time_setting(monkeypatch, redis_url):
    monkeypatch.delenv(module.RETRY_ENV, raising=False)
    assert redis_store(redis_url).retry_time == module.DEFAULT_RETRY_TIME
    monkeypatch.setenv(module.RETRY_ENV, '7.5')
    assert redis_store(redis_url).retry_time == 7.5
    assert redis_store(redis_url, retry_time=2).retry_time == 2  # the argument wins
    for bad in ('soon', '-1', 'nan'):
        monkeypatch.setenv(module.RETRY_ENV, bad)
        with pytest.raises(StoreError, match=module.RETRY_ENV):
            redis_store(redis_url)


def test_server_error_is_a_store_error(redis_url):
    store = redis_store(redis_url)
    store.redis.lpush(b'result:' + H1, b'not a string')
    with pytest.raises(StoreError, match=f'The redis server at {redis_url} returned an '
                                         'error: WRONGTYPE'):
        store.load(H1)


# --- passwords and database numbers --------------------------------------------------------

PASSWORD = 'p@ss/w0rd'
QUOTED = 'p%40ss%2Fw0rd'


@pytest.fixture(scope='module')
def password_server():
    """A second server that requires a password."""
    server = RedisServer(require_redis_server(), ['--requirepass', PASSWORD])
    server.start()
    yield server
    server.cleanup()


def _client(server, db):
    import redis
    return redis.Redis(host='127.0.0.1', port=server.port, db=db, password=PASSWORD)


def test_password_and_database_number(password_server):
    password_server.flush()
    url = f'redis://:{QUOTED}@127.0.0.1:{password_server.port}/2'
    store = redis_store(url)
    store.dump('in db 2', H1)
    assert store.getlock(H1).get()
    assert _client(password_server, 2).get(b'lock:' + H1) == b'L'
    assert _client(password_server, 2).exists(b'result:' + H1)
    assert not _client(password_server, 0).exists(b'result:' + H1)
    assert list(redis_store(url).list()) == [H1]
    assert list(redis_store(f'redis://:{QUOTED}@127.0.0.1:{password_server.port}/').list()) \
        == []
    assert QUOTED not in repr(store) and PASSWORD not in repr(store)
    store.getlock(H1).release()
    store.close()


def test_user_and_password(password_server):
    store = redis_store(f'redis://default:{QUOTED}@127.0.0.1:{password_server.port}/3')
    store.dump(1, H1)
    assert _client(password_server, 3).exists(b'result:' + H1)


@pytest.mark.parametrize('credentials', [':wrong@', 'default:wrong@', ''],
                         ids=['wrong', 'wrong-user-form', 'missing'])
def test_bad_credentials_are_one_clear_error(password_server, credentials, sleeps):
    url = f'redis://{credentials}127.0.0.1:{password_server.port}/'
    store = redis_store(url, retry_time=60)
    with pytest.raises(StoreError) as info:
        store.dump(1, H1)
    message = str(info.value)
    assert message.startswith('Cannot authenticate to the redis server at '
                              f'redis://{credentials.replace("wrong", "***")}127.0.0.1:')
    assert 'wrong' not in message
    assert sleeps == []
