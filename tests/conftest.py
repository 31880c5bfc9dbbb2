"""Shared fixtures: every test starts with clean compatibility globals.

``jug.task.alltasks``, ``jug.task.Task.store`` and the hook registry are module-level
state kept for compatibility with Jug 2.7 (DESIGN.md, Tests).  The autouse fixture
below saves and restores them around every test so no test has to remember to.
"""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(autouse=True)
def clean_jug_globals():
    """Reset ``alltasks``, ``Task.store`` and the hooks around each test."""
    import jug.task
    from jug.hooks import reset_all_hooks
    saved_alltasks = jug.task.alltasks
    saved_store = jug.task.Task.store
    jug.task.alltasks = []
    jug.task.Task.store = None
    reset_all_hooks()
    yield
    jug.task.alltasks = saved_alltasks
    jug.task.Task.store = saved_store
    reset_all_hooks()
