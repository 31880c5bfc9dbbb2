"""The runtime: init, main, is_jug_running, --pdb, SIGTERM (docs/architecture.rst,
docs/subcommands.rst)."""
import os
import signal
import subprocess
import sys
import time

import pytest

import jug
import jug.jug
import jug.task
from jug.backends.dict_store import dict_store
from jug.jug import init, main

from jugtest import jug_command, jug_env

JUGFILE = '''
import sys
from jug import TaskGenerator, barrier, is_jug_running

RUNNING = is_jug_running()
ARGS = list(sys.argv)

@TaskGenerator
def double(x):
    return 2 * x

first = double(1)
barrier()
second = double(first)
'''


@pytest.fixture
def jugfile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'jf.py').write_text(JUGFILE)
    monkeypatch.setattr(sys, 'argv', list(sys.argv))
    yield 'jf.py'
    sys.modules.pop('jf', None)


def test_init_registers_module_and_stops_at_barrier(jugfile):
    store = dict_store()
    returned, space = init(jugfile, store=store)
    assert returned is store and jug.task.Task.store is store
    assert space['__jug__hasbarrier__'] is True
    assert 'second' not in space
    assert sys.modules['jf'].__dict__ is space
    assert space['__file__'] == os.path.abspath(jugfile)
    assert [t.name for t in jug.task.alltasks] == ['jf.double']
    assert sys.path[0] == os.path.abspath('.')


def test_init_after_barrier_passes(jugfile):
    store = dict_store()
    init(jugfile, store=store)
    jug.task.alltasks[0].run()
    del jug.task.alltasks[:]
    _, space = init(jugfile, store=store)
    assert '__jug__hasbarrier__' not in space
    assert len(jug.task.alltasks) == 2


def test_init_positional_forms(jugfile):
    store, _ = init(jugfile, 'dict_store')
    assert type(store).__name__ == 'dict_store'
    other = dict_store()
    assert init(jugfile, other)[0] is other


def test_init_propagate_and_exit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'boom.py').write_text('raise KeyError("boom")\n')
    with pytest.raises(KeyError):
        init('boom.py', 'dict_store', on_error='propagate')
    with pytest.raises(SystemExit) as info:
        init('boom.py', 'dict_store')
    assert info.value.code == 1
    with pytest.raises(AssertionError):
        init('boom.py', 'dict_store', on_error='ignore')


def test_init_source_encoding(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'latin.py').write_bytes(b'# -*- coding: latin-1 -*-\nname = "caf\xe9"\n')
    _, space = init('latin.py', 'dict_store')
    assert space['name'] == 'café'


def test_main_runs_execute_and_sets_running_flag(jugfile, capsys):
    with pytest.raises(SystemExit) as info:
        main(['jug', 'execute', jugfile, '--jugdir', 'dict_store', '--will-cite', '--', 'extra'])
    assert not info.value.code  # sys.exit(None): exit status 0
    assert jug.is_jug_running()
    assert sys.modules['jf'].RUNNING is True
    assert sys.modules['jf'].ARGS == ['jf.py', 'extra']
    out = capsys.readouterr().out
    assert 'Executed' in out and 'jf.double' in out


def test_main_pdb_calls_debugger(jugfile, monkeypatch):
    with open(jugfile, 'a') as f:
        f.write('\n@TaskGenerator\ndef bad():\n    raise ValueError()\n\nb = bad()\n')
    calls = []
    monkeypatch.setattr('jug.internal.debugger.debug_exception', lambda: calls.append(1))
    with pytest.raises(SystemExit) as info:
        main(['jug', 'execute', jugfile, '--jugdir', 'dict_store', '--pdb', '--will-cite'])
    assert calls == [1]  # once, although the exception also reaches main
    assert info.value.code == 1


def test_python_dash_m_jug_jug_and_bin_script(tmp_path):
    (tmp_path / 'jf.py').write_text(JUGFILE)
    for command in ([sys.executable, '-m', 'jug.jug', 'execute', 'jf.py', '--will-cite'],
                    [sys.executable, os.path.join(os.path.dirname(jug.__file__), os.pardir,
                                                  'bin', 'jug'), 'check', 'jf.py']):
        result = subprocess.run(command, cwd=tmp_path, env=jug_env(), capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    result = subprocess.run([sys.executable, '-m', 'jug.jug', 'execute', 'jf.py', '--will-cite'],
                            cwd=tmp_path, env=jug_env(), capture_output=True, text=True)
    assert 'jf.double' in result.stdout and 'Loaded' in result.stdout


SLOW = '''
import time
from jug import TaskGenerator

@TaskGenerator
def slow(i):
    open(f'started-{i}', 'w').close()
    time.sleep(60)
    return i

tasks = [slow(i) for i in range(3)]
'''


@pytest.mark.parametrize('sig,code', [(signal.SIGTERM, 1), (signal.SIGINT, 130)])
def test_signal_releases_lock_and_exits(tmp_path, sig, code):
    (tmp_path / 'slow.py').write_text(SLOW)
    worker = subprocess.Popen(jug_command('execute', 'slow.py', '--will-cite'), cwd=tmp_path,
                              env=jug_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while not (tmp_path / 'started-0').exists():
        assert time.time() < deadline and worker.poll() is None
        time.sleep(0.02)
    locks = os.listdir(tmp_path / 'slow.jugdata' / 'locks')
    assert len(locks) == 1
    worker.send_signal(sig)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == code
    assert os.listdir(tmp_path / 'slow.jugdata' / 'locks') == []
    assert not list((tmp_path / 'slow.jugdata').glob('tempfiles/*'))
    assert b'Traceback' not in stderr


def test_dict_store_file_is_saved_by_execute(tmp_path):
    (tmp_path / 'jf.py').write_text(JUGFILE)
    for args in (('execute', 'jf.py', '--will-cite'), ('status', 'jf.py', '--short')):
        result = subprocess.run(jug_command(*args, '--jugdir', 'dict_store:saved.pickle'),
                                cwd=tmp_path, env=jug_env(), capture_output=True, text=True)
        assert 'Exception ignored' not in result.stderr
    assert result.stdout.strip() == 'All tasks complete (2 tasks).'
    import pickle
    with open(tmp_path / 'saved.pickle', 'rb') as f:
        saved = pickle.load(f)
    assert sum(1 for key in saved if key.startswith(b'result:')) == 2


def test_pdb_on_a_broken_jugfile_starts_the_debugger(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'broken.py').write_text('raise ValueError("broken")\n')
    calls = []
    monkeypatch.setattr('jug.internal.debugger.debug_exception',
                        lambda: calls.append(sys.exc_info()[0]))
    for command in ('count', 'execute'):
        with pytest.raises(SystemExit) as info:
            main(['jug', command, 'broken.py', '--jugdir', 'dict_store', '--pdb'])
        assert info.value.code == 1
    assert calls == [ValueError, ValueError]
    sys.modules.pop('broken', None)


def test_missing_jugfile_in_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError):
        init('missing.py', 'dict_store', on_error='propagate')
    with pytest.raises(SystemExit) as info:
        init('missing.py', 'dict_store')
    assert info.value.code == 1


class _BrokenLock:
    def get(self):
        raise PermissionError(13, 'Permission denied', 'locks/x.lock')

    def release(self):
        raise AssertionError('a lock that was not taken must not be released')


def test_lock_errors_propagate_unwrapped(monkeypatch):
    from jug.jug import ExecutionState, execution_loop
    from jug.options import default_options
    store = dict_store()
    monkeypatch.setattr(store, 'getlock', lambda name: _BrokenLock())
    jug.task.Task.store = store
    t = jug.task.Task(abs, -1)
    options = default_options.copy()
    with pytest.raises(PermissionError):
        execution_loop([t], options, ExecutionState())
    options.execute_keep_going = True
    state = ExecutionState()
    assert execution_loop([t], options, state) is True
    assert state.failed == set()  # not marked failed: a later pass retries it


def test_unusable_lock_directory_is_one_error_line(tmp_path):
    (tmp_path / 'jf.py').write_text(JUGFILE)
    (tmp_path / 'jf.jugdata').mkdir()
    (tmp_path / 'jf.jugdata' / 'locks').write_text('not a directory')
    result = subprocess.run(jug_command('execute', 'jf.py'), cwd=tmp_path, env=jug_env(),
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith('jug: error: cannot create the lock')
    assert 'Traceback' not in result.stderr
