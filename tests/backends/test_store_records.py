"""The run-record contract of the stores: save/load/list, removal, cleanup, layout.

Every store that keeps records (file_store, file_store with a pack, dict_store) runs
the same tests; memoize_store reads through; the base class keeps no records.
"""
import json
import os

import pytest

import jug.backends.file_store as file_store_module
from jug.backends.base import base_store
from jug.backends.dict_store import dict_store
from jug.backends.file_store import file_store
from jug.backends.memoize_store import memoize_store

from store_helpers import H1, H2, H3, H_PACKED, FakeTask, packed_file_store

RECORD = {'name': 'jugfile.f', 'hash': H1.decode(), 'host': 'node1', 'pid': 42,
          'start': 100.5, 'end': 101.0, 'duration': 0.5, 'peak_memory': 1 << 20,
          'status': 'failed',
          'error': {'type': 'ValueError', 'message': 'bad ünïcödé',
                    'traceback': 'Traceback (most recent call last):\nValueError: bad\n'}}


class _generic_cleanup_store(dict_store):
    """A dict_store using the base class's generic cleanup (as a new store would)."""

    cleanup = base_store.cleanup


STORES = {
    'file': lambda tmp_path: file_store(str(tmp_path / 'jugdata')),
    'file-packed': packed_file_store,
    'dict': lambda tmp_path: dict_store(),
    'dict-generic-cleanup': lambda tmp_path: _generic_cleanup_store(),
}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path):
    s = STORES[request.param](tmp_path)
    yield s
    s.close()


def _damage(store, key, data: bytes):
    """Replace the stored form of `key`'s record by `data`."""
    if isinstance(store, file_store):
        with open(store._record_log(), 'wb') as f:  # the whole log of this process
            f.write(data)
        store._records = None
    else:
        store.records[key] = data


# --- save / load / list --------------------------------------------------------------------

def test_save_load_roundtrip(store):
    assert store.load_record(H1) is None
    store.save_record(H1, RECORD)
    assert store.load_record(H1) == RECORD
    assert store.load_record(H1.decode()) == RECORD  # str and bytes keys are the same
    assert store.load_record(H2) is None


def test_save_replaces(store):
    store.save_record(H1, RECORD)
    store.save_record(H1, {'status': 'finished'})
    assert store.load_record(H1) == {'status': 'finished'}
    assert list(store.list_records()) == [H1]


def test_list_records(store):
    assert list(store.list_records()) == []
    store.save_record(H2, RECORD)
    store.save_record(H1.decode(), RECORD)
    keys = list(store.list_records())
    assert sorted(keys) == [H1, H2]
    assert all(isinstance(k, bytes) for k in keys)


def test_records_are_not_results_nor_locks(store):
    store.save_record(H1, RECORD)
    assert not store.can_load(H1)
    assert H1 not in list(store.list())
    assert list(store.listlocks()) == []
    store.dump(1, H2)
    store.save_record(H2, RECORD)
    assert sorted(k for k in store.list() if k != H_PACKED) == [H2]
    assert store.load(H2) == 1
    assert store.remove_locks() == 0
    assert store.load_record(H1) == RECORD  # remove_locks leaves records alone


def test_non_json_values_do_not_raise(store):
    store.save_record(H1, {'odd': {1, 2}})
    assert store.load_record(H1) == {'odd': '{1, 2}'}


@pytest.mark.parametrize('data', [b'', b'{"name": "jugfile.f", "sta', b'\xff\xfe\x00',
                                  b'[1, 2, 3]', b'"a string"', b'null'],
                         ids=['empty', 'truncated', 'not-utf8', 'list', 'string', 'null'])
def test_damaged_record_is_none(store, data):
    store.save_record(H1, RECORD)
    _damage(store, H1, data)
    assert store.load_record(H1) is None
    if not isinstance(store, file_store):  # a damaged log line names no key
        assert list(store.list_records()) == [H1]  # still there: cleanup can remove it


# --- removal -------------------------------------------------------------------------------

def test_remove_deletes_record(store):
    store.dump(1, H1)
    store.save_record(H1, RECORD)
    store.save_record(H2, RECORD)  # a record without a result
    assert store.remove(H1) is True
    assert store.remove(H2) is False  # reports results only
    assert store.load_record(H1) is None and store.load_record(H2) is None
    assert list(store.list_records()) == []


def test_remove_many_deletes_records(store):
    store.dump(1, H1)
    for h in (H1, H2, H3):
        store.save_record(h, RECORD)
    assert store.remove_many([H1, H2]) == {H1}
    assert list(store.list_records()) == [H3]


def test_remove_records(store):
    store.dump(1, H1)
    store.save_record(H1, RECORD)
    store.remove_records([H1, H2])
    assert store.load_record(H1) is None
    assert store.can_load(H1)  # the result stays


def test_remove_of_packed_key_deletes_its_record(tmp_path):
    store = packed_file_store(tmp_path)
    store.save_record(H_PACKED, RECORD)
    store.update_pack()
    assert store.load_record(H_PACKED) == RECORD  # packing leaves records alone
    assert store.remove(H_PACKED) is True
    assert store.load_record(H_PACKED) is None


@pytest.mark.parametrize('keeplocks', [False, True])
def test_cleanup_keeps_records_of_active_and_does_not_count_records(store, keeplocks):
    store.dump(1, H1)
    store.dump(2, H2)
    store.save_record(H1, RECORD)  # active, with a result
    store.save_record(H2, RECORD)  # inactive, with a result
    store.save_record(H3, RECORD)  # active, failed (no result)
    store.getlock(H3).get()
    extra = 1 if store.can_load(H_PACKED) else 0  # the packed store's unrelated result
    assert store.cleanup([FakeTask(H1), FakeTask(H3)], keeplocks=keeplocks) == 1 + extra
    assert store.load_record(H1) == RECORD
    assert store.load_record(H3) == RECORD
    assert store.load_record(H2) is None
    assert sorted(store.list_records()) == [H1, H3]
    assert store.can_load(H1) and not store.can_load(H2)
    assert list(store.listlocks()) == ([H3] if keeplocks else [])


def test_cleanup_removes_records_without_results(store):
    store.save_record(H2, RECORD)
    extra = 1 if store.can_load(H_PACKED) else 0  # the packed store's unrelated result
    assert store.cleanup([FakeTask(H1)]) == extra
    assert list(store.list_records()) == []


# --- failure marks (what a worker reads before it runs a task) ----------------------------

FINISHED = {'name': 'jugfile.f', 'host': 'node2', 'pid': 7, 'start': 200.0, 'end': 201.0,
            'status': 'finished'}


def test_failure_mark_is_the_record_of_a_failed_run(store):
    assert store.failure_mark(H1) is None
    assert store.failure_marks() == {}
    store.save_record(H1, RECORD)
    store.save_record(H2, FINISHED)
    assert store.failure_mark(H1) == RECORD
    assert store.failure_mark(H1.decode()) == RECORD
    assert store.failure_mark(H2) is None
    assert store.failure_marks() == {H1: RECORD}


def test_failure_mark_is_cleared_after_a_successful_run(store):
    store.save_record(H1, RECORD)
    store.getlock(H1).get()
    store.commit('value', H1, FINISHED)
    store.clear_failure_mark(H1)
    assert store.failure_mark(H1) is None
    assert store.failure_marks() == {}
    assert store.load_record(H1) == FINISHED
    store.clear_failure_mark(H2)  # no mark: no error


@pytest.mark.parametrize('how', ['remove', 'remove_many', 'remove_records', 'cleanup'])
def test_failure_mark_goes_with_the_record(store, how):
    store.save_record(H1, RECORD)
    store.save_record(H2, RECORD)
    if how == 'cleanup':
        store.cleanup([FakeTask(H2)])
    else:
        getattr(store, how)([H1] if how != 'remove' else H1)
    assert store.failure_mark(H1) is None
    assert store.failure_marks() == {H2: RECORD}


def test_a_store_without_records_has_no_failure_marks():
    plain = base_store()
    plain.save_record(H1, RECORD)
    assert plain.failure_marks() == {}
    assert plain.failure_mark(H1) is None


# --- dict_store specifics ----------------------------------------------------------------------

def test_dict_store_entries_and_counts():
    store = dict_store()
    store.dump(1, H1)
    store.save_record(H1, RECORD)
    assert json.loads(store.records[H1]) == RECORD
    store.counts.clear()
    assert store.remove(H1) is True
    # remove counts exactly as before records existed (see docs/failures.rst)
    assert dict(store.counts) == {b'del:' + H1: 1, b'exists:' + H1: 1, b'true-del:' + H1: 1}
    store.counts.clear()
    store.save_record(H2, RECORD)
    store.load_record(H2)
    assert dict(store.counts) == {b'save-record:' + H2: 1, b'load-record:' + H2: 1}


def test_dict_store_backend_file_keeps_records(tmp_path):
    fname = str(tmp_path / 'state.pickle')
    store = dict_store(fname)
    store.save_record(H1, RECORD)
    store.close()
    assert dict_store(fname).load_record(H1) == RECORD


# --- file_store specifics ----------------------------------------------------------------------

def test_file_store_failure_mark_layout(tmp_path):
    store = file_store(str(tmp_path / 'jugdata'))
    store.save_record(H1, RECORD)
    mark = tmp_path / 'jugdata' / 'records' / 'failed' / (H1.decode() + '.json')
    assert json.loads(mark.read_bytes()) == {'key': H1.decode(), 'record': RECORD}
    assert sorted(store.list_records()) == [H1]  # the log has the record too
    mark.write_bytes(b'{"key": "damaged')
    assert store.failure_mark(H1) is None
    assert store.failure_marks() == {}

def test_file_layout(tmp_path):
    """One log per worker process, one JSON line (key and record) per run."""
    store = file_store(str(tmp_path / 'jugdata'))
    store.save_record(H1, RECORD)
    store.save_record(H2, {'status': 'finished'})
    path = tmp_path / 'jugdata' / 'records' / f'{os.uname().nodename}-{os.getpid()}.jsonl'
    assert store._record_log() == str(path)
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert lines == [{'key': H1.decode(), 'record': RECORD},
                     {'key': H2.decode(), 'record': {'status': 'finished'}}]
    assert not os.path.exists(tmp_path / 'jugdata' / 'tempfiles') or \
        os.listdir(tmp_path / 'jugdata' / 'tempfiles') == []


def test_records_of_other_workers_and_half_lines(tmp_path):
    store = file_store(str(tmp_path / 'jugdata'))
    store.save_record(H1, dict(RECORD, end=1.0))
    other = tmp_path / 'jugdata' / 'records' / 'otherhost-1.jsonl'
    newer = dict(RECORD, end=2.0, status='failed')
    other.write_bytes(json.dumps({'key': H1.decode(), 'record': newer}).encode() + b'\n'
                      + b'{"key": "' + H2[:10])  # a worker killed while appending
    reader = file_store(str(tmp_path / 'jugdata'))
    assert reader.load_record(H1) == newer  # the newest run wins
    assert reader.list_records() == [H1]
    reader.remove_records([H1])
    assert file_store(str(tmp_path / 'jugdata')).list_records() == []


def test_nothing_created_without_records(tmp_path):
    jugdir = tmp_path / 'jugdata'
    store = file_store(str(jugdir))
    assert store.load_record(H1) is None
    assert store.list_records() == []
    store.remove_records([H1])
    assert not jugdir.exists()
    store.dump(1, H1)
    store.remove(H1)
    store.remove_many([H2])
    store.cleanup([FakeTask(H1)])
    assert store.metadata(FakeTask(H1)) == {'computed': False}
    assert not (jugdir / 'records').exists()


def test_save_record_does_not_fsync(tmp_path, monkeypatch):
    store = file_store(str(tmp_path / 'jugdata'))
    calls = []
    monkeypatch.setattr(os, 'fsync', lambda fd: calls.append('fsync'))
    monkeypatch.setattr(file_store_module, 'fsync_dir', lambda f: calls.append('dir'))
    store.save_record(H1, RECORD)
    assert calls == []
    store.dump(1, H1)  # results stay durable
    assert calls == ['fsync', 'dir']


def test_failed_rewrite_leaves_the_log_intact(tmp_path, monkeypatch):
    store = file_store(str(tmp_path / 'jugdata'))
    store.save_record(H1, RECORD)
    store.save_record(H2, RECORD)

    def failing_rename(src, dst):
        raise OSError('disk on fire')
    monkeypatch.setattr(os, 'rename', failing_rename)
    with pytest.raises(OSError, match='disk on fire'):
        store.remove_records([H1])
    assert os.listdir(tmp_path / 'jugdata' / 'tempfiles') == []
    assert file_store(str(tmp_path / 'jugdata')).load_record(H1) == RECORD


def test_list_ignores_stray_files(tmp_path):
    store = file_store(str(tmp_path / 'jugdata'))
    store.save_record(H1, RECORD)
    records = tmp_path / 'jugdata' / 'records'
    (records / 'notes.txt').write_text('{"key": "x", "record": {}}')  # not a log
    (records / 'sub').mkdir()
    with open(store._record_log(), 'ab') as log:
        log.write(b'garbage\n[1, 2]\n{"key": 3, "record": {}}\n')
    assert file_store(str(tmp_path / 'jugdata')).list_records() == [H1]


def test_list_and_update_pack_ignore_records(tmp_path):
    store = file_store(str(tmp_path / 'jugdata'))
    store.save_record(H1, RECORD)
    assert store.list() == []
    assert store.update_pack() == 0
    assert store.load_record(H1) == RECORD


def test_cleanup_keeps_active_records_in_the_directory_walk(tmp_path):
    # cleanup walks the jugdir deleting what is not an active result: records must be
    # judged by their own rule, not deleted (and counted) as stray files
    store = file_store(str(tmp_path / 'jugdata'))
    store.dump(1, H1)
    store.save_record(H1, RECORD)
    store.save_record(H2, RECORD)
    assert store.cleanup([FakeTask(H1), FakeTask(H2)]) == 0
    assert sorted(store.list_records()) == [H1, H2]


def test_metadata_has_record_only_when_present(tmp_path):
    store = file_store(str(tmp_path / 'jugdata'))
    store.dump(1, H1)
    meta = store.metadata(FakeTask(H1))
    assert set(meta) == {'computed', 'completed'}
    store.save_record(H1, RECORD)
    assert store.metadata(FakeTask(H1)) == dict(meta, record=RECORD)
    store.save_record(H2, RECORD)
    assert store.metadata(FakeTask(H2)) == {'computed': False, 'record': RECORD}


# --- memoize_store and the base class ----------------------------------------------------------

def test_memoize_store_reads_through():
    base = dict_store()
    base.save_record(H1, RECORD)
    memo = memoize_store(base, list_base=True)
    base.save_record(H2, {'status': 'finished'})  # not cached: seen at once
    assert memo.load_record(H1) == RECORD
    assert memo.load_record(H2) == {'status': 'finished'}
    assert sorted(memo.list_records()) == [H1, H2]
    with pytest.raises(NotImplementedError):
        memo.save_record(H1, RECORD)
    with pytest.raises(NotImplementedError):
        memo.remove_records([H1])


def test_base_store_keeps_no_records():
    class minimal(base_store):
        pass
    s = minimal()
    assert s.save_record(H1, RECORD) is None
    assert s.load_record(H1) is None
    assert s.list_records() == []
    assert s.remove_records([H1]) is None
