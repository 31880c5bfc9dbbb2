"""Interrupted runs leave a record and are listed as interrupted, not failed
(docs/failures.rst).

A task interrupted while it runs — ``jug execute`` receives SIGTERM or SIGINT (Ctrl-C),
or the task calls ``sys.exit`` — stops the worker.  The tests run the real ``jug``
command and check what that leaves behind:

* the exit code (SIGTERM: 1; SIGINT: 130, the shell's convention; ``sys.exit(3)``: 3)
  and no traceback;
* the task's lock is released, and it is not marked failed (no failure mark, no failed
  lock);
* its run record says ``interrupted``, with what stopped the worker;
* ``jug status --failed`` (and ``--cache``) counts 0 failed tasks, then lists it in a
  section of its own, "Interrupted tasks";
* the next ``jug execute`` runs it again; the section is then gone.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from jug.backends.file_store import file_store
from jug.jug import init
from jug.records import format_failure
from jugtest import files_in, jug_command, jug_env

#: Upper bound for anything a test waits for (a subprocess, the task to start).
DEADLINE = 30.0

#: ``jf.slow`` says it started (the file ``started``), then waits for the file ``go``;
#: while ``go`` is missing it waits (at most DEADLINE seconds: it then fails, so that a
#: signal that did not stop it makes the test fail rather than hang).
SLOW = textwrap.dedent(f'''
    import os
    import time
    from jug import TaskGenerator

    @TaskGenerator
    def slow(x):
        open('started', 'w').close()
        deadline = time.monotonic() + {DEADLINE}
        while not os.path.exists('go'):
            if time.monotonic() > deadline:
                raise RuntimeError('nobody interrupted me')
            time.sleep(0.005)
        return x

    @TaskGenerator
    def quick(x):
        return x + 1

    s = slow(1)
    q = quick(s)
''')

#: ``jf.quits`` calls ``sys.exit(3)``, unless the file ``go`` exists.
QUITS = textwrap.dedent('''
    import os
    import sys
    from jug import TaskGenerator

    @TaskGenerator
    def quits(x):
        if not os.path.exists('go'):
            sys.exit(3)
        return x

    @TaskGenerator
    def after(x):
        return x + 1

    s = quits(1)
    q = after(s)
''')

#: Starts the ``jug`` command given as arguments with SIGINT at its default disposition
#: (as in a terminal: a test runner started in the background may ignore SIGINT, and its
#: children would inherit that), by exec, so that the pid stays the same.
LAUNCHER = textwrap.dedent('''
    import os
    import signal
    import sys
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(sys.executable, [sys.executable] + sys.argv[1:])
''')

INTERRUPTED_HEADING = ('Interrupted tasks (not failed: the next jug execute runs them again): '
                       '1')


def _jug(cwd, *args):
    """Run ``jug *args`` in `cwd`; return the CompletedProcess (text output)."""
    return subprocess.run(jug_command(*args), cwd=cwd, env=jug_env(), capture_output=True,
                          text=True, timeout=DEADLINE)


def _start_execute(tmp_path):
    """Start ``jug execute jf.py`` in `tmp_path` (by :data:`LAUNCHER`); return the Popen."""
    return subprocess.Popen([sys.executable, '-c', LAUNCHER,
                             *jug_command('execute', '--will-cite', 'jf.py')[1:]],
                            cwd=tmp_path, env=jug_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _setup(tmp_path, source):
    """Write `source` as ``jf.py``; return ``(jugdir, {variable: hash})``."""
    (tmp_path / 'jf.py').write_text(source)
    jugdir = str(tmp_path / 'jf.jugdata')
    _, ns = init(str(tmp_path / 'jf.py'), jugdir)
    return jugdir, {name: ns[name].hash() for name in ('s', 'q')}


def _wait_until_started(tmp_path, proc):
    """Poll until the task says it started; fail if ``jug`` ends first or it takes too long."""
    deadline = time.monotonic() + DEADLINE
    while not (tmp_path / 'started').exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f'jug ended (exit code {proc.returncode}) before the task started:\n'
                        f'{out}{err}')
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail('the task did not start in time')
        time.sleep(0.005)


def _check_not_failed(jugdir):
    """No lock is left (so no failed lock either), and no failure mark."""
    assert files_in(os.path.join(jugdir, 'locks')) == []
    assert files_in(os.path.join(jugdir, 'records', 'failed')) == []


def _check_interrupted_record(jugdir, key, name, pid, error_type, message):
    """The only run record is the interrupted one of `key`; return it."""
    store = file_store(jugdir)
    assert store.list_records() == [key]
    record = store.load_record(key)
    assert record['status'] == 'interrupted'
    assert record['name'] == name
    assert record['hash'] == key.decode()
    assert record['pid'] == pid
    assert record['host'] == os.uname().nodename
    assert record['error']['type'] == error_type
    assert record['error']['message'] == message
    assert record['end'] >= record['start']
    assert store.failure_marks() == {}
    assert not store.can_load(key)
    return record


def _failed_sections(tmp_path, *extra):
    """``jug status --failed`` (and `extra` options): the lines from ``Failed tasks:``."""
    status = _jug(tmp_path, 'status', '--failed', *extra, 'jf.py')
    assert 'Traceback' not in status.stderr, status.stderr
    lines = status.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith('Failed tasks:')]
    assert len(starts) == 1, status.stdout
    return status.returncode, lines[starts[0]:]


def _check_listing(tmp_path, name, key, record):
    """``jug status --failed``, with and without ``--cache``: 0 failed, 1 interrupted."""
    head = format_failure(name, key, record)[0]
    assert head.startswith(f'{name} {key.decode()[:12]}: {record["error"]["type"]}: '
                           f'{record["error"]["message"]} (on {record["host"]}, '
                           f'pid {record["pid"]}, ')
    # the task with its argument; from the status cache (names only), its name
    for extra, shown in (((), f'{name}(1)'), (('--cache',), name)):
        expected = ['Failed tasks: 0', INTERRUPTED_HEADING, *format_failure(shown, key, record)]
        code, sections = _failed_sections(tmp_path, *extra)
        assert code == 1  # not every task is finished
        assert sections == expected, (extra, sections)
    short = _jug(tmp_path, 'status', '--short', 'jf.py')
    assert ' 0 failed, 0 complete' in short.stdout, short.stdout


def _check_rerun(tmp_path, jugdir, key):
    """With ``go`` there, the next ``jug execute`` runs the task again and finishes; the
    interrupted section is then gone (also from the cache kept by ``--cache``)."""
    (tmp_path / 'go').touch()
    executed = _jug(tmp_path, 'execute', '--will-cite', 'jf.py')
    assert executed.returncode == 0, executed.stderr
    store = file_store(jugdir)
    assert store.load_record(key)['status'] == 'finished'
    assert store.can_load(key)
    _check_not_failed(jugdir)
    for extra in ((), ('--cache',)):
        code, sections = _failed_sections(tmp_path, *extra)
        assert (code, sections) == (0, ['Failed tasks: 0']), extra


@pytest.mark.parametrize('signum, exit_code, error_type, message', [
    (signal.SIGTERM, 1, 'jug.errors.Terminated', 'the worker received SIGTERM'),
    (signal.SIGINT, 130, 'KeyboardInterrupt', 'the worker was interrupted (Ctrl-C or SIGINT)'),
], ids=['SIGTERM', 'SIGINT'])
def test_signal_while_a_task_runs(tmp_path, signum, exit_code, error_type, message):
    jugdir, hashes = _setup(tmp_path, SLOW)
    proc = _start_execute(tmp_path)
    try:
        _wait_until_started(tmp_path, proc)
        # the lock of the running task is there
        assert [name for name in files_in(os.path.join(jugdir, 'locks'))
                if name.endswith('.lock')] == [hashes['s'].decode() + '.lock']
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == exit_code, err
    assert 'Traceback' not in err, err
    if signum == signal.SIGINT:
        assert err.splitlines() == ['jug: interrupted'], err
    assert 'nobody interrupted me' not in err
    _check_not_failed(jugdir)
    record = _check_interrupted_record(jugdir, hashes['s'], 'jf.slow', proc.pid, error_type,
                                       message)
    _check_listing(tmp_path, 'jf.slow', hashes['s'], record)
    _check_rerun(tmp_path, jugdir, hashes['s'])


def test_task_calling_sys_exit(tmp_path):
    """``sys.exit(3)`` in a task ends ``jug execute`` with that exit code, silently (as
    it would end any Python program); the task was interrupted, not failed."""
    jugdir, hashes = _setup(tmp_path, QUITS)
    proc = _start_execute(tmp_path)
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err
    assert err == '', err
    _check_not_failed(jugdir)
    record = _check_interrupted_record(jugdir, hashes['s'], 'jf.quits', proc.pid,
                                       'SystemExit', 'the task or the worker called sys.exit(3)')
    # the worker stopped: the task after it did not run
    assert not file_store(jugdir).can_load(hashes['q'])
    _check_listing(tmp_path, 'jf.quits', hashes['s'], record)
    _check_rerun(tmp_path, jugdir, hashes['s'])
