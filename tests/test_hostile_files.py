"""Bad or hostile files under a jugdir give one clear line, never a hang or a write
through a link (docs/failures.rst).

A jugdir may be shared with careless or hostile people and programs.  Each test plants
something that is not what jug wrote where the file store looks (a FIFO, a symbolic
link, a damaged pack, a graph of tasks with a cycle) and checks what the real ``jug``
command does about it:

* a FIFO or a link in place of a *lock* is a stale lock: it is taken over, nothing
  blocks, nothing is written through the link;
* a FIFO or a link in place of a *result* file, and a damaged, FIFO or linked *pack*,
  are refused with exactly one ``jug: error:`` line (no traceback, no hang);
* a link or a FIFO planted in ``records/`` (as a worker's own log, another worker's
  log or a failure mark) is neither written through, nor waited for, nor believed;
* tasks that depend on each other in a cycle are reported in one line naming the
  cycle (and ``jug.walks`` raises :class:`jug.errors.DependencyCycleError`), while a
  long chain without a cycle still sorts.

Every ``jug`` subprocess runs with a timeout: a hang fails the test.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from jug import TaskGenerator
from jug.backends.file_store import file_store
from jug.errors import DependencyCycleError
from jug.jug import init
from jug.task import Task, topological_sort
from jug.walks import downstream, recursive_dependencies
from jugtest import files_in, jug_command, jug_env

#: Upper bound for one jug subprocess: far more than it needs, so only a hang reaches it.
TIMEOUT = 30

#: The jugfile of most tests: ``jf.add`` needs the value of ``jf.double``.
TWO_TASKS = textwrap.dedent('''
    from jug import TaskGenerator

    @TaskGenerator
    def double(x):
        return 2 * x

    @TaskGenerator
    def add(x, y):
        return x + y

    a = double(3)
    b = add(a, 1)
''')

#: Bytes that no decoder takes for a pack (nor for a zlib stream).
GARBAGE = bytes(range(7, 256, 3)) * 8


def _jug(cwd, *args):
    """Run ``jug *args`` in `cwd` (with a timeout); return the CompletedProcess."""
    return subprocess.run(jug_command(*args), cwd=cwd, env=jug_env(), capture_output=True,
                          text=True, timeout=TIMEOUT)


def _setup(tmp_path, source=TWO_TASKS):
    """Write `source` as ``jf.py`` in `tmp_path`; return ``(jugdir, {name: hash})``.

    The jugdir is ``jf.jugdata`` (the default for ``jf.py``), as a relative path: the
    paths in jug's messages are relative to the directory it runs in.
    """
    (tmp_path / 'jf.py').write_text(source)
    _, ns = init(str(tmp_path / 'jf.py'), str(tmp_path / 'jf.jugdata'))
    hashes = {name: t.hash().decode() for name, t in ns.items() if isinstance(t, Task)}
    return 'jf.jugdata', hashes


def _result_path(jugdir, key):
    return os.path.join(jugdir, key[:2], key[2:])


def _lock_path(jugdir, key):
    return os.path.join(jugdir, 'locks', key + '.lock')


def _no_traceback(proc):
    assert 'Traceback' not in proc.stderr, proc.stderr
    assert 'Traceback' not in proc.stdout, proc.stdout


def _the_error_line(proc):
    """The one ``jug: error:`` line of a failed run (which must have exactly one)."""
    _no_traceback(proc)
    assert proc.returncode != 0, proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith('jug: error:')]
    assert len(errors) == 1, proc.stderr
    assert proc.stderr.splitlines()[-1] == errors[0], proc.stderr
    return errors[0]


def _only_error_line(proc):
    """Like :func:`_the_error_line`, but stderr must hold nothing else."""
    line = _the_error_line(proc)
    assert proc.stderr.splitlines() == [line], proc.stderr
    return line


# --- locks ---------------------------------------------------------------------------------

def test_fifo_in_place_of_a_lock_is_taken_over(tmp_path):
    """A FIFO at a task's lock name: opening it must not block (O_NONBLOCK), and it is
    a stale lock (jug never writes one), which the worker takes over with a warning."""
    jugdir, hashes = _setup(tmp_path)
    lock = tmp_path / _lock_path(jugdir, hashes['a'])
    lock.parent.mkdir(parents=True)
    os.mkfifo(lock)

    short = _jug(tmp_path, 'status', '--short', 'jf.py')
    _no_traceback(short)
    assert '1 locked by workers that are gone (stale' in short.stdout, short.stdout

    executed = _jug(tmp_path, 'execute', '--will-cite', 'jf.py')
    _no_traceback(executed)
    assert executed.returncode == 0, executed.stderr
    assert (f'Took over the stale lock {_lock_path(jugdir, hashes["a"])}: it is not a '
            'regular file') in executed.stderr
    assert not os.path.lexists(lock)
    assert files_in(tmp_path / jugdir / 'locks') == []
    checked = _jug(tmp_path, 'check', 'jf.py')
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_symlink_in_place_of_a_lock_is_replaced_not_followed(tmp_path):
    """A symbolic link at a lock's name is a stale lock too: it is removed (the link,
    not its target) and the task runs; the file it points at is left as it was."""
    jugdir, hashes = _setup(tmp_path)
    target = tmp_path / 'precious.txt'
    target.write_text('PID 1 on HOSTNAME elsewhere\nnot a lock of this jugdir\n')
    lock = tmp_path / _lock_path(jugdir, hashes['a'])
    lock.parent.mkdir(parents=True)
    os.symlink(target, lock)

    executed = _jug(tmp_path, 'execute', '--will-cite', 'jf.py')
    _no_traceback(executed)
    assert executed.returncode == 0, executed.stderr
    assert 'Took over the stale lock' in executed.stderr
    assert target.read_text() == 'PID 1 on HOSTNAME elsewhere\nnot a lock of this jugdir\n'
    assert not os.path.lexists(lock)
    assert _jug(tmp_path, 'check', 'jf.py').returncode == 0


# --- result files --------------------------------------------------------------------------

@pytest.mark.parametrize('kind', ['fifo', 'symlink'])
def test_result_file_that_is_not_a_regular_file(tmp_path, kind):
    """``jf.double``'s result replaced by a FIFO (reading would block forever) or by a
    link to a copy of the genuine result (loading would work, through the link): the
    task ``jf.add``, which needs it, cannot run, and ``jug execute`` says why in one
    line naming the file."""
    jugdir, hashes = _setup(tmp_path)
    assert _jug(tmp_path, 'execute', '--will-cite', 'jf.py').returncode == 0
    result = tmp_path / _result_path(jugdir, hashes['a'])
    os.unlink(tmp_path / _result_path(jugdir, hashes['b']))  # jf.add must run again
    copy = tmp_path / 'copy-of-result'
    shutil.copyfile(result, copy)
    os.unlink(result)
    if kind == 'fifo':
        os.mkfifo(result)
        reason = 'it is not a regular file'
    else:
        os.symlink(copy, result)
        reason = 'it is a symbolic link'

    executed = _jug(tmp_path, 'execute', '--will-cite', 'jf.py')
    line = _the_error_line(executed)
    assert executed.returncode == 1
    assert (f'cannot load the result file {_result_path(jugdir, hashes["a"])}: {reason}; '
            'remove it') in line, line
    assert 'jf.double' in line  # the task whose result it is
    assert not os.path.exists(tmp_path / _result_path(jugdir, hashes['b']))
    assert files_in(tmp_path / jugdir / 'locks') == []  # jf.add's lock was released
    assert os.path.lexists(result)  # left for the user to look at


# --- run records -----------------------------------------------------------------------------

#: Run as ``python -c DRIVER jugdir kind target``: plant a symbolic link to `target`
#: (or a FIFO), named as this very process's log of run records, then run ``jug
#: execute`` in this process.
DRIVER = textwrap.dedent('''
    import os
    import sys

    jugdir, kind, target = sys.argv[1:]
    os.makedirs(os.path.join(jugdir, 'records'))
    log = os.path.join(jugdir, 'records', f'{os.uname().nodename}-{os.getpid()}.jsonl')
    if kind == 'symlink':
        os.symlink(target, log)
    else:
        os.mkfifo(log)
    import jug.jug
    jug.jug.main(['jug', 'execute', '--will-cite', 'jf.py'])
''')


@pytest.mark.parametrize('kind, reason', [('symlink', 'symbolic link'),
                                          ('fifo', 'not a regular file')],
                         ids=['symlink', 'fifo'])
def test_the_workers_own_record_log_is_not_a_regular_file(tmp_path, kind, reason):
    """A link (or a FIFO: appending to it would block) planted where the worker appends
    its run records: the records are not written (through the link) but the tasks run
    and their results are stored; each record lost is one warning line."""
    jugdir, hashes = _setup(tmp_path)
    target = tmp_path / 'precious.txt'
    target.write_bytes(b'my own data\n')
    driven = subprocess.run([sys.executable, '-c', DRIVER, jugdir, kind, str(target)],
                            cwd=tmp_path, env=jug_env(), capture_output=True, text=True,
                            timeout=TIMEOUT)
    _no_traceback(driven)
    assert driven.returncode == 0, driven.stderr
    assert target.read_bytes() == b'my own data\n'
    (log,) = [n for n in files_in(tmp_path / jugdir / 'records') if n.endswith('.jsonl')]
    # still what was planted (a rename would have replaced it by a regular file)
    assert not stat.S_ISREG(os.lstat(tmp_path / jugdir / 'records' / log).st_mode)

    warnings = [line for line in driven.stderr.splitlines()
                if 'Could not save the run record of' in line]
    assert len(warnings) == 2, driven.stderr
    for (name, key), line in zip([('double', hashes['a']), ('add', hashes['b'])], warnings):
        assert f'of {key}:' in line or f'of task jf.{name}:' in line, line
        assert reason in line and log in line, line
    assert 'jug: error:' not in driven.stderr

    checked = _jug(tmp_path, 'check', 'jf.py')
    assert checked.returncode == 0, checked.stdout + checked.stderr
    store = file_store(str(tmp_path / jugdir))
    assert store.load(hashes['b']) == 7
    assert store.list_records() == []


def _failed_record(key, name):
    """A log line saying that the task `key` failed, in another worker."""
    return json.dumps({'key': key, 'record': {
        'name': name, 'hash': key, 'host': 'elsewhere', 'pid': 1, 'start': 1000.0,
        'end': 1001.0, 'duration': 1.0, 'status': 'failed',
        'error': {'type': 'ValueError', 'message': 'planted', 'traceback': ''}}}) + '\n'


@pytest.mark.parametrize('kind', ['regular', 'symlink', 'fifo'])
def test_record_log_of_another_worker_that_is_not_a_regular_file(tmp_path, kind):
    """Another worker's log saying ``jf.double`` failed: as a regular file, ``jug status
    --failed`` lists the failure (the control); as a link to such a file, it is not
    read; as a FIFO, it is skipped without waiting."""
    jugdir, hashes = _setup(tmp_path)
    records = tmp_path / jugdir / 'records'
    records.mkdir(parents=True)
    outside = tmp_path / 'failure.jsonl'
    outside.write_text(_failed_record(hashes['a'], 'jf.double'))
    log = records / 'elsewhere-1.jsonl'
    if kind == 'regular':
        shutil.copyfile(outside, log)
    elif kind == 'symlink':
        os.symlink(outside, log)
    else:
        os.mkfifo(log)

    status = _jug(tmp_path, 'status', '--failed', 'jf.py')
    _no_traceback(status)
    assert status.returncode == 1
    if kind == 'regular':
        assert 'Failed tasks: 1' in status.stdout.splitlines(), status.stdout
        assert 'ValueError: planted' in status.stdout
    else:
        assert 'Failed tasks: 0' in status.stdout.splitlines(), status.stdout
        assert 'planted' not in status.stdout


#: ``plant`` runs first and plants a failure mark for ``victim`` (which needs its value),
#: as another worker would on a failure: a copy of a record, or (hostile) a link to one,
#: or a FIFO.
PLANT = textwrap.dedent('''
    import os
    import shutil
    from jug import TaskGenerator
    import jug.task

    KIND = {kind!r}

    @TaskGenerator
    def plant(x):
        failed = os.path.join('jf.jugdata', 'records', 'failed')
        os.makedirs(failed, exist_ok=True)
        for t in jug.task.alltasks:
            if t.name == 'jf.victim':
                mark = os.path.join(failed, t.hash().decode() + '.json')
                if KIND == 'symlink':
                    os.symlink(os.path.abspath('failure.json'), mark)
                elif KIND == 'fifo':
                    os.mkfifo(mark)
                else:
                    shutil.copyfile('failure.json', mark)
        return x

    @TaskGenerator
    def victim(x):
        return x + 1

    v = victim(plant(1))
''')


@pytest.mark.parametrize('kind', ['regular', 'symlink', 'fifo'])
def test_failure_mark_that_is_not_a_regular_file(tmp_path, kind):
    """A failure mark appearing while a worker runs says the task failed in another
    worker: a regular one stops the worker from running it (the control); a link to
    one is not believed, and a FIFO counts as absent (without waiting): the task runs."""
    (tmp_path / 'failure.json').write_text(_failed_record('0' * 40, 'jf.victim'))
    jugdir, hashes = _setup(tmp_path, PLANT.format(kind=kind))
    executed = _jug(tmp_path, 'execute', '--will-cite', 'jf.py')
    _no_traceback(executed)
    mark = tmp_path / jugdir / 'records' / 'failed' / (hashes['v'] + '.json')
    assert os.path.lexists(mark)
    if kind == 'regular':
        assert executed.returncode == 1
        assert 'Task jf.victim failed in another worker since this one started' \
            in executed.stderr, executed.stderr
    else:
        assert executed.returncode == 0, executed.stderr
        assert 'failed in another worker' not in executed.stderr
        store = file_store(str(tmp_path / jugdir))
        assert store.load(hashes['v']) == 2
        assert store.failure_mark(hashes['v']) is None
        assert store.failure_marks() == {}
        status = _jug(tmp_path, 'status', '--failed', 'jf.py')
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.splitlines()[-1] == 'Failed tasks: 0'


# --- the pack --------------------------------------------------------------------------------

def _packed(tmp_path):
    """Run and pack TWO_TASKS; return the path of the pack (relative to `tmp_path`)."""
    jugdir, _ = _setup(tmp_path)
    assert _jug(tmp_path, 'execute', '--will-cite', 'jf.py').returncode == 0
    packed = _jug(tmp_path, 'pack', 'jf.py')
    assert packed.returncode == 0, packed.stderr
    pack = os.path.join(jugdir, 'packs', 'jugpack')
    assert os.path.isfile(tmp_path / pack)
    return pack


@pytest.mark.parametrize('command', ['status', 'execute', 'check'])
def test_damaged_pack(tmp_path, command):
    """A pack overwritten with garbage: any command that opens the store says, in one
    line, that the pack is damaged and what to do."""
    pack = _packed(tmp_path)
    (tmp_path / pack).write_bytes(GARBAGE)
    proc = _jug(tmp_path, command, '--will-cite', 'jf.py')
    line = _only_error_line(proc)
    assert re.fullmatch(rf'jug: error: The pack file {re.escape(pack)} is damaged '
                        r'\(zlib\.error: [^()]+\); move it away .*', line), line
    assert (tmp_path / pack).read_bytes() == GARBAGE


@pytest.mark.parametrize('kind', ['fifo', 'symlink'])
@pytest.mark.parametrize('command', ['status', 'execute'])
def test_pack_that_is_not_a_regular_file(tmp_path, command, kind):
    """A FIFO (reading it would block forever) or a link to a copy of the genuine pack
    (reading it would work, through the link) in place of the pack: refused in one line."""
    pack = _packed(tmp_path)
    copy = tmp_path / 'copy-of-pack'
    shutil.copyfile(tmp_path / pack, copy)
    os.unlink(tmp_path / pack)
    if kind == 'fifo':
        os.mkfifo(tmp_path / pack)
    else:
        os.symlink(copy, tmp_path / pack)
    proc = _jug(tmp_path, command, '--will-cite', 'jf.py')
    line = _only_error_line(proc)
    reason = 'it is a symbolic link' if kind == 'symlink' else 'it is not a regular file'
    assert line.startswith(f'jug: error: The pack file {pack} cannot be used: {reason}; '
                           'move it away'), line
    assert os.path.lexists(tmp_path / pack)


# --- dependency cycles -------------------------------------------------------------------

TWO_CYCLE = textwrap.dedent('''
    from jug import TaskGenerator

    @TaskGenerator
    def f(x):
        return x

    a = f(1)
    b = f(a)
    a.args = (b,)
''')

THREE_CYCLE = textwrap.dedent('''
    from jug import TaskGenerator

    @TaskGenerator
    def first(x):
        return x

    @TaskGenerator
    def second(x):
        return x

    @TaskGenerator
    def third(x):
        return x

    before = first(0)
    a = first(1)
    b = second(a)
    c = third(b)
    a.args = (c,)
    after = third(before)
''')


def _is_cycle(names, cycle):
    """Whether `names` is `cycle` (in this direction) from some start, closed."""
    if len(names) != len(cycle) + 1 or names[0] != names[-1]:
        return False
    return any(names[:-1] == cycle[i:] + cycle[:i] for i in range(len(cycle)))


CYCLE_MESSAGE = 'jug: error: the tasks depend on each other in a cycle, so none of them can run: '


@pytest.mark.parametrize('command', ['execute', 'status'])
@pytest.mark.parametrize('jugfile, cycle', [
    (TWO_CYCLE, ['jf.f', 'jf.f']),
    # a depends on c, which depends on b, which depends on a
    (THREE_CYCLE, ['jf.first', 'jf.third', 'jf.second']),
], ids=['two', 'three'])
def test_cycle_end_to_end(tmp_path, command, jugfile, cycle):
    (tmp_path / 'jf.py').write_text(jugfile)
    proc = _jug(tmp_path, command, '--will-cite', 'jf.py')
    line = _only_error_line(proc)
    assert proc.returncode == 1
    assert 'RecursionError' not in line
    assert line.startswith(CYCLE_MESSAGE), line
    names = line[len(CYCLE_MESSAGE):].split(' -> ')
    assert _is_cycle(names, cycle), line
    assert not os.path.exists(tmp_path / 'jf.jugdata' / 'locks')  # nothing was run


@TaskGenerator
def ident(x):
    return x


@TaskGenerator
def first(x):
    return x


@TaskGenerator
def second(x):
    return x


@TaskGenerator
def third(x):
    return x


def _check_cycle_error(tasks, cycle):
    """topological_sort and downstream of `tasks` raise the error naming `cycle`."""
    with pytest.raises(DependencyCycleError) as raised:
        topological_sort(list(tasks))
    assert _is_cycle(raised.value.names, cycle), raised.value.names
    assert ' -> '.join(raised.value.names) in str(raised.value)
    with pytest.raises(DependencyCycleError) as raised:
        downstream(list(tasks), lambda t: True)
    assert _is_cycle(raised.value.names, cycle), raised.value.names


def test_topological_sort_of_a_two_task_cycle():
    a = ident(1)
    b = ident(a)
    a.args = (b,)
    assert a.name == b.name == f'{__name__}.ident'
    _check_cycle_error([a, b], [a.name] * 2)
    _check_cycle_error([b], [a.name] * 2)
    with pytest.raises(DependencyCycleError):
        a.hash()
    # recursive_dependencies visits each task once, so it ends (cycle or not)
    assert {id(t) for t in recursive_dependencies(a)} == {id(a), id(b)}


def test_topological_sort_of_a_three_task_cycle():
    before = first(0)
    a = first(1)
    b = second(a)
    c = third(b)
    a.args = (c,)
    after = third(before)
    assert [a.name, b.name, c.name] == [f'{__name__}.{f}' for f in ('first', 'second', 'third')]
    cycle = [a.name, c.name, b.name]
    _check_cycle_error([before, a, b, c, after], cycle)
    with pytest.raises(DependencyCycleError) as raised:
        topological_sort([c])  # starting elsewhere: the same cycle, from c
    assert raised.value.names == [c.name, b.name, a.name, c.name]
    # the tasks outside the cycle still sort
    outside = [after, before]
    topological_sort(outside)
    assert outside == [before, after]


def test_a_long_chain_without_a_cycle_sorts():
    """5000 tasks each depending on the previous one (far beyond Python's recursion
    limit), given in reverse order: sorted with every dependency first."""
    chain = [ident(0)]
    for _ in range(4999):
        chain.append(ident(chain[-1]))
    tasks = chain[::-1]
    topological_sort(tasks)
    assert tasks == chain
    assert downstream(chain[::-1], lambda t: t is chain[-2]) == chain[-2:]
    assert chain[-1].hash() != chain[-2].hash()
