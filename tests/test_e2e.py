"""End to end: the real ``jug`` command in subprocesses, several workers at once."""
import collections
import os
import subprocess
import textwrap

import pytest

from jugtest import jug_command, jug_env

MANY_TASKS = textwrap.dedent('''
    import os
    import time
    from jug import TaskGenerator

    LOG = os.path.abspath('runs.log')

    @TaskGenerator
    def work(i):
        started = time.time()
        time.sleep(0.01)
        with open(LOG, 'a') as log:
            log.write(f'{i} {os.getpid()} {started} {time.time()}\\n')
        return i * i

    @TaskGenerator
    def total(values):
        return sum(values)

    squares = [work(i) for i in range(200)]
    result = total(squares)
''')


@pytest.fixture(params=['file', 'redis'])
def jugdir(request, tmp_path):
    """The store the workers share: a directory, or a real redis server."""
    if request.param == 'file':
        return str(tmp_path / 'many.jugdata')
    return request.getfixturevalue('redis_url')


def test_four_workers_run_every_task_exactly_once(tmp_path, monkeypatch, jugdir):
    (tmp_path / 'many.py').write_text(MANY_TASKS)
    workers = [subprocess.Popen(jug_command('execute', 'many.py', '--will-cite',
                                            '--wait-cycle-time', '0.1', '--jugdir', jugdir),
                                cwd=tmp_path, env=jug_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    outputs = [w.communicate(timeout=120) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err
    runs = [line.split() for line in (tmp_path / 'runs.log').read_text().splitlines()]
    per_task = collections.Counter(int(run[0]) for run in runs)
    assert per_task == {i: 1 for i in range(200)}
    pids = {run[1] for run in runs}
    assert len(pids) >= 2, 'the tasks were not shared between workers'
    assert pids <= {str(w.pid) for w in workers}

    check = subprocess.run(jug_command('check', 'many.py', '--jugdir', jugdir), cwd=tmp_path,
                           env=jug_env())
    assert check.returncode == 0
    from jug.jug import init
    from jug import value
    monkeypatch.chdir(tmp_path)
    store, space = init('many.py', jugdir)
    assert value(space['result']) == sum(i * i for i in range(200))
    assert value(space['squares']) == [i * i for i in range(200)]
    assert list(store.listlocks()) == []
    store.close()
    if not jugdir.startswith('redis:'):
        assert not os.listdir(tmp_path / 'many.jugdata' / 'tempfiles')
