"""Run records in redis_store: the store-independent tests of test_store_records.py, run
on a real server, plus the redis layout (``record:<key>``, JSON)."""
import json

import pytest

from jug.backends.memoize_store import memoize_store
from jug.backends.redis_store import redis_store

from store_helpers import H1, H2, FakeTask
# The record contract's tests that take a `store` (re-run here with the fixture below).
from test_store_records import (  # noqa: F401
    RECORD,
    test_cleanup_keeps_records_of_active_and_does_not_count_records,
    test_cleanup_removes_records_without_results,
    test_failure_mark_goes_with_the_record,
    test_failure_mark_is_cleared_after_a_successful_run,
    test_failure_mark_is_the_record_of_a_failed_run,
    test_list_records,
    test_non_json_values_do_not_raise,
    test_records_are_not_results_nor_locks,
    test_remove_deletes_record,
    test_remove_many_deletes_records,
    test_remove_records,
    test_save_load_roundtrip,
    test_save_replaces,
)


@pytest.fixture
def store(redis_url):
    s = redis_store(redis_url)
    yield s
    s.close()


def test_layout(store):
    store.save_record(H1.decode(), RECORD)
    assert json.loads(store.redis.get(b'record:' + H1)) == RECORD
    assert store.list_records() == [H1]


@pytest.mark.parametrize('data', [b'', b'{"name": "jugfile.f", "sta', b'\xff\xfe\x00',
                                  b'[1, 2, 3]', b'"a string"', b'null'],
                         ids=['empty', 'truncated', 'not-utf8', 'list', 'string', 'null'])
def test_damaged_record_is_none(store, data):
    store.save_record(H1, RECORD)
    store.redis.set(b'record:' + H1, data)
    assert store.load_record(H1) is None
    assert store.list_records() == [H1]  # still there: cleanup can remove it
    store.cleanup([FakeTask(H2)])
    assert store.list_records() == []


def test_memoize_store_reads_records_through(store):
    store.save_record(H1, RECORD)
    memo = memoize_store(store, list_base=True)
    assert memo.load_record(H1) == RECORD
    assert memo.list_records() == [H1]


def test_failure_mark_layout(store):
    store.save_record(H1, RECORD)
    assert json.loads(store.redis.get(b'failure:' + H1)) == RECORD
    store.getlock(H1).get()
    store.commit(1, H1, {'status': 'finished'})
    assert store.redis.get(b'failure:' + H1) is None  # commit deletes it
