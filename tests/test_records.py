"""jug.records: building run records, describing them, and finding failed tasks."""
import json
import os
import resource
import sys
import time

import pytest

import jug.records as records
from jug.backends.dict_store import dict_store
from jug.records import (find_failed, finish_record, format_failure, format_record,
                         start_record, traceback_tail)
from jug.task import Task

KEY = b'0123456789abcdef0123456789abcdef01234567'
KEY2 = b'fedcba9876543210fedcba9876543210fedcba98'
KEY3 = b'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'

TRACEBACK = (
    'Traceback (most recent call last):\n'
    '  File "/site/jug/task.py", line 120, in run\n'
    '    self._result = self._execute()\n'
    '                   ^^^^^^^^^^^^^^^\n'
    '  File "jugfile.py", line 6, in square\n'
    '    raise ValueError("bad input")\n'
    'ValueError: bad input\n')

#: 2024-01-02 03:04:05 UTC
WHEN = 1704164645.25


def failed_record(**changes):
    record = {'name': 'jugfile.square', 'hash': KEY.decode(), 'host': 'node1', 'pid': 42,
              'start': WHEN - 1.5, 'end': WHEN, 'duration': 1.5, 'peak_memory': 3 << 20,
              'status': 'failed',
              'error': {'type': 'ValueError', 'message': 'bad input', 'traceback': TRACEBACK}}
    record.update(changes)
    return record


@pytest.fixture
def utc(monkeypatch):
    """Run the test with local time = UTC (times in the output are local)."""
    monkeypatch.setenv('TZ', 'UTC')
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class FakeTask:
    name = 'jugfile.square'

    def __init__(self, key=KEY):
        self.key = key

    def hash(self):
        return self.key


class CustomError(Exception):
    class Inner(Exception):
        pass


def _raise(error):
    raise error


def _caught(error):
    try:
        _raise(error)
    except BaseException as e:
        return e


# --- start_record / finish_record ----------------------------------------------------------

@pytest.mark.parametrize('key', [KEY, KEY.decode()], ids=['bytes', 'str'])
def test_start_record(key):
    before = time.time()
    record = start_record(FakeTask(key))
    assert record == {'name': 'jugfile.square', 'hash': KEY.decode(),
                      'host': os.uname().nodename, 'pid': os.getpid(),
                      'start': record['start']}
    assert before <= record['start'] <= time.time()


def test_finish_record_success():
    record = start_record(FakeTask())
    assert finish_record(record) is record
    assert record['status'] == 'finished'
    assert 'error' not in record
    assert record['start'] <= record['end'] <= time.time()
    assert record['duration'] == record['end'] - record['start']
    assert set(record) == {'name', 'hash', 'host', 'pid', 'start', 'end', 'duration',
                           'peak_memory', 'status'}
    assert json.loads(json.dumps(record)) == record


def test_peak_memory_in_bytes():
    expected = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform != 'darwin':
        expected *= 1024
    record = finish_record(start_record(FakeTask()))
    assert record['peak_memory'] >= expected > 10 ** 6  # a Python process uses > 1 MB


def test_peak_memory_macos_and_missing_resource(monkeypatch):
    raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    monkeypatch.setattr(sys, 'platform', 'darwin')
    assert raw <= records.peak_memory() < raw * 1024  # bytes already: not multiplied
    monkeypatch.setattr(records, 'resource', None)
    assert finish_record(start_record(FakeTask()))['peak_memory'] is None


def test_finish_record_with_error():
    error = _caught(ValueError('bad input'))
    record = finish_record(start_record(FakeTask()), error)
    assert record['status'] == 'failed'
    assert record['error']['type'] == 'ValueError'
    assert record['error']['message'] == 'bad input'
    text = record['error']['traceback']
    assert text.startswith('Traceback (most recent call last):\n')
    assert 'in _raise' in text and text.endswith('ValueError: bad input\n')
    assert json.loads(json.dumps(record)) == record


def test_error_type_is_qualified():
    record = finish_record(start_record(FakeTask()), _caught(CustomError.Inner('x')))
    assert record['error']['type'] == f'{__name__}.CustomError.Inner'
    record = finish_record(start_record(FakeTask()), _caught(KeyError('k')))
    assert record['error'] == dict(record['error'], type='KeyError', message="'k'")


def test_unprintable_error_is_recorded():
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError('no')
    record = finish_record(start_record(FakeTask()), _caught(Unprintable()))
    assert record['error']['message'] == '<unprintable Unprintable object>'


def test_error_from_a_real_task_points_at_the_task_function():
    def square(x):
        raise ValueError(f'bad input {x}')
    Task.store = dict_store()
    t = Task(square, 3)
    record = start_record(t)
    assert record['name'] == t.name and record['hash'] == t.hash().decode()
    try:
        t.run()
    except ValueError as e:
        finish_record(record, e)
    tail = traceback_tail(record)
    assert tail[0].startswith(f'File "{__file__}", line ') and tail[0].endswith(', in square')
    assert tail[1:] == ["  raise ValueError(f'bad input {x}')"]


# --- describing records ------------------------------------------------------------------------

def test_traceback_tail():
    assert traceback_tail(failed_record()) == ['File "jugfile.py", line 6, in square',
                                               '  raise ValueError("bad input")']
    assert traceback_tail({}) == []
    assert traceback_tail({'error': 'not a dict'}) == []
    assert traceback_tail({'error': {'traceback': 'no frames here'}}) == []


def test_format_record_failed(utc):
    assert format_record(failed_record()).split('\n') == [
        'jugfile.square 0123456789ab: failed',
        '  ran on node1, pid 42, from 2024-01-02 03:04:03 to 2024-01-02 03:04:05 (1.500 s)',
        '  peak memory of the worker: 3.0 MiB',
        '  error: ValueError: bad input',
        '    File "jugfile.py", line 6, in square',
        '      raise ValueError("bad input")',
    ]


def test_format_record_finished(utc):
    record = failed_record(status='finished', peak_memory=512)
    del record['error']
    assert format_record(record).split('\n') == [
        'jugfile.square 0123456789ab: finished',
        '  ran on node1, pid 42, from 2024-01-02 03:04:03 to 2024-01-02 03:04:05 (1.500 s)',
        '  peak memory of the worker: 512 bytes',
    ]


def test_format_record_tolerates_incomplete_records():
    assert format_record({}).split('\n') == [
        '? ?: ?', '  ran on ?, pid ?, from ? to ? (? s)', '  peak memory of the worker: unknown']
    assert format_record({'start': 'soon', 'peak_memory': None, 'error': {}})


def test_format_failure(utc):
    assert format_failure('jugfile.square', KEY, failed_record()) == [
        'jugfile.square 0123456789ab: ValueError: bad input (on node1, pid 42, '
        '2024-01-02 03:04:05)',
        '    File "jugfile.py", line 6, in square',
        '      raise ValueError("bad input")',
    ]


def test_format_failure_multiline_message_and_no_traceback(utc):
    record = failed_record(error={'type': 'mod.Oops', 'message': 'first\nsecond'})
    assert format_failure('jugfile.square', KEY.decode(), record) == [
        'jugfile.square 0123456789ab: mod.Oops: first ... (on node1, pid 42, '
        '2024-01-02 03:04:05)']


def test_format_failure_without_record():
    assert format_failure('jugfile.square', KEY, None) == [
        'jugfile.square 0123456789ab: failed, but there is no run record of the failure']


# --- find_failed ----------------------------------------------------------------------------------

def test_find_failed():
    store = dict_store()
    store.save_record(KEY, failed_record())            # failed, lock released
    store.getlock(KEY2).get()
    store.getlock(KEY2).fail()                          # failed lock, no record
    store.save_record(KEY3, failed_record(status='finished'))
    store.getlock(KEY3).get()                           # running, older finished record
    unfinished = [('a', KEY3), ('b', KEY2), ('c', KEY), ('c', KEY)]
    assert find_failed(store, unfinished) == [('b', KEY2, None),
                                              ('c', KEY, failed_record())]


def test_find_failed_lock_failed_and_older_successful_record():
    store = dict_store()
    store.save_record(KEY, failed_record(status='finished'))
    store.getlock(KEY).get()
    store.getlock(KEY).fail()
    assert find_failed(store, [('a', KEY.decode())]) == [('a', KEY, None)]


def test_find_failed_damaged_record():
    store = dict_store()
    store.records[KEY] = b'{"status": "fail'
    assert find_failed(store, [('a', KEY)]) == []


def test_find_failed_loads_only_records_that_exist():
    store = dict_store()
    store.save_record(KEY, failed_record())
    store.counts.clear()
    find_failed(store, [('a', KEY), ('b', KEY2), ('c', KEY3)])
    assert [k for k in store.counts if k.startswith(b'load-record:')] == [b'load-record:' + KEY]


def test_describe_call_is_short_and_names_task_arguments():
    from jug.records import CALL_WIDTH, describe_call
    from jug.task import Task

    def load(path):
        return path

    def process(image, threshold=0.5, names=()):
        return image
    image = Task(load, 'img3.png')
    t = Task(process, image, threshold=0.25, names=list(range(100)))
    text = describe_call(t)
    assert text.startswith(f'{t.name}({image.name}(...), threshold=0.25, names=[0, 1, 2, 3, ...]')
    assert describe_call(image) == f"{image.name}('img3.png')"
    assert describe_call(Task(process, image[0])) == f'{t.name}({image.name}(...))'  # Tasklet
    cut = describe_call(Task(process, 'x' * 500))  # reprlib cuts the string itself
    assert len(cut) < 100 and "'xxx" in cut and "...xxx" in cut
    many = describe_call(Task(process, *['y' * 30] * 5))  # the whole is cut
    assert len(many) == CALL_WIDTH and many.endswith('...)')
