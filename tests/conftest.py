"""Shared fixtures: every test starts with clean compatibility globals.

``jug.task.alltasks``, ``jug.task.Task.store`` and the hook registry are module-level
state kept for compatibility with Jug 2.7 (DESIGN.md, Tests).  The autouse fixture
below saves and restores them around every test so no test has to remember to.
"""
import os
import sys

import pytest

from jugtest import JUGFILES, Output, jug_command, jug_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(autouse=True)
def clean_jug_globals():
    """Reset ``alltasks``, ``Task.store``, the hooks and the running flag around each test."""
    import jug.jug
    import jug.task
    from jug.hooks import reset_all_hooks
    saved_running = jug.jug._is_jug_running
    saved_alltasks = jug.task.alltasks
    saved_store = jug.task.Task.store
    jug.task.alltasks = []
    jug.task.Task.store = None
    reset_all_hooks()
    yield
    jug.task.alltasks = saved_alltasks
    jug.task.Task.store = saved_store
    jug.jug._is_jug_running = saved_running
    reset_all_hooks()


@pytest.fixture
def jug_options(tmp_path, monkeypatch):
    """Return ``make(name, **values)``: options for tests/jugfiles/<name>.py in tmp_path."""
    import shutil

    from jug.options import default_options
    monkeypatch.chdir(tmp_path)

    def make(name, **values):
        shutil.copy(os.path.join(JUGFILES, name + '.py'), tmp_path)
        options = default_options.copy()
        options.jugfile = name + '.py'
        options.jugdir = values.pop('jugdir', name + '.jugdata')
        options.will_cite = True
        options.print_out = Output()
        options.update(values)
        return options
    return make


@pytest.fixture
def run_jug(tmp_path):
    """Run ``jug`` in ``tmp_path``; returns the CompletedProcess (text output)."""
    import subprocess

    def run(*args, cwd=None, timeout=120, **env):
        return subprocess.run(jug_command(*args), cwd=cwd or tmp_path, env=jug_env(**env),
                              capture_output=True, text=True, timeout=timeout)
    return run


# A real redis-server: `redis_server` (session) and `redis_url` (emptied per test).
from redisserver import redis_server, redis_url  # noqa: E402,F401  (fixtures)
