"""Tests of jug.internal.debugger."""
import os
import pdb
import subprocess
import sys

import pytest

import jug.internal.debugger as debugger

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class RecordingDebugger:
    def __init__(self):
        self.calls = []

    def reset(self):
        self.calls.append('reset')

    def interaction(self, frame, tb):
        self.calls.append(('interaction', frame, tb))


def test_debug_exception_is_post_mortem_on_current_exception(monkeypatch):
    fake = RecordingDebugger()
    monkeypatch.setattr(debugger, '_get_debugger', lambda: fake)
    try:
        raise KeyError('boom')
    except KeyError:
        expected_tb = sys.exc_info()[2]
        debugger.debug_exception()
    assert fake.calls == ['reset', ('interaction', None, expected_tb)]


def test_debug_exception_outside_handler():
    with pytest.raises(ValueError):
        debugger.debug_exception()


def test_get_debugger_prefers_ipython():
    from IPython.core.debugger import Pdb as IPythonPdb
    assert isinstance(debugger._get_debugger(), IPythonPdb)


def test_get_debugger_falls_back_to_pdb(monkeypatch):
    monkeypatch.setitem(sys.modules, 'IPython.core.debugger', None)
    d = debugger._get_debugger()
    assert type(d) is pdb.Pdb


def test_import_does_not_import_ipython():
    code = ('import sys, jug.internal.debugger\n'
            'assert "IPython" not in sys.modules, "IPython imported"\n')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=ROOT)
