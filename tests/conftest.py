"""Shared fixtures; above all, the one reset of jug's global state around every test.

Some state is module-level on purpose: ``jug.task.alltasks``, ``Task.store`` and the
hook registry are compatibility surface (docs/compatibility.rst), the command registry
and the jugdir forms are registries, the heartbeat is one per process.  Commands also
change process-wide settings: ``sys.argv`` (``parse``), the root logger's level
(``--verbose``), signal handlers (``jug execute``).  The autouse fixture below saves
and restores all of it, so that no test has to remember to (docs/architecture.rst,
"Tests").
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
    """Give each test fresh jug globals, and restore everything afterwards."""
    import logging
    import signal
    import jug.jug
    import jug.task
    from jug.backends.leases import heartbeat
    from jug.hooks import reset_all_hooks
    from jug.subcommands import cmdapi
    forms = sys.modules['jug.backends.select']  # jug.backends.select is the function
    # the built-in commands (and their options' defaults) are part of the state every
    # test starts from, whichever test runs first: importing a module registers once
    cmdapi.load_builtin_commands()
    saved = {
        'running': jug.jug._is_jug_running, 'alltasks': jug.task.alltasks,
        'store': jug.task.Task.store, 'argv': list(sys.argv),
        'level': logging.getLogger().level,
        'signals': {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)},
        'commands': dict(cmdapi._commands),
        'command_defaults': dict(vars(cmdapi.default_options)),
        'forms': (dict(forms._EXACT), dict(forms._PREFIXES), set(forms._PRIVATE)),
    }
    jug.task.alltasks = []
    jug.task.Task.store = None
    reset_all_hooks()
    yield
    jug.task.alltasks = saved['alltasks']
    jug.task.Task.store = saved['store']
    jug.jug._is_jug_running = saved['running']
    reset_all_hooks()
    sys.argv[:] = saved['argv']
    logging.getLogger().setLevel(saved['level'])
    for sig, handler in saved['signals'].items():
        signal.signal(sig, handler)
    dict.clear(cmdapi._commands)
    dict.update(cmdapi._commands, saved['commands'])
    for key in set(vars(cmdapi.default_options)) - set(saved['command_defaults']):
        delattr(cmdapi.default_options, key)
    vars(cmdapi.default_options).update(saved['command_defaults'])
    for registry, content in zip((forms._EXACT, forms._PREFIXES, forms._PRIVATE),
                                 saved['forms']):
        registry.clear()
        registry.update(content)
    heartbeat.drop_where(lambda lease: True)  # locks a test did not release: not ours


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
# A real single-node SLURM cluster: `slurm_cluster` (session).
from slurmcluster import slurm_cluster  # noqa: E402,F401  (fixture)


@pytest.fixture(params=['idle', 'contended'])
def cpu_contention(request):
    """Run the test twice: on an idle machine, and beside two processes that keep the
    CPUs busy (workers and their heartbeat helpers are then scheduled late)."""
    import subprocess
    if request.param == 'idle':
        yield False
        return
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(2)]
    try:
        yield True
    finally:
        for process in busy:
            process.kill()
            process.wait()
