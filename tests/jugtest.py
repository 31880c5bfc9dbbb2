"""Helpers for tests that run the real ``jug`` command in subprocesses."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jug_command(*args):
    """The argv that runs the ``jug`` command of this checkout with this interpreter."""
    return [sys.executable, '-m', 'jug', *args]


def jug_env(**extra):
    """Environment for jug subprocesses: this checkout first on the path, no JUG_* limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('JUG_')}
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env['COLUMNS'] = '200'
    env.update(extra)
    return env

