"""Tests of jug.utils: identity, task selection, CustomHash, timed_path, jug_execute,
sync_move and cached_glob (docs/utilities.rst;
task selection options: docs/subcommands.rst)."""
import argparse

import pytest

import jug.task
from jug.task import Task, Tasklet, value
from jug.utils import (_check_pattern, _DeprecatedTargetAction, _identity, _parse_pattern,
                       add_task_selection_options, identity, prepare_matcher_from_options,
                       prepare_name_matcher, prepare_task_matcher)


# ---------------------------------------------------------------------------- identity

@pytest.fixture
def dict_store():
    from jug.backends.dict_store import dict_store
    jug.task.Task.store = dict_store()
    return jug.task.Task.store


def test_identity_hash_vectors():
    assert identity(5).hash() == b'1cb257fe97fe30c1018923f7682027132c8080ff'
    assert identity([1, 2]).hash() == b'68eed400c6440011b740bd947d526f9356e14759'


def test_identity_task():
    t = identity(5)
    assert isinstance(t, Task)
    assert t.name == 'identity'
    assert t.f is _identity
    assert t.args == (5,)
    assert jug.task.alltasks == [t]


def test_identity_name_differs_from_module_qualified_name():
    assert identity(5).hash() != Task(_identity, 5).hash()


def test_identity_returns_tasks_unchanged():
    t = Task(sum, [1, 2])
    assert identity(t) is t
    let = t[0]
    assert isinstance(let, Tasklet)
    assert identity(let) is let
    assert jug.task.alltasks == [t]


def test_identity_value(dict_store):
    t = Task(sum, [1, 2])
    i = identity([t, 10])
    assert list(i.dependencies()) == [t]
    t.run()
    assert i.run() == [3, 10]
    i.unload()
    assert value(i) == [3, 10]


def test_all_lists_existing_names():
    import jug.utils
    assert 'identity' in jug.utils.__all__
    assert all(hasattr(jug.utils, name) for name in jug.utils.__all__)


def test_all_is_the_spec_list():
    import jug.utils
    assert sorted(jug.utils.__all__) == sorted(
        ['timed_path', 'identity', 'jug_execute', 'CustomHash', 'sync_move', 'cached_glob'])


# ------------------------------------------------------------------ loose --pattern

@pytest.mark.parametrize('pattern, name, matches', [
    ('func', 'mod.func', True),
    ('func', 'mod.a_func_b', True),
    ('unc', 'mod.func', True),
    ('other', 'mod.func', False),
    ('mod.f', 'mod.func', True),
    ('mod.f', 'modxfunc', False),       # the dot is literal, not a regex
    ('a+b', 'x.a+b', True),
    ('/^mod\\./', 'mod.func', True),
    ('/^mod\\./', 'pkg.mod.func', False),
    ('/f.nc$/', 'mod.func', True),
    ('/f.nc$/', 'mod.func_x', False),
    ('/', 'a/b', True),                 # a single slash is a literal
    ('/x', 'a/x', True),
    ('/x', 'x', False),
])
def test_prepare_task_matcher(pattern, name, matches):
    assert bool(prepare_task_matcher(pattern)(name)) is matches


@pytest.mark.parametrize('pattern', ['', '//'])
def test_prepare_task_matcher_empty(pattern):
    with pytest.raises(ValueError, match='empty pattern'):
        prepare_task_matcher(pattern)


def test_parse_pattern():
    assert _parse_pattern('/a.c/').search('xabc')
    assert not _parse_pattern('a.c').search('xabc')


def test_check_pattern():
    assert _check_pattern('/x/') == '/x/'
    with pytest.raises(argparse.ArgumentTypeError, match='empty pattern'):
        _check_pattern('')
    with pytest.raises(argparse.ArgumentTypeError, match='regular expression'):
        _check_pattern('/[/')


# ------------------------------------------------------------------ strict --name

@pytest.mark.parametrize('name, task_name, matches', [
    ('func', 'func', True),
    ('func', 'mod.func', True),
    ('func', 'pkg.mod.func', True),
    ('func', 'mod.func_other', False),
    ('func', 'mod.a_func', False),
    ('func', 'func.other', False),
    ('mod.func', 'mod.func', True),
    ('mod.func', 'pkg.mod.func', True),
    ('mod.func', 'pkg.xmod.func', False),
    ('mod.func', 'mod.funcs', False),
    ('f*', 'mod.func', True),
    ('f*', 'mod.gunc', False),
    ('*unc', 'mod.func', True),
    ('mod.*', 'pkg.mod.sub.func', True),   # * crosses dots
    ('*', 'anything.at.all', True),
    ('f?nc', 'mod.func', True),
    ('f?nc', 'mod.fnc', False),
    ('a+b', 'm.a+b', True),                # regex characters are literal
    ('a+b', 'm.aab', False),
    ('f(x)', 'm.f(x)', True),
    ('m.f', 'mxf', False),
    ('<lambda>', 'mod.<lambda>', True),
    ('identity', 'identity', True),
    ('', 'mod.func', False),
    ('', '', False),
    ('', 'mod.', False),
])
def test_prepare_name_matcher(name, task_name, matches):
    assert prepare_name_matcher(name)(task_name) is matches


# ------------------------------------------------------- prepare_matcher_from_options

def test_matcher_from_options_none(capsys):
    assert prepare_matcher_from_options() is None
    assert prepare_matcher_from_options(None, None) is None
    assert capsys.readouterr().err == ''


def test_matcher_from_options_name_only():
    matcher = prepare_matcher_from_options(name='func')
    assert matcher('mod.func')
    assert not matcher('mod.func_other')


def test_matcher_from_options_pattern_only():
    matcher = prepare_matcher_from_options(pattern='func')
    assert matcher('mod.func_other')
    assert not matcher('mod.other')


def test_matcher_from_options_empty_pattern():
    with pytest.raises(ValueError, match='empty pattern'):
        prepare_matcher_from_options(pattern='')


def test_matcher_from_options_both(capsys):
    matcher = prepare_matcher_from_options(name='mod.*', pattern='/_a$/')
    err = capsys.readouterr().err
    assert 'warning' in err
    assert 'both a name and a pattern' in err
    assert matcher('mod.f_a')
    assert not matcher('mod.f_b')     # name matches, pattern does not
    assert not matcher('other.f_a')   # pattern matches, name does not


# ------------------------------------------------------------------ argparse options

def make_parser(required=False):
    parser = argparse.ArgumentParser(prog='jug-test')
    group = parser.add_argument_group('selection')
    add_task_selection_options(group, 'sel_name', 'sel_pattern', required, 'execute')
    return parser


def test_options_absent():
    args = make_parser().parse_args([])
    assert args.sel_name is None
    assert args.sel_pattern is None


def test_options_name_and_pattern():
    assert make_parser().parse_args(['--name', 'mod.f']).sel_name == 'mod.f'
    args = make_parser().parse_args(['--pattern', '/^m/'])
    assert args.sel_pattern == '/^m/'
    assert args.sel_name is None


@pytest.mark.parametrize('pattern', ['', '//'])
def test_options_empty_pattern_exits_2(capsys, pattern):
    with pytest.raises(SystemExit) as e:
        make_parser().parse_args(['--pattern', pattern])
    assert e.value.code == 2
    assert 'empty pattern' in capsys.readouterr().err


@pytest.mark.parametrize('option', ['--target', '--invalid'])
def test_deprecated_options(capsys, option):
    args = make_parser().parse_args([option, 'mod.f'])
    assert args.sel_name == 'mod.f'
    err = capsys.readouterr().err
    assert f'{option} is deprecated' in err
    assert '--name' in err
    assert '--pattern' in err


def test_deprecated_action_class():
    parser = argparse.ArgumentParser()
    parser.add_argument('--old', dest='new', action=_DeprecatedTargetAction)
    assert parser.parse_args(['--old', 'v']).new == 'v'


@pytest.mark.parametrize('argv', [
    ['--name', 'a', '--pattern', 'b'],
    ['--name', 'a', '--target', 'b'],
    ['--pattern', 'a', '--invalid', 'b'],
])
def test_options_are_mutually_exclusive(capsys, argv):
    with pytest.raises(SystemExit) as e:
        make_parser().parse_args(argv)
    assert e.value.code == 2
    assert 'not allowed with' in capsys.readouterr().err


def test_options_required(capsys):
    with pytest.raises(SystemExit) as e:
        make_parser(required=True).parse_args([])
    assert e.value.code == 2
    assert make_parser(required=True).parse_args(['--target', 'x']).sel_name == 'x'


def test_help_mentions_action(capsys):
    with pytest.raises(SystemExit):
        make_parser().parse_args(['--help'])
    out = capsys.readouterr().out
    assert '--name NAME' in out
    assert '--pattern PATTERN' in out
    # Python 3.13 writes the metavar once: "--target, --invalid NAME"
    assert ('--target NAME, --invalid NAME' in out) or ('--target, --invalid NAME' in out)
    assert 'execute only the tasks' in out


# ------------------------------------------------------------------------ CustomHash

def test_custom_hash_vector():
    from jug.hash import hash_one
    from jug.utils import CustomHash
    assert hash_one(CustomHash(5, lambda x: b'abc')) == \
        b'2652f7bade454597149c574d6f3ffd2a2fd22a4e'


def test_custom_hash_uses_the_function_only():
    from jug.hash import hash_one
    from jug.utils import CustomHash
    calls = []

    def fn(obj):
        calls.append(obj)
        return b'same'

    ch = CustomHash([1, 2], fn)
    assert ch.obj == [1, 2]
    assert ch.hash_function is fn
    assert hash_one(ch) == hash_one(CustomHash([3], fn))
    assert calls == [[1, 2], [3]]
    assert Task(sorted, ch).hash() != Task(sorted, [1, 2]).hash()


def test_custom_hash_value_and_dependencies(dict_store):
    from jug.utils import CustomHash
    t = Task(sorted, [3, 1, 2])
    ch = CustomHash(t, lambda obj: b'x')
    user = Task(len, ch)
    assert list(user.dependencies()) == [t]
    assert not user.can_run()
    t.run()
    assert value(ch) == [1, 2, 3]
    assert user.run() == 3


def test_custom_hash_of_plain_value(dict_store):
    from jug.utils import CustomHash
    user = Task(len, CustomHash('abcd', lambda obj: b'x'))
    assert list(user.dependencies()) == []
    assert user.run() == 4
    assert 'CustomHash' in repr(user)


# ------------------------------------------------------------------------ timed_path

def test_hash_with_mtime_size(tmp_path):
    import os
    from jug.hash import hash_one
    from jug.utils import hash_with_mtime_size
    path = str(tmp_path / 'f.txt')
    with open(path, 'w') as f:
        f.write('hello!')
    os.utime(path, (1704067200.5, 1704067200.5))
    # the mtime in whole seconds, as an int (Jug 2.7's value), not the float
    assert hash_with_mtime_size(path) == hash_one((path, 1704067200, 6))
    assert hash_with_mtime_size(path) != hash_one((path, 1704067200.5, 6))
    os.utime(path, (1704067200.9, 1704067200.9))  # a touch within the same second
    assert hash_with_mtime_size(path) == hash_one((path, 1704067200, 6))


def test_timed_path_changes_with_mtime(tmp_path):
    import os
    from jug.utils import CustomHash, timed_path
    path = str(tmp_path / 'input.txt')
    with open(path, 'w') as f:
        f.write('abc')
    os.utime(path, (1_600_000_000, 1_600_000_000))
    tp = timed_path(path)
    assert isinstance(tp, CustomHash)
    before = tp.__jug_hash__()
    task_before = Task(len, timed_path(path)).hash()
    assert timed_path(path).__jug_hash__() == before   # nothing changed
    with open(path, 'w') as f:                         # same size, new content
        f.write('xyz')
    os.utime(path, (1_600_000_002, 1_600_000_002))
    assert timed_path(path).__jug_hash__() != before
    assert Task(len, timed_path(path)).hash() != task_before


def test_timed_path_changes_with_size(tmp_path):
    import os
    from jug.utils import timed_path
    path = str(tmp_path / 'input.txt')
    with open(path, 'w') as f:
        f.write('abc')
    os.utime(path, (1_600_000_000, 1_600_000_000))
    before = timed_path(path).__jug_hash__()
    with open(path, 'w') as f:
        f.write('abcd')
    os.utime(path, (1_600_000_000, 1_600_000_000))
    assert timed_path(path).__jug_hash__() != before


def test_timed_path_value_is_the_path(tmp_path, dict_store):
    import os
    from jug.utils import timed_path
    path = str(tmp_path / 'input.txt')
    with open(path, 'w') as f:
        f.write('abc')
    assert value(timed_path(path)) == path
    assert Task(os.path.basename, timed_path(path)).run() == 'input.txt'


def test_timed_path_missing_file(tmp_path):
    from jug.utils import timed_path
    with pytest.raises(FileNotFoundError):
        timed_path(str(tmp_path / 'missing')).__jug_hash__()


# ------------------------------------------------------------------------ jug_execute

def test_jug_execute_is_a_task_generator():
    from jug.hash import hash_one
    from jug.task import TaskGenerator
    from jug.utils import jug_execute
    assert isinstance(jug_execute, TaskGenerator)
    t = jug_execute(['true'])
    assert t.name == 'jug.utils.jug_execute'
    assert t.args == (['true'],)
    hash_one(jug_execute)   # picklable: reachable as jug.utils.jug_execute


def test_jug_execute_success(dict_store):
    import sys
    from jug.utils import jug_execute
    t = jug_execute([sys.executable, '-c', 'pass'], return_value={'ok': 1})
    assert t.run() == {'ok': 1}
    assert jug_execute([sys.executable, '-c', 'pass']).run() is None


def test_jug_execute_failure(dict_store):
    import sys
    from jug.utils import jug_execute
    args = [sys.executable, '-c', 'import sys; sys.exit(3)']
    t = jug_execute(args)
    with pytest.raises(SystemError) as e:
        t.run()
    assert repr(args) in str(e.value)
    assert '3' in str(e.value).replace(repr(args), '')
    assert not t.can_load()


def test_jug_execute_unchecked_failure(dict_store):
    import sys
    from jug.utils import jug_execute
    args = [sys.executable, '-c', 'import sys; sys.exit(3)']
    assert jug_execute(args, check_exit=False, return_value=7).run() == 7


def test_jug_execute_runs_after(dict_store, tmp_path):
    import sys
    from jug.utils import jug_execute
    out = tmp_path / 'out.txt'
    first = Task(sorted, [2, 1])
    t = jug_execute([sys.executable, '-c', f'open({str(out)!r}, "w").write("done")'],
                    run_after=first)
    assert list(t.dependencies()) == [first]
    assert not t.can_run()
    first.run()
    t.run()
    assert out.read_text() == 'done'


# ------------------------------------------------------------------------ sync_move

def test_sync_move(tmp_path, monkeypatch):
    import jug.backends.file_store
    from jug.utils import sync_move
    synced = []
    monkeypatch.setattr(jug.backends.file_store, 'fsync_dir', synced.append)
    src = tmp_path / 'a.tmp'
    dst = tmp_path / 'sub' / 'a.txt'
    dst.parent.mkdir()
    dst.write_text('old')
    src.write_text('new')
    sync_move(str(src), str(dst))
    assert not src.exists()
    assert dst.read_text() == 'new'
    assert synced == [str(dst)]


def test_sync_move_really_syncs(tmp_path):
    from jug.utils import sync_move
    src = tmp_path / 'a'
    src.write_bytes(b'x')
    sync_move(str(src), str(tmp_path / 'b'))
    assert (tmp_path / 'b').read_bytes() == b'x'


def test_sync_move_missing_source(tmp_path):
    from jug.utils import sync_move
    with pytest.raises(FileNotFoundError):
        sync_move(str(tmp_path / 'nothing'), str(tmp_path / 'b'))


# ------------------------------------------------------------------------ cached_glob

def make_files(directory, names):
    for name in names:
        (directory / name).write_text(name)


def test_glob_sort(tmp_path):
    from jug.utils import glob_sort
    make_files(tmp_path, ['c.txt', 'a.txt', 'b.txt', 'x.csv'])
    pat = str(tmp_path / '*.txt')
    assert glob_sort(pat) == [str(tmp_path / n) for n in ['a.txt', 'b.txt', 'c.txt']]
    assert glob_sort(str(tmp_path / '*.none')) == []


def test_cached_glob_runs_then_loads(tmp_path):
    from jug.backends.file_store import file_store
    from jug.utils import cached_glob, glob_sort
    jug.task.Task.store = file_store(str(tmp_path / 'jugdata'))
    data = tmp_path / 'data'
    data.mkdir()
    make_files(data, ['b.txt', 'a.txt'])
    pat = str(data / '*.txt')
    expected = [str(data / 'a.txt'), str(data / 'b.txt')]

    assert cached_glob(pat) == expected
    [t] = jug.task.alltasks
    assert t.name == 'jug.utils.glob_sort'
    assert t.f is glob_sort
    assert t.can_load()

    # A new file is not seen: the second call loads the stored list.
    make_files(data, ['0.txt'])
    jug.task.alltasks = []
    loaded = cached_glob(pat)
    assert loaded == expected
    [t2] = jug.task.alltasks
    assert t2.hash() == t.hash()
    assert t2.is_loaded()


# ------------------------------------------------------------------------ imports

def test_vocabulary_modules_import_cheaply():
    import subprocess
    import sys
    code = ('import sys, jug, jug.utils, jug.io, jug.unsafe; '
            'print(sorted(m for m in ("numpy", "yaml", "subprocess") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == '[]'
