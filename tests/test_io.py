"""Tests of jug.io: NoLoad, write_task_out, write_metadata (docs/utilities.rst) and the
task summary table (docs/subcommands.rst)."""
import io
import json
import pickle
import sys
import warnings
from collections import defaultdict
from types import SimpleNamespace

import pytest

import jug.task
from jug.barrier import BarrierError, bvalue
from jug.io import (NoLoad, _do_write_task_out, get_terminal_size, print_task_summary_table,
                    write_metadata, write_task_out)
from jug.task import Task, Tasklet, describe, value


def counts(**kw):
    return defaultdict(int, {name.replace('__', '.'): n for name, n in kw.items()})


def make_options(short=False):
    lines = []

    def print_out(line=None):
        # Record an empty call as None, to tell it apart from print_out('').
        lines.append(line)

    return SimpleNamespace(short=short, print_out=print_out), lines


@pytest.fixture
def columns(monkeypatch):
    def set_columns(n):
        monkeypatch.setenv('COLUMNS', str(n))
    return set_columns


def test_get_terminal_size_follows_columns(columns):
    columns(123)
    assert get_terminal_size().columns == 123


def test_table_layout(columns):
    columns(80)
    options, lines = make_options()
    executed = counts(jugfile__b=3, jugfile__a=1)
    loaded = counts(jugfile__c=10, jugfile__a=2)
    print_task_summary_table(options, [('Executed', executed), ('Loaded', loaded)])
    # 80 columns - 2 cells of 12 - 2 spaces = 54 for the name
    assert lines == [
        '    Executed      Loaded  Task name' + ' ' * 45,
        '-' * 80,
        '           1           2  jugfile.a' + ' ' * 45,
        '           3           0  jugfile.b' + ' ' * 45,
        '           0          10  jugfile.c' + ' ' * 45,
        '.' * 80,
        '           4          12  Total' + ' ' * 49,
        None,
    ]


def test_table_does_not_add_names_to_groups(columns):
    columns(80)
    options, lines = make_options()
    executed = counts(jugfile__b=3)
    loaded = counts(jugfile__a=2)
    print_task_summary_table(options, [('Executed', executed), ('Loaded', loaded)])
    assert dict(executed) == {'jugfile.b': 3}
    assert dict(loaded) == {'jugfile.a': 2}


def test_table_accepts_plain_dicts(columns):
    columns(40)
    options, lines = make_options()
    print_task_summary_table(options, [('A', {'x': 1}), ('B', {'y': 2})])
    assert lines[2].split() == ['1', '0', 'x']
    assert lines[3].split() == ['0', '2', 'y']


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_long_names_are_wrapped_on_a_terminal(columns, monkeypatch):
    monkeypatch.setattr(sys, 'stdout', _Terminal())
    columns(40)
    options, lines = make_options()
    name = 'jugfile.a_very_long_task_name_indeed'
    print_task_summary_table(options, [('Count', counts(**{name.replace('.', '__'): 7}))])
    # 40 - 12 - 2 = 26 for the name, wrapped at 22
    assert lines == [
        '       Count  Task name                 ',
        '-' * 40,
        '           7  jugfile.a_very_long_ta    ',
        '                  sk_name_indeed        ',
        '.' * 40,
        '           7  Total                     ',
        None,
    ]


def test_narrow_terminal_uses_minimum_width(columns):
    columns(30)
    options, lines = make_options()
    print_task_summary_table(options, [('Failed', counts(m__f=1)), ('Waiting', counts(m__f=2))])
    # 30 - 24 - 2 = 4 <= 8, so the name column is 12 wide
    assert lines[0] == '      Failed     Waiting  Task name   '
    assert lines[1] == '-' * 38
    assert lines[2] == '           1           2  m.f         '
    assert lines[-3] == '.' * 38


def test_many_words_wrap_on_spaces(columns, monkeypatch):
    monkeypatch.setattr(sys, 'stdout', _Terminal())
    columns(30)
    options, lines = make_options()
    print_task_summary_table(options, [('N', counts(**{'a b c d e f g h': 1}))])
    # width 30 - 12 - 2 = 16, wrapped at 12: 'a b c d e f', 'g h'
    assert lines[2] == '           1  a b c d e f     '
    assert lines[3] == '                  g h         '


def test_short_form(columns):
    columns(80)
    options, lines = make_options(short=True)
    print_task_summary_table(options, [('Executed', counts(m__a=2, m__b=3)),
                                       ('Loaded', counts(m__a=4))])
    assert lines == ['Executed:  5 tasks', 'Loaded:  4 tasks', '** Total: 9 tasks.']


def test_empty_groups(columns):
    columns(60)
    options, lines = make_options()
    print_task_summary_table(options, [('Invalidated', counts())])
    assert lines == [
        ' Invalidated  Task name' + ' ' * 37,
        '-' * 60,
        '.' * 60,
        '           0  Total' + ' ' * 41,
        None,
    ]


def test_default_print_out_is_usable_with_print(columns, capsys):
    columns(50)
    print_task_summary_table(SimpleNamespace(short=False, print_out=print),
                             [('Count', counts(m__f=1))])
    out = capsys.readouterr().out
    assert out.endswith('Total' + ' ' * 31 + '\n\n')


# ------------------------------------------------------------------------ NoLoad

@pytest.fixture
def dict_store():
    from jug.backends.dict_store import dict_store
    jug.task.Task.store = dict_store()
    return jug.task.Task.store


@pytest.fixture
def file_store(tmp_path):
    from jug.backends.file_store import file_store
    jug.task.Task.store = file_store(str(tmp_path / 'jugdata'))
    return jug.task.Task.store


def test_noload_hash_vector():
    assert NoLoad(Task(sum, [1, 2, 3])).__jug_hash__() == \
        b'b835fc8308458da4db8b9d287724bf52a675ea86'


def test_noload_is_a_tasklet():
    t = Task(sum, [1, 2, 3])
    nl = NoLoad(t)
    assert isinstance(nl, Tasklet)
    assert nl.base is t
    assert nl.f == 'NoLoad'
    assert nl.__jug_hash__() != Tasklet(t, abs).__jug_hash__()


def test_value_of_noload_is_itself(dict_store):
    t = Task(sum, [1, 2, 3])
    nl = NoLoad(t)
    assert value(nl) is nl           # even before t has run
    assert nl.value() is nl
    t.run()
    assert value(nl) is nl
    assert value([nl, t]) == [nl, 6]


def test_noload_makes_base_a_dependency(dict_store):
    t = Task(sum, [1, 2, 3])
    received = Task(_base_value, NoLoad(t))
    assert list(received.dependencies()) == [t]
    assert not received.can_run()
    t.run()
    t.unload()
    assert received.run() == 6       # the function got the NoLoad and loaded base itself


def _base_value(x):
    assert isinstance(x, NoLoad)
    return value(x.base)


def test_noload_cannot_be_indexed():
    nl = NoLoad(Task(sum, [1, 2, 3]))
    with pytest.raises(NotImplementedError):
        nl[0]


def test_noload_t_is_deprecated():
    t = Task(sum, [1, 2, 3])
    nl = NoLoad(t)
    with pytest.warns(DeprecationWarning):
        assert nl.t is t
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert nl.base is t


def test_bvalue_of_noload_needs_nothing(dict_store):
    t = Task(sum, [1, 2, 3])
    nl = NoLoad(t)
    assert bvalue(nl) is nl
    with pytest.raises(BarrierError):
        bvalue([nl, t])
    t.run()
    assert bvalue([nl, t]) == [nl, 6]


# ------------------------------------------------------------------ write_task_out

def run_all():
    """Run every task in creation order (dependencies come first)."""
    for t in jug.task.alltasks:
        if not t.can_load():
            t.run()


def test_write_task_out_task(dict_store, tmp_path):
    t = Task(sorted, [3, 1, 2])
    w = write_task_out(t, str(tmp_path / 'out'))
    assert w.name == 'jug.io._do_write_task_out'
    assert w.f is _do_write_task_out.f
    assert w.args[0] is t
    assert isinstance(w.args[1], NoLoad) and w.args[1].base is t
    assert w.args[2:] == (str(tmp_path / 'out'), None, 'yaml')
    assert list(w.dependencies()) == [t, t]
    assert not w.can_run()


def test_write_task_out_pickle(dict_store, tmp_path):
    out = tmp_path / 'out.pkl'
    t = Task(sorted, [3, 1, 2])
    w = write_task_out(t, str(out))
    run_all()
    assert w.can_load()
    assert value(w) is None
    with open(out, 'rb') as f:
        assert pickle.load(f) == [1, 2, 3]
    assert not (tmp_path / 'out.pkl.yaml').exists()


def test_write_task_out_numpy(dict_store, tmp_path):
    np = pytest.importorskip('numpy')
    out = tmp_path / 'array.bin'
    t = Task(np.arange, 6)
    write_task_out(t, str(out))
    run_all()
    assert out.read_bytes().startswith(b'\x93NUMPY')
    assert not (tmp_path / 'array.bin.npy').exists()
    assert np.array_equal(np.load(str(out)), np.arange(6))


def test_write_task_out_plain_value(dict_store, tmp_path):
    np = pytest.importorskip('numpy')
    arr = np.arange(4.0)
    out = tmp_path / 'plain'
    w = write_task_out(arr, str(out))
    assert w.args[1].base is arr
    assert list(w.dependencies()) == []
    assert jug.task.alltasks == [w]
    w.run()
    assert np.array_equal(np.load(str(out)), arr)


def test_write_task_out_with_metadata(file_store, tmp_path):
    yaml = pytest.importorskip('yaml')
    out = tmp_path / 'out'
    meta = tmp_path / 'out.yaml'
    t = Task(sorted, [3, 1, 2])
    write_task_out(t, str(out), metadata_fname=str(meta))
    run_all()
    with open(out, 'rb') as f:
        assert pickle.load(f) == [1, 2, 3]
    with open(meta) as f:
        assert yaml.safe_load(f) == describe(t)


@pytest.mark.parametrize('fmt', ['yaml', 'YAML', 'json', 'Json'])
def test_write_metadata_round_trips(file_store, tmp_path, fmt):
    if fmt.lower() == 'yaml':
        loader = pytest.importorskip('yaml').safe_load
    else:
        loader = json.load
    meta = tmp_path / 'meta'
    base = Task(sum, [1, 2, 3])
    t = Task(sorted, [base, 1], reverse=True)
    w = write_metadata(t, str(meta), metadata_format=fmt)
    assert w.args[2] is None
    run_all()
    with open(meta) as f:
        written = loader(f)
    expected = describe(t)
    assert written == expected
    assert written['name'] == 'builtins.sorted'
    assert written['meta']['computed'] is True
    assert 'completed' in written['meta']
    assert written['args'][0][0]['name'] == 'builtins.sum'
    assert written['args'][0][1] == 1
    assert written['kwargs'] == {'reverse': True}
    # Only the metadata file was written.
    assert sorted(p.name for p in tmp_path.iterdir()) == ['jugdata', 'meta']


def test_write_metadata_unknown_format(dict_store, tmp_path):
    t = Task(sum, [1, 2])
    w = write_metadata(t, str(tmp_path / 'meta.xml'), metadata_format='xml')
    t.run()
    with pytest.raises(ValueError, match='xml'):
        w.run()
    assert not (tmp_path / 'meta.xml').exists()
    assert not w.can_load()


def test_write_hashes_do_not_depend_on_files(dict_store, tmp_path):
    t = Task(sum, [1, 2])
    a = write_task_out(t, 'a.out')
    b = write_task_out(t, 'b.out')
    c = write_metadata(t, 'a.out')
    assert len({a.hash(), b.hash(), c.hash()}) == 3
    assert write_task_out(t, 'a.out').hash() == a.hash()


def test_long_names_are_not_wrapped_off_a_terminal(columns, monkeypatch):
    """Piped into a program, each name stays whole on its row."""
    monkeypatch.setattr(sys, 'stdout', io.StringIO())
    columns(40)
    options, lines = make_options()
    name = 'jugfile.a_very_long_task_name_indeed'
    print_task_summary_table(options, [('Count', counts(**{name.replace('.', '__'): 7}))])
    assert lines[2] == '           7  jugfile.a_very_long_task_name_indeed'
    assert lines[3] == '.' * 40
