"""redis_store without a server: lazy import, URL parsing, layout (SPEC §3.6)."""
import base64
import os
import subprocess
import sys

import pytest

from jug.backends import redis_store as module
from jug.backends.encode import encode
from jug.errors import MissingPackageError

H1 = b'0123456789abcdef0123456789abcdef01234567'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_import_is_lazy():
    code = ('import sys\n'
            'import jug.backends\n'
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


@pytest.mark.parametrize('url, host, port', [
    ('redis:', 'localhost', 6379),
    ('redis://example.org', 'example.org', 6379),
    ('redis://10.0.0.2:7000/', '10.0.0.2', 7000),
    ('redis://my-host.local:7001/3', 'my-host.local', 7001),
])
def test_url(url, host, port):
    s = module.redis_store(url)  # real client; constructing it does not connect
    kwargs = s.redis.connection_pool.connection_kwargs
    assert (kwargs['host'], kwargs['port']) == (host, port)
    s.close()


def test_layout(fake_redis):
    s = module.redis_store('redis:')
    s.dump({'x': 1}, H1)
    assert s.redis.data[b'result:' + H1] == base64.b64encode(encode({'x': 1}))
    s.dump(None, H1.decode())
    assert s.redis.data[b'result:' + H1] == b''
    assert s.load(H1) is None
    lock = s.getlock(H1)
    lock.get()
    assert s.redis.data[b'lock:' + H1] == b'L'
    lock.fail()
    assert s.redis.data[b'lock:' + H1] == b'F'
    assert s.can_load(H1) == 1
    s.close()
    assert s.redis.closed
