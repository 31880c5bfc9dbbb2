"""``jug test-jug``: the self-check runs for real and passes."""
import time

from jug.subcommands import internal_validation as iv


def test_self_check_passes():
    lines = []
    start = time.time()
    assert iv.validate(lines.append) == 0, '\n'.join(lines)
    assert time.time() - start < 60
    assert lines[-1] == 'jug test-jug: all checks passed.'
    assert sum(line.startswith('  ok') for line in lines) == 4


def test_a_failing_step_returns_1(monkeypatch):
    monkeypatch.setitem(iv.EXPECTED, 'final', -1)
    lines = []
    assert iv.validate(lines.append) == 1
    assert any('FAILED' in line for line in lines)
    assert lines[-1] == 'jug test-jug: the check failed.'


def test_cli(run_jug):
    proc = run_jug('test-jug')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'all checks passed' in proc.stdout
