"""Tests of jug.utils: identity and task selection (SPEC.md §2.2, §4.7, §5.5)."""
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
    assert '--target NAME, --invalid NAME' in out
    assert 'execute only the tasks' in out
