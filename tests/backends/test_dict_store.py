"""dict_store specifics: the entry layout, the access counters and the backend file."""
import pickle

import pytest

from jug.backends.dict_store import FAILED, LOCKED, dict_lock, dict_store

from store_helpers import H1, H2, FakeTask


def test_layout():
    s = dict_store()
    s.dump({'a': 1}, H1)
    s.dump(None, H2.decode())
    s.getlock(H1).get()
    s.getlock(H2).get()
    s.getlock(H2).fail()
    assert s.store == {
        b'result:' + H1: pickle.dumps({'a': 1}),
        b'result:' + H2: pickle.dumps(None),
        b'lock:' + H1: LOCKED,
        b'lock:' + H2: FAILED,
    }
    assert (LOCKED, FAILED) == (1, 2)


def test_counts_results():
    s = dict_store()
    s.dump(1, H1)
    assert dict(s.counts) == {b'dump::' + H1: 1}
    s.can_load(H1)
    s.load(H1)
    assert s.counts[b'exists:' + H1] == 1
    assert s.counts[b'load:' + H1] == 1
    s.counts.clear()
    assert s.remove(H1) is True
    assert dict(s.counts) == {b'del:' + H1: 1, b'exists:' + H1: 1, b'true-del:' + H1: 1}
    s.counts.clear()
    assert s.remove(H1) is False
    assert dict(s.counts) == {b'del:' + H1: 1, b'exists:' + H1: 1}


def test_counts_locks():
    s = dict_store()
    lock = s.getlock(H1)
    assert isinstance(lock, dict_lock)
    assert lock.name == b'lock:' + H1
    lock.get()
    lock.is_locked()
    lock.fail()
    lock.is_failed()
    lock.release()
    assert dict(s.counts) == {
        b'lock:lock:' + H1: 1,
        b'islock:lock:' + H1: 1,
        b'fail:lock:' + H1: 1,
        b'isfail:lock:' + H1: 1,
        b'unlock:lock:' + H1: 1,
    }
    assert max(s.counts.values()) == 1


def test_list_is_generator():
    s = dict_store()
    s.dump(1, H1)
    s.getlock(H2).get()
    gen = s.list()
    assert not isinstance(gen, list)
    assert list(gen) == [H1]
    assert list(s.listlocks()) == [H2]


def test_lock_state_machine():
    s = dict_store()
    lock = s.getlock(H1)
    assert lock.fail() is False
    assert s.store.get(b'lock:' + H1) is None
    assert lock.get() is True
    assert lock.get() is False
    assert lock.fail() is True
    assert lock.get() is False
    assert s.store[b'lock:' + H1] == FAILED
    lock.release()
    assert not lock.is_locked()


def test_cleanup_counts_only_results():
    s = dict_store()
    s.dump(1, H1)
    s.dump(2, H2)
    s.getlock(H1).get()
    s.getlock(H2).get()
    assert s.cleanup([FakeTask(H1)], keeplocks=True) == 1
    assert set(s.listlocks()) == {H1, H2}
    assert s.cleanup([FakeTask(H1)]) == 0
    assert list(s.listlocks()) == []
    assert list(s.list()) == [H1]


def test_backend_file(tmp_path):
    path = str(tmp_path / 'store.pickle')
    s = dict_store(path)
    assert s.backend == path
    assert s.store == {}  # missing file: empty
    s.dump('v', H1)
    s.getlock(H2).get()
    s.close()
    assert s.backend is None
    s.close()  # second close does nothing
    t = dict_store(path)
    assert t.load(H1) == 'v'
    assert t.getlock(H2).is_locked()
    with open(path, 'rb') as f:
        assert pickle.load(f) == t.store


def test_backend_saved_on_del(tmp_path):
    path = str(tmp_path / 'store.pickle')
    s = dict_store(path)
    s.dump(3, H1)
    del s
    assert dict_store(path).load(H1) == 3


def test_unreadable_backend_not_overwritten(tmp_path):
    path = tmp_path / 'store.pickle'
    path.write_bytes(b'not a pickle')
    with pytest.raises(Exception):
        dict_store(str(path))
    assert path.read_bytes() == b'not a pickle'


def test_remove_many_uses_remove():
    s = dict_store()
    s.dump(1, H1)
    assert s.remove_many([H1, H2]) == {H1}
    assert s.counts[b'del:' + H2] == 1
    assert 'remove_many' not in vars(dict_store)


def test_metadata_none():
    assert dict_store().metadata(FakeTask(H1)) is None
