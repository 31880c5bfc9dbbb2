"""Tests of jug.io: the task summary table (SPEC.md §4.4)."""
from collections import defaultdict
from types import SimpleNamespace

import pytest

from jug.io import get_terminal_size, print_task_summary_table


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


def test_long_names_are_wrapped(columns):
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


def test_many_words_wrap_on_spaces(columns):
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
