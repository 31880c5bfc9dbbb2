"""select(jugdir): the registry of jugdir forms (docs/backends.rst)."""
import pytest

import jug.backends
from jug.backends import select as select_module_or_function
from jug.backends.dict_store import dict_store
from jug.backends.file_store import file_keepalive_store, file_store
from jug.backends.redis_store import redis_store
from jug.backends.select import is_shared, register_jugdir_form, select


def test_package_attributes():
    import sys
    import types
    assert select_module_or_function is select  # the function shadows the submodule
    assert isinstance(jug.backends.memoize_store, type)
    for name in ('file_store', 'dict_store', 'redis_store', 'encode', 'base'):
        assert isinstance(getattr(jug.backends, name), types.ModuleType), name
    assert isinstance(sys.modules['jug.backends.select'], types.ModuleType)


def test_store_object_passes_through():
    s = dict_store()
    assert select(s) is s


def test_plain_path(tmp_path):
    s = select(str(tmp_path / 'jd'))
    assert type(s) is file_store
    assert s.jugdir == str(tmp_path / 'jd')
    assert type(select('dict_storeX')) is file_store


def test_dict_store_forms(tmp_path):
    a = select('dict_store')
    b = select('dict_store')
    assert type(a) is dict_store and a is not b
    assert a.backend is None
    path = str(tmp_path / 'state.pickle')
    c = select('dict_store:' + path)
    assert type(c) is dict_store and c.backend == path
    c.close()


def test_keepalive(tmp_path):
    s = select('file_keepalive:' + str(tmp_path / 'jd'))
    assert type(s) is file_keepalive_store
    assert s.jugdir == str(tmp_path / 'jd')


@pytest.mark.parametrize('jugdir', ['redis:', 'redis://localhost:6379/', 'redis://h/'])
def test_redis(jugdir, fake_redis):
    s = select(jugdir)
    assert type(s) is redis_store


def test_redis_missing(monkeypatch):
    from jug.backends import redis_store as module
    monkeypatch.setattr(module, 'redis', None)
    with pytest.raises(OSError, match='redis'):
        select('redis:')


def test_register_new_form():
    made = []
    register_jugdir_form('mine:', lambda jugdir: made.append(jugdir) or dict_store())
    register_jugdir_form('exactly-this', lambda jugdir: 'exact', exact=True)
    assert type(select('mine:abc')) is dict_store
    assert made == ['mine:abc']
    assert select('exactly-this') == 'exact'
    assert type(select('exactly-this/not')) is file_store


def test_is_shared_is_decided_without_creating_the_store(tmp_path):
    backend = tmp_path / 'state.pickle'
    assert not is_shared('dict_store') and not is_shared(f'dict_store:{backend}')
    assert not backend.exists()
    assert is_shared(str(tmp_path / 'jugdata')) and is_shared('redis://localhost/')
    assert is_shared('file_keepalive:x') and is_shared(file_store(str(tmp_path)))
    assert not is_shared(dict_store())
    register_jugdir_form('mine:', lambda jugdir: dict_store(), shared=False)
    assert not is_shared('mine:abc')
