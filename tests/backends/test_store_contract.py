"""The store contract: every store passes these tests (docs/architecture.rst).

Stores: file_store, file_store with a pack, dict_store, redis_store (on a real
redis-server: the ``redis_url`` fixture), and memoize_store for the read-only part.
"""
import os
import threading

import numpy as np
import pytest

from jug.backends.base import LOCK_FAILED, LOCK_FREE, LOCK_HELD, LOCK_STALE, base_lock
from jug.backends.dict_store import dict_store
from jug.backends.file_store import file_store
from jug.backends.memoize_store import memoize_store
from jug.backends.redis_store import redis_store

from store_helpers import H1, H2, H3, FakeTask, packed_file_store


STORES = {
    'file': lambda tmp_path: file_store(str(tmp_path / 'jugdata')),
    'file-packed': packed_file_store,
    'dict': lambda tmp_path: dict_store(),
    'redis': None,  # needs the redis_url fixture (a real server): see store()
}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path):
    if request.param == 'redis':
        s = redis_store(request.getfixturevalue('redis_url'))
    else:
        s = STORES[request.param](tmp_path)
    yield s
    s.close()


VALUES = [
    0, 1, -3, 2 ** 100, 1.5, 'text', 'ünïcödé', b'bytes\x00', [1, 2, [3]], (1, 'a'),
    {'a': 1, 2: [None]}, {1, 2}, None, True,
]


@pytest.mark.parametrize('value', VALUES, ids=[repr(v)[:20] for v in VALUES])
def test_dump_load_roundtrip(store, value):
    assert not store.can_load(H1)
    store.dump(value, H1)
    assert store.can_load(H1)
    assert store.load(H1) == value
    assert type(store.load(H1)) is type(value)


def test_none_value(store):
    store.dump(None, H1)
    assert store.can_load(H1)
    assert store.load(H1) is None
    assert H1 in list(store.list())


@pytest.mark.parametrize('arr', [
    np.arange(10, dtype=np.int32),
    np.linspace(0, 1, 7),
    np.zeros((3, 4), dtype=np.uint8).T,   # not C-contiguous
    np.array([], dtype=float),
    np.array(['a', None, 3], dtype=object),
    np.array([(1, 2.0)], dtype=[('a', 'i4'), ('b', 'f8')]),
    np.float64(3.5),
], ids=['int32', 'float', 'transposed', 'empty', 'object', 'structured', 'scalar'])
def test_numpy(store, arr):
    store.dump(arr, H1)
    loaded = store.load(H1)
    assert type(loaded) is type(arr)
    assert loaded.dtype == arr.dtype
    assert loaded.shape == arr.shape
    assert np.array_equal(loaded, arr)


def test_str_and_bytes_keys_are_the_same(store):
    store.dump('v', H1.decode())
    assert store.can_load(H1)
    assert store.load(H1) == 'v'
    assert store.can_load(H1.decode())
    assert H1 in list(store.list())
    assert store.remove(H1)
    assert not store.can_load(H1.decode())


def test_overwrite(store):
    store.dump(1, H1)
    store.dump(2, H1)
    assert store.load(H1) == 2
    assert sorted(store.list()).count(H1) == 1


def test_dump_copies(store):
    value = [1, 2]
    store.dump(value, H1)
    value.append(3)
    assert store.load(H1) == [1, 2]


def test_failing_dump_keeps_previous(store):
    store.dump('old', H1)
    with pytest.raises(Exception):
        store.dump(threading.Lock(), H1)
    assert store.load(H1) == 'old'


def test_remove(store):
    store.dump(1, H1)
    assert store.remove(H1) is True
    assert not store.can_load(H1)
    assert store.remove(H1) is False
    assert H1 not in list(store.list())


def test_remove_many(store):
    store.dump(1, H1)
    store.dump(2, H2)
    assert store.remove_many([H1, H2, H3]) == {H1, H2}
    assert not store.can_load(H1)
    assert not store.can_load(H2)
    assert store.remove_many([H1]) == set()


def test_list(store):
    before = set(store.list())
    store.dump(1, H1)
    store.dump(None, H2)
    listed = list(store.list())
    assert all(isinstance(k, bytes) for k in listed)
    assert set(listed) - before == {H1, H2}
    assert len(listed) == len(set(listed))


def test_lock_get_release(store):
    lock = store.getlock(H1)
    assert not lock.is_locked()
    assert lock.get() is True
    assert lock.is_locked()
    assert not lock.is_failed()
    assert lock.get() is False
    assert store.getlock(H1).get() is False
    assert not store.getlock(H2).is_locked()
    lock.release()
    assert not lock.is_locked()
    lock.release()  # no error when not held
    assert lock.get() is True
    lock.release()


def test_lock_names_str_bytes(store):
    assert store.getlock(H1.decode()).get()
    assert store.getlock(H1).is_locked()
    assert store.getlock(H1).get() is False
    store.getlock(H1).release()
    assert not store.getlock(H1.decode()).is_locked()


def test_lock_fail(store):
    lock = store.getlock(H1)
    assert lock.fail() is False  # nothing to fail
    assert not lock.is_failed()
    assert not lock.is_locked()
    assert lock.get()
    assert lock.fail() is True
    assert lock.is_failed()
    assert lock.is_locked()  # failed locks stay in place
    assert lock.fail() is True
    other = store.getlock(H1)
    assert other.is_failed()
    assert other.get() is False
    assert other.is_failed()  # get() on a failed lock keeps it failed
    other.release()
    assert not lock.is_failed()
    assert not lock.is_locked()


def test_holder_state(store):
    lock = store.getlock(H1)
    assert lock.holder_state() == LOCK_FREE
    assert lock.get()
    assert store.getlock(H1).holder_state() == LOCK_HELD  # held by this very process
    assert lock.fail()
    assert store.getlock(H1).holder_state() == LOCK_FAILED
    lock.release()
    assert store.getlock(H1).holder_state() == LOCK_FREE


def test_base_lock_holder_state_from_its_questions():
    class Answers(base_lock):
        def __init__(self, locked, failed, stale):
            self.answers = (locked, failed, stale)

        def is_locked(self):
            return self.answers[0]

        def is_failed(self):
            return self.answers[1]

        def is_stale(self):
            return self.answers[2]
    assert Answers(False, False, False).holder_state() == LOCK_FREE
    assert Answers(True, True, False).holder_state() == LOCK_FAILED
    assert Answers(True, False, True).holder_state() == LOCK_STALE
    assert Answers(True, False, False).holder_state() == LOCK_HELD


def test_fail_from_other_object(store):
    # a new lock object for an already-locked name can fail it (Task.fail() does this)
    assert store.getlock(H1).get()
    assert store.getlock(H1).fail()
    assert store.getlock(H1).is_failed()


def test_listlocks_remove_locks(store):
    assert not [n for n in store.listlocks() if n in (H1, H2)]
    store.getlock(H1).get()
    store.getlock(H2).get()
    store.getlock(H2).fail()
    locks = list(store.listlocks())
    assert all(isinstance(n, bytes) for n in locks)
    assert {H1, H2} <= set(locks)
    assert store.remove_locks() == len(locks)
    assert list(store.listlocks()) == []
    assert not store.getlock(H1).is_locked()
    assert store.remove_locks() == 0


def test_locks_and_results_independent(store):
    store.getlock(H1).get()
    assert not store.can_load(H1)
    store.dump(1, H1)
    assert store.getlock(H1).is_locked()
    store.getlock(H1).release()
    assert store.load(H1) == 1
    assert H1 not in list(store.listlocks())


def test_cleanup(store):
    store.dump(1, H1)
    store.dump(2, H2)
    store.getlock(H1).get()
    before = set(store.list())
    removed = store.cleanup([FakeTask(H1)])
    assert removed == len(before) - 1
    assert set(store.list()) == {H1}
    assert store.load(H1) == 1
    assert not store.can_load(H2)
    assert list(store.listlocks()) == []


def test_cleanup_keeplocks(store):
    store.dump(1, H1)
    store.dump(2, H2)
    store.getlock(H2).get()
    assert store.cleanup([FakeTask(H1.decode())], keeplocks=True) >= 1
    assert set(store.list()) == {H1}
    assert store.getlock(H2).is_locked()


def test_metadata(store):
    store.dump(1, H1)
    meta = store.metadata(FakeTask(H1))
    assert meta is None or meta['computed'] is True
    meta = store.metadata(FakeTask(H2))
    assert meta is None or meta['computed'] is False


def test_remove_store(store):
    store.dump(1, H1)
    if isinstance(store, file_store):
        type(store).remove_store(store.jugdir)  # a static method: the whole jugdir
        assert not os.path.exists(store.jugdir)
        type(store).remove_store(store.jugdir)  # no error once it is gone
    else:
        assert type(store).remove_store('anything') is None  # the base class's no-op
        assert store.can_load(H1)


# --- memoize_store: the read-only half of the contract, over every store -------------------

@pytest.mark.parametrize('list_base', [False, True])
def test_memoize_reads_like_base(store, list_base):
    store.dump(1, H1)
    store.getlock(H2).get()
    store.getlock(H3).get()
    store.getlock(H3).fail()
    m = memoize_store(store, list_base=list_base)
    for h in (H1, H2, H3, H1.decode()):
        assert m.can_load(h) == bool(store.can_load(h))
        assert m.getlock(h).is_locked() == store.getlock(h).is_locked()
        assert m.getlock(h).is_failed() == store.getlock(h).is_failed()


def test_memoize_is_read_only(store):
    m = memoize_store(store, list_base=True)
    for call in (lambda: m.dump(1, H1), lambda: m.load(H1), lambda: m.list(),
                 lambda: m.listlocks(), lambda: m.remove(H1), lambda: m.remove_locks(),
                 lambda: m.cleanup([]), lambda: m.getlock(H1).get(),
                 lambda: m.getlock(H1).release(), lambda: m.getlock(H1).fail()):
        with pytest.raises(NotImplementedError):
            call()
    m.close()
    assert not store.can_load(H1)
