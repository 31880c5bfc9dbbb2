"""Code-change awareness (docs/failures.rst, "Code changes"): run records keep a
fingerprint of the task's function; ``jug status`` says, once per function, how many
results another version of its code computed; ``jug invalidate --code-changed`` forgets
exactly those and what depends on them; nothing is ever automatic."""
import subprocess

import pytest

from jug.backends.dict_store import dict_store
from jug.backends.file_store import file_store
from jug.codeversions import fingerprint
from jugtest import jug_command, jug_env

PIPELINE = '''
from jug import TaskGenerator


@TaskGenerator
def double(x):
    return 2 * x


@TaskGenerator
def plus_one(x):
    return x + 1


@TaskGenerator
def total(values):
    return sum(values)


doubled = [double(i) for i in range(4)]
shifted = [plus_one(i) for i in range(3)]
result = total(doubled + shifted)
'''

NOTE = ('4 results of jf.double computed by another version of its code (`jug invalidate '
        '--code-changed --name jf.double` forgets them, and what depends on them).')


@pytest.fixture(params=['file', 'redis'])
def jugdir(request, tmp_path):
    if request.param == 'file':
        return str(tmp_path / 'jf.jugdata')
    return request.getfixturevalue('redis_url')


def _jug(tmp_path, jugdir, *args):
    return subprocess.run(jug_command(*args, '--jugdir', jugdir, '--will-cite'),
                          cwd=tmp_path, env=jug_env(), capture_output=True, text=True,
                          timeout=60)


def _executed(out):
    """``{name: executed count}`` from the summary table of ``jug execute``."""
    rows = [line.split() for line in out.splitlines() if line.strip().endswith(
        ('jf.double', 'jf.plus_one', 'jf.total'))]
    return {row[2]: int(row[0]) for row in rows if int(row[0])}


def test_a_changed_function_is_noticed_and_only_its_results_are_recomputed(tmp_path, jugdir):
    (tmp_path / 'jf.py').write_text(PIPELINE)
    assert _jug(tmp_path, jugdir, 'execute', 'jf.py').returncode == 0
    before = _jug(tmp_path, jugdir, 'status', 'jf.py', '--short')
    assert before.stdout.splitlines() == ['All tasks complete (8 tasks).']
    (tmp_path / 'jf.py').write_text(PIPELINE.replace('return 2 * x', 'return x + x'))
    status = _jug(tmp_path, jugdir, 'status', 'jf.py', '--short')
    assert status.stdout.splitlines() == ['All tasks complete (8 tasks).', NOTE]
    table = _jug(tmp_path, jugdir, 'status', 'jf.py')
    assert table.stdout.splitlines()[-1] == NOTE  # once, after the table
    dry = _jug(tmp_path, jugdir, 'invalidate', 'jf.py', '--code-changed', '--dry-run')
    assert [line.split() for line in dry.stdout.splitlines()[2:4]] == \
        [['4', 'jf.double'], ['1', 'jf.total']]
    assert dry.stdout.splitlines()[0].split()[:2] == ['Would', 'remove']
    assert _jug(tmp_path, jugdir, 'status', 'jf.py', '--short').stdout.splitlines() == \
        ['All tasks complete (8 tasks).', NOTE]  # the dry run removed nothing
    gone = _jug(tmp_path, jugdir, 'invalidate', 'jf.py', '--code-changed')
    assert gone.returncode == 0, gone.stderr
    assert [line.split() for line in gone.stdout.splitlines()[2:4]] == \
        [['4', 'jf.double'], ['1', 'jf.total']]
    again = _jug(tmp_path, jugdir, 'execute', 'jf.py')
    assert _executed(again.stdout) == {'jf.double': 4, 'jf.total': 1}
    assert _jug(tmp_path, jugdir, 'status', 'jf.py', '--short').stdout.splitlines() == \
        ['All tasks complete (8 tasks).']  # no other version is left


def test_code_changed_with_a_name_and_unknown_results(tmp_path):
    (tmp_path / 'jf.py').write_text(PIPELINE)
    jugdir = str(tmp_path / 'jf.jugdata')
    assert _jug(tmp_path, jugdir, 'execute', 'jf.py').returncode == 0
    store = file_store(jugdir)
    store.remove_records([k for k in store.list_records()
                          if store.load_record(k)['name'] == 'jf.plus_one'])  # as Jug 2.7
    (tmp_path / 'jf.py').write_text(PIPELINE.replace('return 2 * x', 'return x + x')
                                    .replace('return x + 1', 'return 1 + x'))
    only = _jug(tmp_path, jugdir, 'invalidate', 'jf.py', '--code-changed', '--name',
                'plus_one')
    assert only.stdout.splitlines()[0] == (
        '3 results of jf.plus_one have no code fingerprint (computed by Jug 2.7, or before '
        'fingerprints were kept): left alone.')
    assert only.stdout.splitlines()[1] == 'No results invalidated.'
    assert _jug(tmp_path, jugdir, 'check', 'jf.py').returncode == 0


def test_invalidate_needs_a_selection(tmp_path):
    (tmp_path / 'jf.py').write_text(PIPELINE)
    run = _jug(tmp_path, str(tmp_path / 'jf.jugdata'), 'invalidate', 'jf.py')
    assert run.returncode == 2  # as argparse says it (with the usage first)
    assert run.stderr.splitlines()[-1] == ('jug invalidate: error: one of the arguments '
                                           '--name --pattern --code-changed is required')


def test_invalidate_dry_run_by_name(tmp_path):
    (tmp_path / 'jf.py').write_text(PIPELINE)
    jugdir = str(tmp_path / 'jf.jugdata')
    _jug(tmp_path, jugdir, 'execute', 'jf.py')
    dry = _jug(tmp_path, jugdir, 'invalidate', 'jf.py', '--name', 'plus_one', '--dry-run')
    assert [line.split() for line in dry.stdout.splitlines()[2:4]] == \
        [['3', 'jf.plus_one'], ['1', 'jf.total']]
    assert _jug(tmp_path, jugdir, 'check', 'jf.py').returncode == 0


def test_fingerprints_follow_the_source():
    def f(x):
        return x

    def g(x):
        return x

    def h(x):
        return x + 1
    assert fingerprint(f) != fingerprint(h)
    assert fingerprint(f) != fingerprint(g)  # (their names are in their source)
    assert fingerprint(f) == fingerprint(f) and len(fingerprint(f)) == 16
    assert fingerprint(len) is None  # no code


def test_stores_keep_code_versions(tmp_path):
    store = file_store(str(tmp_path / 'jd'))
    assert store.code_versions('m.f') == set()
    store.note_code_version('m.f', 'a' * 16)
    store.note_code_version('m.f', 'a' * 16)
    store.note_code_version('m.f', 'b' * 16)
    assert store.code_versions('m.f') == {'a' * 16, 'b' * 16}
    store.forget_code_version('m.f', 'a' * 16)
    assert store.code_versions('m.f') == {'b' * 16}


def test_a_store_without_versions_finds_them_in_its_records():
    store = dict_store()
    store.note_code_version('m.f', 'a' * 16)  # kept nowhere...
    store.save_record(b'1' * 40, {'name': 'm.f', 'code': 'c' * 16, 'status': 'finished'})
    store.save_record(b'2' * 40, {'name': 'm.g', 'code': 'd' * 16, 'status': 'finished'})
    assert store.code_versions('m.f') == {'c' * 16}  # ...the records tell
