"""Dependency chains deeper than the recursion limit work in every command."""
import os
import shutil
import subprocess

import pytest

import jug.task
from jug import value
from jug.barrier import BarrierError, barrier, bvalue
from jug.backends.dict_store import dict_store
from jug.jug import init
from jug.task import Task
from jugtest import JUGFILES, jug_command, jug_env



def inc(x):
    return x + 1


def test_barrier_and_bvalue_on_a_deep_chain():
    Task.store = dict_store()
    t = Task(inc, 0)
    for _ in range(3000):
        t = Task(inc, t)
    with pytest.raises(BarrierError):
        barrier()
    with pytest.raises(BarrierError):
        bvalue(t)


def test_commands_on_a_deep_chain(tmp_path, monkeypatch):
    shutil.copy(os.path.join(JUGFILES, 'deep_chain.py'), tmp_path)

    def jug_cli(*args):
        return subprocess.run(jug_command(*args), cwd=tmp_path, env=jug_env(),
                              capture_output=True, text=True, timeout=300)
    status = jug_cli('status', 'deep_chain.py', '--short')
    assert status.stdout.strip() == \
        '3000 tasks waiting to be run, 0 failed, 0 complete, (none active).', status.stderr
    assert jug_cli('check', 'deep_chain.py').returncode == 1
    executed = jug_cli('execute', 'deep_chain.py', '--will-cite')
    assert executed.returncode == 0, executed.stderr
    assert jug_cli('check', 'deep_chain.py').returncode == 0
    assert jug_cli('status', 'deep_chain.py', '--short', '--cache').stdout.strip() == \
        'All tasks complete (3001 tasks).'
    monkeypatch.chdir(tmp_path)
    _, space = init('deep_chain.py', 'deep_chain.jugdata')
    assert value(space['final']) == 3001
    del jug.task.alltasks[:]
    invalidated = jug_cli('invalidate', 'deep_chain.py', '--name', 'inc')
    assert invalidated.returncode == 0, invalidated.stderr
    assert invalidated.stdout.splitlines()[-2].split() == ['3001', 'Total']
    cleaned = jug_cli('cleanup', 'deep_chain.py')
    assert cleaned.returncode == 0, cleaned.stderr


def test_hash_of_a_chain_far_deeper_than_the_recursion_limit():
    t = Task(inc, 0)
    for i in range(20000):
        t = Task(inc, t[0] if i % 2 else t)
    first = t.hash()
    assert len(first) == 40
    # the same chain built again hashes equally, whatever order hashes are asked in
    u = Task(inc, 0)
    chain = [u]
    for i in range(20000):
        u = Task(inc, u[0] if i % 2 else u)
        chain.append(u)
    for task in chain[::5000]:
        task.hash()
    assert u.hash() == first


def test_check_walks_a_deep_chain_from_its_end():
    from jug.subcommands.check import _check_or_sleep_until
    store = dict_store()
    Task.store = store
    t = Task(inc, 0)
    for _ in range(3000):
        t = Task(inc, t)
    assert _check_or_sleep_until(store, False) == 1
