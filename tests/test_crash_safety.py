"""Crash safety of ``jug execute`` and the file store: what survives when things go wrong.

Each test breaks a run in one way (a damaged result file, an unpicklable result, a full
disk, a jugdir turned read-only, a worker killed mid-write) and checks the three
promises of the commit protocol (docs/backends.rst): a reader never sees a partial
result, results written before are intact, and the failure is reported clearly (exit
code 1, a message naming the task or the file), with nothing left locked forever.

``jug`` runs as a subprocess (``sys.executable -m jug``).  Where permissions must
apply (CI runs as root, and root ignores them) ``jug.jug.main`` runs in a forked child
that drops to an unprivileged user (:func:`jugtest.fork_main_unprivileged`).
"""
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from jug.backends.file_cleanup import TEMPFILE_MAX_AGE
from jug.backends.file_store import file_store
from jug.errors import StoreError
from jug.jug import init
from jug.task import value
from jugtest import (files_in, fork_main_unprivileged, jug_command, jug_env, main_unprivileged,
                     wait_main_unprivileged)

#: Upper bound for anything a test waits for (a child reaching a point, a subprocess).
DEADLINE = 30.0


def _jug(cwd, *args, preexec_fn=None):
    """Run ``jug *args`` in `cwd`; return the CompletedProcess (text output)."""
    return subprocess.run(jug_command(*args), cwd=cwd, env=jug_env(), capture_output=True,
                          text=True, timeout=60, preexec_fn=preexec_fn)


def _tasks(directory, jugfile='jf.py'):
    """Load `jugfile` in this process; return ``(store, namespace)``.

    Paths are absolute, so messages name files as ``<abs jugdir>/xx/yyyy``.
    """
    directory = str(directory)
    return init(os.path.join(directory, jugfile),
                os.path.join(directory, jugfile[:-len('.py')] + '.jugdata'))


def _relative(store, task):
    """The path of `task`'s result file relative to the jugdir's parent."""
    return os.path.relpath(store._getfname(task.hash()), os.path.dirname(store.jugdir))


def _wait_for(condition, what):
    """Poll `condition()` until true; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.005)


# --- 1. damaged result files ---------------------------------------------------------------

DAMAGED = '''
from jug import TaskGenerator

@TaskGenerator
def make(n):
    return list(range(n))

@TaskGenerator
def total(xs):
    return sum(xs)

numbers = make(1000)
result = total(numbers)
'''

DAMAGES = {
    'truncated': lambda data: data[:len(data) // 2],
    # a zlib stream cut so short that nothing can be decompressed: it used to load as None
    'cut-short': lambda data: data[:20],
    'garbage': lambda data: bytes(range(7, 256, 3)) * 8,
}


@pytest.mark.parametrize('damage', sorted(DAMAGES))
def test_damaged_result_file(tmp_path, damage):
    """A result file that was truncated or overwritten with garbage bytes.

    ``status`` and ``check`` only look whether results exist, so they count the task as
    finished.  Loading it (``value(t)``, or ``jug execute`` of a task that depends on
    it) fails with an error naming the task, its hash and the file.

    Recovery: remove the damaged file (``rm <jugdir>/xx/yyyy...``), or run ``jug
    invalidate jugfile.py --name <task name>`` (which also removes the results computed
    from it), then ``jug execute`` computes it again.
    """
    (tmp_path / 'jf.py').write_text(DAMAGED)
    assert _jug(tmp_path, 'execute', 'jf.py').returncode == 0
    store, ns = _tasks(tmp_path)
    numbers, result = ns['numbers'], ns['result']
    key = numbers.hash()
    fname = store._getfname(key)
    with open(fname, 'rb') as f:
        data = f.read()
    with open(fname, 'wb') as f:
        f.write(DAMAGES[damage](data))

    status = _jug(tmp_path, 'status', 'jf.py', '--short')
    assert status.returncode == 0, status.stderr
    assert status.stdout.strip() == 'All tasks complete (2 tasks).'
    check = _jug(tmp_path, 'check', 'jf.py')
    assert (check.returncode, check.stderr) == (0, '')

    # value(): the error names the task, its hash and the file (the decoding error is
    # kept as the cause)
    with pytest.raises(RuntimeError) as info:
        value(numbers)
    message = str(info.value)
    assert 'jf.make' in message and key.decode() in message and fname in message
    assert 'damaged' in message
    assert isinstance(info.value.__cause__, StoreError)
    assert info.value.__cause__.__cause__ is not None
    # a missing file stays a FileNotFoundError
    store.remove(result.hash())
    with pytest.raises(FileNotFoundError):
        store.load(result.hash())

    executed = _jug(tmp_path, 'execute', 'jf.py')
    assert executed.returncode == 1
    relative = _relative(store, numbers)
    assert any('jf.make' in line and key.decode() in line and relative in line
               and 'damaged' in line for line in executed.stderr.splitlines()), \
        executed.stderr
    assert not store.can_load(result.hash())
    assert files_in(os.path.join(store.jugdir, 'locks')) == []
    assert files_in(store.tempdir()) == []

    # recovery, as the docstring says
    invalidated = _jug(tmp_path, 'invalidate', 'jf.py', '--name', 'jf.make')
    assert invalidated.returncode == 0, invalidated.stderr
    assert _jug(tmp_path, 'execute', 'jf.py').returncode == 0
    result.unload()
    assert value(result) == sum(range(1000))


@pytest.mark.parametrize('damage', sorted(DAMAGES))
def test_damaged_array_file(tmp_path, damage):
    """The same for a raw ``.npy`` result: the error names the file, not a zlib error."""
    np = pytest.importorskip('numpy')
    store = file_store(str(tmp_path / 'jugdata'))
    key = b'ab' * 20
    store.dump(np.arange(1000.0), key)
    fname = store._getfname(key)
    with open(fname, 'rb') as f:
        data = f.read()
    with open(fname, 'wb') as f:
        f.write(DAMAGES[damage](data))
    with pytest.raises(StoreError) as info:
        store.load(key)
    assert fname in str(info.value) and 'damaged' in str(info.value)
    if damage != 'garbage':
        assert 'incorrect header check' not in str(info.value)


def test_encoded_none_is_not_damage(tmp_path):
    """A zlib stream holding a pickled None (written by another tool) still loads."""
    import pickle
    import zlib
    store = file_store(str(tmp_path / 'jugdata'))
    key = b'cd' * 20
    store.dump(1, key)
    with open(store._getfname(key), 'wb') as f:
        f.write(zlib.compress(b'P' + pickle.dumps(None)))
    assert store.load(key) is None


# --- 2. results that cannot be pickled -------------------------------------------------------

UNPICKLABLE = '''
import threading
from jug import TaskGenerator

@TaskGenerator
def ok(i):
    return i * 2

@TaskGenerator
def lock():
    return threading.Lock()

@TaskGenerator
def generator():
    return (i for i in range(3))

before = [ok(i) for i in range(3)]
unpicklable = [lock(), generator()]
after = [ok(i) for i in range(3, 6)]
'''


@pytest.mark.parametrize('keep_going', [False, True], ids=['stop', 'keep-going'])
def test_unpicklable_result(tmp_path, keep_going):
    """A task returning a lock or a generator: its result cannot be stored.

    The run fails naming the task (exit 1); with --keep-going the other tasks complete.
    The task's lock is released and nothing of its result is left on disk.
    """
    (tmp_path / 'jf.py').write_text(UNPICKLABLE)
    args = ['execute', 'jf.py'] + (['--keep-going'] if keep_going else [])
    executed = _jug(tmp_path, *args)
    assert executed.returncode == 1
    lines = executed.stderr.splitlines()
    failing = ['jf.lock', 'jf.generator'] if keep_going else ['jf.lock']
    for name in failing:
        assert any(f'Exception while running {name}:' in line and 'pickle' in line
                   for line in lines), executed.stderr
    store, ns = _tasks(tmp_path)
    assert [value(t) for t in ns['before']] == [0, 2, 4]
    assert [t.can_load() for t in ns['unpicklable']] == [False, False]
    assert all(t.can_load() == keep_going for t in ns['after'])
    assert len(store.list()) == (6 if keep_going else 3)
    for t in ns['unpicklable']:
        assert not os.path.exists(store._getfname(t.hash()))
    assert files_in(store.tempdir()) == []
    assert files_in(os.path.join(store.jugdir, 'locks')) == []


# --- 3. a full disk (simulated with RLIMIT_FSIZE) ---------------------------------------------

FILE_SIZE_LIMIT = 2 ** 20

FULL_DISK = '''
import os
from jug import TaskGenerator

@TaskGenerator
def small(i):
    return [i] * 10

@TaskGenerator
def big():
    {big}

before = [small(i) for i in range(3)]
huge = big()
after = [small(i) for i in range(3, 6)]
'''

BIG_RESULTS = {
    'bytes': 'return os.urandom(2 * 2 ** 20)',
    # raw .npy first; when that write fails, file_store falls back to the zlib encoding
    'array': 'import numpy as np\n    return np.random.default_rng(0).random(2 ** 18)',
}


def _limit_file_size():
    """preexec_fn: files may not grow beyond FILE_SIZE_LIMIT; writing more fails with
    EFBIG instead of killing the process with SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


@pytest.mark.parametrize('kind', sorted(BIG_RESULTS))
def test_full_disk(tmp_path, kind):
    """A result too big for the disk: one clear error line, exit 1, nothing partial.

    The results written before stay intact; the task's lock is released, so the task
    runs again once there is space.
    """
    if kind == 'array':
        pytest.importorskip('numpy')
    (tmp_path / 'jf.py').write_text(FULL_DISK.format(big=BIG_RESULTS[kind]))
    executed = _jug(tmp_path, 'execute', 'jf.py', preexec_fn=_limit_file_size)
    assert executed.returncode == 1, executed.stderr
    store, ns = _tasks(tmp_path)
    errors = [line for line in executed.stderr.splitlines() if line.startswith('jug: error:')]
    assert len(errors) == 1, executed.stderr
    assert _relative(store, ns['huge']) in errors[0] and 'File too large' in errors[0]
    assert 'Traceback' not in executed.stderr
    assert not ns['huge'].can_load()
    assert not os.path.exists(store._getfname(ns['huge'].hash()))
    assert files_in(store.tempdir()) == []
    assert files_in(os.path.join(store.jugdir, 'locks')) == []
    assert [value(t) for t in ns['before']] == [[i] * 10 for i in range(3)]
    assert not any(t.can_load() for t in ns['after'])
    status = _jug(tmp_path, 'status', 'jf.py', '--short')
    assert status.returncode == 1 and status.stdout.splitlines() == [
        '4 tasks waiting to be run, 0 failed, 3 complete, (none active).',
        '1 task failed in its last run (jug status --failed shows it, with its error).']


# --- 4. the jugdir becomes read-only during the run -------------------------------------------

READ_ONLY = '''
import os
import time
from jug import TaskGenerator

@TaskGenerator
def step(i):
    if i == 5:
        # tell the test we are running, then wait for it to make the jugdir read-only
        open('marker', 'w').close()
        deadline = time.monotonic() + 30
        while not os.path.exists('go'):
            if time.monotonic() > deadline:
                raise RuntimeError('the test never created the go file')
            time.sleep(0.005)
    return i * 10

steps = [step(i) for i in range(20)]
'''


def _chmod_tree(top, mode):
    for dirpath, _, _ in os.walk(top):
        os.chmod(dirpath, mode)


def test_jugdir_becomes_read_only(monkeypatch):
    """The jugdir is made read-only while a task runs.

    Storing that task's result fails: exit 1 with one clear error line; every result
    written before is intact and nothing partial is left.  The task's lock cannot be
    removed from the read-only directory: it stays, and ``jug status`` still works (it
    shows the lock as stale once the worker is gone).
    """
    shared = tempfile.mkdtemp(prefix='jugcrash')
    jugdir = os.path.join(shared, 'jf.jugdata')
    try:
        os.chmod(shared, 0o777)
        with open(os.path.join(shared, 'jf.py'), 'w') as f:
            f.write(READ_ONLY)
        monkeypatch.setattr('sys.argv', ['jug'])
        pid = fork_main_unprivileged(['jug', 'execute', 'jf.py'], shared)
        try:
            _wait_for(lambda: os.path.exists(os.path.join(shared, 'marker')), 'task 5')
            _chmod_tree(jugdir, 0o555)
            open(os.path.join(shared, 'go'), 'w').close()
        finally:
            code, stderr = wait_main_unprivileged(pid, shared, timeout=DEADLINE)
        assert code == 1, stderr
        errors = [line for line in stderr.splitlines() if line.startswith('jug: error:')]
        assert len(errors) == 1, stderr
        assert 'jf.jugdata' in errors[0] and 'Permission denied' in errors[0]
        assert 'Traceback' not in stderr

        store, ns = _tasks(shared)
        steps = ns['steps']
        assert [value(t) for t in steps[:5]] == [0, 10, 20, 30, 40]
        assert not any(t.can_load() for t in steps[5:])
        assert len(store.list()) == 5
        assert files_in(store.tempdir()) == []
        locks = files_in(os.path.join(jugdir, 'locks'))
        assert locks in ([], [steps[5].hash().decode() + '.lock'])

        code, stderr = main_unprivileged(['jug', 'status', 'jf.py', '--short'], shared)
        assert code == 1, stderr
        assert 'Traceback' not in stderr
        with open(os.path.join(shared, 'stdout.txt')) as f:
            short = f.read().strip()
        assert short.startswith('14 tasks waiting to be run, 0 failed, 5 complete'), short
    finally:
        if os.path.exists(jugdir):
            _chmod_tree(jugdir, 0o755)
        shutil.rmtree(shared, ignore_errors=True)


# --- 5. a worker killed while writing a large result ------------------------------------------

KILLED = '''
import os
import time
from jug import TaskGenerator


class Hold:
    """Pickled after the large payload: while the file 'hold' exists, it signals that
    the write is under way and waits (for the test to kill the process)."""

    def __reduce__(self):
        if os.path.exists('hold'):
            open('writing', 'w').close()
            deadline = time.monotonic() + 30
            while os.path.exists('hold') and time.monotonic() < deadline:
                time.sleep(0.005)
        return (Hold, ())


@TaskGenerator
def small(i):
    return i

@TaskGenerator
def large():
    return [os.urandom(50 * 2 ** 20), Hold()]

before = [small(i) for i in range(3)]
payload = large()
after = [small(i) for i in range(3, 6)]
'''


def test_worker_killed_while_writing(tmp_path):
    """SIGKILL while a 50 MB result is being written to its temp file.

    No partial result is visible (the task cannot be loaded); the partial temp file
    stays in ``tempfiles`` until ``jug cleanup`` finds it older than a minute (a write
    in progress keeps its file fresh, so cleanup leaves young temp files alone).  The
    next ``jug execute`` computes the task again.
    """
    (tmp_path / 'jf.py').write_text(KILLED)
    (tmp_path / 'hold').write_text('')
    tempdir = tmp_path / 'jf.jugdata' / 'tempfiles'
    worker = subprocess.Popen(jug_command('execute', 'jf.py'), cwd=tmp_path, env=jug_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def writing():
            return (tmp_path / 'writing').exists() and \
                any(p.stat().st_size > 0 for p in tempdir.iterdir())
        _wait_for(writing, 'the large result to be written')
    finally:
        worker.kill()
        worker.wait(timeout=DEADLINE)
    assert worker.returncode == -signal.SIGKILL

    store, ns = _tasks(tmp_path)
    payload = ns['payload']
    assert not payload.can_load()
    assert not os.path.exists(store._getfname(payload.hash()))
    assert [value(t) for t in ns['before']] == [0, 1, 2]
    temps = list(tempdir.iterdir())
    assert len(temps) == 1 and temps[0].stat().st_size > 0

    # the worker's lock is left behind; status reports it without crashing
    status = _jug(tmp_path, 'status', 'jf.py', '--short')
    assert status.returncode == 1 and 'Traceback' not in status.stderr, status.stderr
    assert '3 complete' in status.stdout

    # a young temp file may be a write in progress: cleanup keeps it
    cleanup = _jug(tmp_path, 'cleanup', 'jf.py', '--keep-locks')
    assert cleanup.stdout.splitlines() == ['Removed 0 objects']
    assert list(tempdir.iterdir()) == temps
    old = time.time() - TEMPFILE_MAX_AGE - 10
    os.utime(temps[0], (old, old))
    cleanup = _jug(tmp_path, 'cleanup', 'jf.py')
    assert cleanup.returncode == 0, cleanup.stderr
    assert cleanup.stdout.splitlines() == ['Removed 0 objects', 'Removed 1 locks']
    assert list(tempdir.iterdir()) == []
    assert [value(t) for t in ns['before']] == [0, 1, 2]

    (tmp_path / 'hold').unlink()
    executed = _jug(tmp_path, 'execute', 'jf.py')
    assert executed.returncode == 0, executed.stderr
    assert len(store.load(payload.hash())[0]) == 50 * 2 ** 20
    assert all(t.can_load() for t in ns['after'])
