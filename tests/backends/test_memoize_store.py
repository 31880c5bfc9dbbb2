"""memoize_store: cached queries for jug status (docs/architecture.rst)."""
from jug.backends.dict_store import dict_store
from jug.backends.file_store import file_store
from jug.backends.memoize_store import cache_lock, memoize_store

H1 = b'0123456789abcdef0123456789abcdef01234567'
H2 = b'fedcba9876543210fedcba9876543210fedcba98'


def test_can_load_is_cached():
    base = dict_store()
    base.dump(1, H1)
    m = memoize_store(base)
    for _ in range(3):
        assert m.can_load(H1) is True
        assert m.can_load(H2) is False
    assert base.counts[b'exists:' + H1] == 1
    assert base.counts[b'exists:' + H2] == 1
    base.remove(H1)
    assert m.can_load(H1) is True  # cached


def test_list_base_queries_listing_once():
    base = dict_store()
    base.dump(1, H1)
    base.getlock(H2).get()
    base.counts.clear()
    m = memoize_store(base, list_base=True)
    assert m.can_load(H1)
    assert not m.can_load(H2)
    assert m.can_load(H1.decode())
    assert m.getlock(H2).is_locked()
    assert not m.getlock(H1).is_locked()
    assert not m.getlock(H1).is_failed()
    assert dict(base.counts) == {}  # everything came from the two listings


def test_lock_queries_cached_without_listing():
    base = dict_store()
    base.getlock(H1).get()
    base.getlock(H1).fail()
    m = memoize_store(base)
    lock = m.getlock(H1)
    assert isinstance(lock, cache_lock)
    for _ in range(3):
        assert lock.is_locked()
        assert lock.is_failed()
        assert m.getlock(H1).is_failed()
    assert base.counts[b'islock:lock:' + H1] == 1
    assert base.counts[b'isfail:lock:' + H1] == 1


def test_failed_lock_with_listing(tmp_path):
    base = file_store(str(tmp_path / 'jd'))
    base.getlock(H1).get()
    base.getlock(H1).fail()
    m = memoize_store(base, list_base=True)
    assert m.getlock(H1).is_locked()
    assert m.getlock(H1).is_failed()
    assert not m.getlock(H2).is_failed()


def test_base_without_listing():
    class Minimal:
        def can_load(self, name):
            return name == H1

        def list(self):
            raise NotImplementedError

    m = memoize_store(Minimal(), list_base=True)
    assert m.keys is None and m.locks is None
    assert m.can_load(H1) and not m.can_load(H2)


def test_task_is_locked_through_memoize(tmp_path):
    # a lock taken on the base store is seen through the cache, with real tasks
    import jug.task
    from jug.task import Task

    for base in (dict_store(), file_store(str(tmp_path / 'jd'))):
        jug.task.Task.store = base
        t = Task(sorted, [3, 1, 2])
        t.lock()
        jug.task.Task.store = memoize_store(base, list_base=True)
        assert t.is_locked()
        assert Task(sorted, [3, 1, 2]).is_locked()
        assert not Task(sorted, [1]).is_locked()
        jug.task.Task.store = base
        t.unlock()
