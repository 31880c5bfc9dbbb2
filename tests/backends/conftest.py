"""Fixtures shared by the store tests: Jug 2.7 data directories and a fake redis client."""
import types

import pytest

from store_helpers import FakeRedis, extract


@pytest.fixture
def interop_dir(tmp_path):
    """A copy of the unpacked data directory written by Jug 2.7.0."""
    return extract(tmp_path / 'unpacked', 'interop.jugdata.tar.gz')


@pytest.fixture
def interop_packed_dir(tmp_path):
    """A copy of the data directory written by Jug 2.7.0 after ``jug pack``."""
    return extract(tmp_path / 'packed', 'interop-packed.jugdata.tar.gz')


@pytest.fixture
def fake_redis(monkeypatch):
    """Make redis_store use FakeRedis instead of a server; return the fake module."""
    from jug.backends import redis_store
    module = types.SimpleNamespace(Redis=FakeRedis)
    monkeypatch.setattr(redis_store, 'redis', module)
    return module
