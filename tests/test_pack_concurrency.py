"""``jug pack`` running again and again while two workers execute: no result is lost."""
import subprocess
import time

from jug import value
from jug.jug import init
from jugtest import jug_command, jug_env

JUGFILE = '''
import time
from jug import TaskGenerator

@TaskGenerator
def square(i):
    time.sleep(0.005)
    return i * i

@TaskGenerator
def plus(a, b):
    return a + b

squares = [square(i) for i in range(120)]
pairs = [plus(squares[i], squares[i + 1]) for i in range(119)]
'''


def test_packing_while_workers_run(tmp_path, monkeypatch):
    (tmp_path / 'packme.py').write_text(JUGFILE)
    workers = [subprocess.Popen(jug_command('execute', 'packme.py', '--will-cite',
                                            '--wait-cycle-time', '0.1'),
                                cwd=tmp_path, env=jug_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    packs = 0
    deadline = time.time() + 90
    while any(w.poll() is None for w in workers):
        assert time.time() < deadline
        packed = subprocess.run(jug_command('pack', 'packme.py'), cwd=tmp_path, env=jug_env(),
                                capture_output=True, text=True, timeout=60)
        assert packed.returncode == 0, packed.stderr
        packs += 1
    for w in workers:
        _, err = w.communicate()
        assert w.returncode == 0, err
    assert packs >= 2
    assert subprocess.run(jug_command('check', 'packme.py'), cwd=tmp_path,
                          env=jug_env()).returncode == 0
    monkeypatch.chdir(tmp_path)
    store, space = init('packme.py', 'packme.jugdata')
    assert store.packed  # results were packed while the workers ran
    assert value(space['squares']) == [i * i for i in range(120)]
    assert value(space['pairs']) == [i * i + (i + 1) ** 2 for i in range(119)]


def test_update_pack_counts_what_it_packed_when_files_vanish(tmp_path, monkeypatch):
    from jug.backends.file_store import file_store
    store = file_store(str(tmp_path / 'jd'))
    keys = [b'%040x' % i for i in range(6)]
    for i, key in enumerate(keys):
        store.dump(i, key)
    modify = type(store)._modify_pack

    def another_process_removes_two(self, fn):
        store.remove(keys[0])  # between the scan and the pack's update
        import os
        os.unlink(store._getfname(keys[1]))
        return modify(self, fn)
    monkeypatch.setattr(type(store), '_modify_pack', another_process_removes_two)
    assert store.update_pack() == 4
    monkeypatch.undo()
    assert sorted(file_store(str(tmp_path / 'jd')).packed) == sorted(keys[2:])
