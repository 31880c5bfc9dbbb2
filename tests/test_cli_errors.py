"""Bad input gives one clear message on stderr, the exit code listed in
docs/subcommands.rst, and no jugdir."""
import pytest

from jugtest import main_unprivileged

PRIMES = '''
from jug import TaskGenerator

@TaskGenerator
def is_prime(n):
    return all(n % i for i in range(2, n))

primes = [is_prime(i) for i in range(2, 20)]
'''


def _error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize('command', ['execute', 'status', 'check', 'invalidate', 'count'])
def test_missing_jugfile(run_jug, tmp_path, command):
    extra = ['--name', 'x'] if command == 'invalidate' else []
    result = run_jug(command, 'nothere.py', *extra)
    assert result.returncode == 1
    assert _error_lines(result.stderr) == [
        "CRITICAL:root:Could not import file 'nothere.py' (error: jugfile 'nothere.py' not found)"]
    assert not (tmp_path / 'nothere.jugdata').exists()


def test_syntax_error(run_jug, tmp_path):
    (tmp_path / 'bad.py').write_text('x = (\n')
    result = run_jug('execute', 'bad.py')
    assert result.returncode == 1
    lines = _error_lines(result.stderr)
    assert len(lines) == 1
    assert lines[0].startswith("CRITICAL:root:Could not import file 'bad.py'")
    assert 'SyntaxError' in result.stdout
    assert not (tmp_path / 'bad.jugdata').exists()


def test_jugfile_raising_on_import(run_jug, tmp_path):
    (tmp_path / 'raises.py').write_text(PRIMES + '\nraise ValueError("boom")\n')
    result = run_jug('execute', 'raises.py')
    assert result.returncode == 1
    assert _error_lines(result.stderr) == \
        ["CRITICAL:root:Could not import file 'raises.py' (error: boom)"]
    assert 'ValueError: boom' in result.stdout
    assert 'jug/jug.py' not in result.stdout  # the jugfile's frames only
    assert not (tmp_path / 'raises.jugdata').exists()


@pytest.mark.parametrize('command', ['execute', 'status'])
def test_jugdir_that_is_a_file(run_jug, tmp_path, command):
    (tmp_path / 'primes.py').write_text(PRIMES)
    (tmp_path / 'notadir').write_text('')
    result = run_jug(command, 'primes.py', '--jugdir', 'notadir')
    assert result.returncode == 1
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith('jug: error:') and 'notadir' in lines[0]
    assert (tmp_path / 'notadir').read_text() == ''


def test_jugdir_that_cannot_be_created(run_jug, tmp_path):
    (tmp_path / 'primes.py').write_text(PRIMES)
    (tmp_path / 'blocker').write_text('')
    result = run_jug('execute', 'primes.py', '--jugdir', 'blocker/sub')
    assert result.returncode == 1
    lines = _error_lines(result.stderr)
    assert lines[-1].startswith('jug: error:') and 'blocker/sub' in lines[-1]
    assert 'Traceback' not in result.stderr


def test_unknown_subcommand(run_jug):
    result = run_jug('frobnicate')
    assert result.returncode == 2
    assert 'frobnicate' in result.stderr


@pytest.mark.parametrize('args', [['--nr-wait-cycles', 'abc'], ['--wait-cycle-time', 'x'],
                                  ['--pattern', ''], ['--name', 'a', '--pattern', 'b']])
def test_bad_option_values(run_jug, tmp_path, args):
    (tmp_path / 'primes.py').write_text(PRIMES)
    result = run_jug('execute', 'primes.py', *args)
    assert result.returncode == 2
    assert result.stderr.strip()
    assert not (tmp_path / 'primes.jugdata').exists()


def test_no_arguments_prints_usage(run_jug):
    result = run_jug()
    assert result.returncode == 1
    assert 'jug SUBCOMMAND [JUGFILE] [OPTIONS...]' in result.stdout
    assert '   execute:' in result.stdout


def test_version(run_jug):
    result = run_jug('--version')
    assert result.returncode == 0
    assert result.stdout.strip() == '2.7.0'


@pytest.mark.parametrize('command', ['status', 'execute', 'check'])
def test_unreadable_jugdir(command, monkeypatch):
    """A jugdir the user may not read: one clear error line, exit 1."""
    import os
    import shutil
    import tempfile
    shared = tempfile.mkdtemp(prefix='jugperm')
    try:
        os.chmod(shared, 0o777)
        with open(os.path.join(shared, 'primes.py'), 'w') as jugfile:
            jugfile.write(PRIMES)
        os.mkdir(os.path.join(shared, 'primes.jugdata'))
        os.chmod(os.path.join(shared, 'primes.jugdata'), 0)
        monkeypatch.setattr('sys.argv', ['jug'])
        code, stderr = main_unprivileged(['jug', command, 'primes.py'], shared)
        assert code == 1, stderr
        lines = _error_lines(stderr)
        assert len(lines) == 1 and lines[0].startswith('jug: error:'), stderr
        assert 'primes.jugdata' in lines[0]
    finally:
        shutil.rmtree(shared, ignore_errors=True)
