"""``jug status --failed``: the failed tasks and their errors, from locks and run records."""
import sys
import time

import pytest

import jug.task
from jug.backends.dict_store import dict_store
from jug.jug import init
from jug.options import parse
from jug.subcommands.status import status

#: 2024-01-02 03:04:05 UTC
WHEN = 1704164645.0

TRACEBACK = (
    'Traceback (most recent call last):\n'
    '  File "/site/jug/task.py", line 120, in run\n'
    '    self._result = self._execute()\n'
    '  File "simple.py", line 6, in square\n'
    '    raise ValueError("bad input")\n'
    'ValueError: bad input\n')


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Times in the output are local: make local time UTC."""
    monkeypatch.setenv('TZ', 'UTC')
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _record(t, status='failed', **changes):
    record = {'name': t.name, 'hash': t.hash().decode(), 'host': 'node1', 'pid': 42,
              'start': WHEN - 2, 'end': WHEN, 'duration': 2.0, 'peak_memory': 1 << 20,
              'status': status}
    if status == 'failed':
        record['error'] = {'type': 'ValueError', 'message': 'bad input',
                           'traceback': TRACEBACK}
    record.update(changes)
    return record


def _prepare(jug_options, jugdir=None):
    """Squares 0-4 done; 5 failed (record only); 6 failed (lock and record); 7 failed
    (lock, no record); 8 has an older successful record; 4 finished after a failure.

    Returns ``(options maker, store, the ten square tasks)``.
    """
    values = {} if jugdir is None else {'jugdir': jugdir}
    options = jug_options('simple', **values)
    store, _ = init(options.jugfile, options.jugdir)
    squares = jug.task.alltasks[:10]
    for t in squares[:5]:
        t.run()
    store.save_record(squares[4].hash(), _record(squares[4]))  # has a result: not failed
    store.save_record(squares[5].hash(), _record(squares[5]))
    store.save_record(squares[6].hash(), _record(squares[6], host='node2', pid=7,
                                                  end=WHEN + 60))
    for t in squares[6:8]:
        t.lock()
        t.fail()
    store.save_record(squares[8].hash(), _record(squares[8], status='finished'))
    del jug.task.alltasks[:]

    def make(**values):
        if jugdir is not None:
            values['jugdir'] = jugdir
        return jug_options('simple', **values)
    return make, store, squares


#: What plain ``jug status`` adds after the table for the tasks of :func:`_prepare`:
#: squares 5 and 6 failed in their last run (7 has a failed lock but no record).
NOTE = '2 tasks failed in their last run (jug status --failed lists them, with their errors).'


def _expected(squares, calls=True):
    """The ``--failed`` lines; each task shown with its argument unless read from the
    status cache (which keeps names, not tasks)."""
    h = [t.hash().decode()[:12] for t in squares]
    name = [f'simple.square({i})' if calls else 'simple.square' for i in range(10)]
    return [
        'Failed tasks: 3',
        f'{name[5]} {h[5]}: ValueError: bad input (on node1, pid 42, 2024-01-02 03:04:05)',
        '    File "simple.py", line 6, in square',
        '      raise ValueError("bad input")',
        f'{name[6]} {h[6]}: ValueError: bad input (on node2, pid 7, 2024-01-02 03:05:05)',
        '    File "simple.py", line 6, in square',
        '      raise ValueError("bad input")',
        f'{name[7]} {h[7]}: failed, but there is no run record of the failure',
    ]


@pytest.mark.parametrize('cache', [False, True], ids=['live', 'cache'])
def test_failed_lines(jug_options, cache):
    make, _, squares = _prepare(jug_options)
    plain = make(status_cache=cache)
    assert status(plain) == 1
    del jug.task.alltasks[:]
    options = make(status_failed=True, status_cache=cache)
    assert status(options) == 1
    out = options.print_out
    assert plain.print_out[-1] == NOTE  # plain status says that tasks failed...
    table = plain.print_out[:-1]
    assert out[:len(table)] == table  # ...--failed shows the usual table first
    assert out[len(table):] == _expected(squares, calls=not cache)
    assert out[len(table) - 2].split() == ['2', '4', '3', '5', '0', 'Total']
    if cache:  # the second call reads the cache (tables exist, jugfile not loaded)
        del jug.task.alltasks[:]
        again = make(status_failed=True, status_cache=True)
        assert status(again) == 1
        assert again.print_out == out


def test_failed_with_dict_store(jug_options):
    make, _, squares = _prepare(jug_options, jugdir=dict_store())
    options = make(status_failed=True, short=True)
    assert status(options) == 1
    assert options.print_out == (
        ['7 tasks waiting to be run, 2 failed, 5 complete, (none active).'] + _expected(squares))


def test_default_output_unchanged_by_records(jug_options):
    make, store, squares = _prepare(jug_options)
    with_records = make()
    status(with_records)
    store.remove_records([t.hash() for t in squares])
    assert store.list_records() == []
    del jug.task.alltasks[:]
    without = make()
    status(without)
    assert with_records.print_out == without.print_out + [NOTE]  # Jug 2.7's, then a note
    assert not any('Failed tasks' in line for line in with_records.print_out)


def test_no_failures(jug_options):
    options = jug_options('simple', status_failed=True, short=True)
    assert status(options) == 1
    assert options.print_out == [
        '14 tasks waiting to be run, 0 failed, 0 complete, (none active).', 'Failed tasks: 0']


def test_invalidated_failure_is_forgotten(jug_options):
    make, store, squares = _prepare(jug_options)
    store.remove_many([squares[5].hash()])  # what jug invalidate does
    options = make(status_failed=True, short=True)
    status(options)
    assert options.print_out[1] == 'Failed tasks: 2'


def test_option_parsing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', list(sys.argv))
    assert parse(['status']).status_failed is False
    assert parse(['status', '--failed']).status_failed is True


def test_end_to_end_after_jug_execute(run_jug, tmp_path):
    """A real ``jug execute --keep-going`` run, then ``jug status --failed`` in a new process."""
    import os
    import shutil
    from jugtest import JUGFILES
    shutil.copy(os.path.join(JUGFILES, 'failing.py'), tmp_path)
    execute = run_jug('execute', 'failing.py', '--keep-going', '--will-cite',
                      '--nr-wait-cycles', '0', timeout=60)
    assert execute.returncode == 1, execute.stderr
    proc = run_jug('status', 'failing.py', '--short', '--failed', TZ='UTC')
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == '6 tasks waiting to be run, 0 failed, 14 complete, (none active).'
    assert lines[1] == 'Failed tasks: 3'
    failures = lines[2:]
    assert len(failures) == 9  # per task: the summary line and the raising frame (2 lines)
    for x, (head, where, code) in zip((2, 5, 8), zip(*[iter(failures)] * 3)):
        assert head.startswith(f'failing.some_fail({x}) ')
        assert f': ValueError: failing on purpose for {x} (on {os.uname().nodename}, pid ' in head
        assert where.startswith('    File "')
        assert where.endswith('failing.py", line 8, in some_fail')
        assert code == "      raise ValueError(f'failing on purpose for {x}')"
