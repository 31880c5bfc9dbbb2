"""``jug --print-completion SHELL`` without shtab: a message and exit code 1."""
import sys

import pytest

import jug.options


def test_print_completion_without_shtab(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'shtab', None)  # makes `import shtab` fail
    with pytest.raises(SystemExit) as e:
        jug.options.parse(['--print-completion', 'bash'])
    assert e.value.code == 1
    captured = capsys.readouterr()
    assert 'shtab' in captured.err and 'pip install shtab' in captured.err
    assert captured.out == ''


def test_print_completion_rejects_unknown_shell(capsys):
    with pytest.raises(SystemExit) as e:
        jug.options.parse(['--print-completion', 'fish'])
    assert e.value.code == 2
