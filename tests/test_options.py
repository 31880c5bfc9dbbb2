"""Options chains, the command line and configuration files (docs/configuration.rst,
docs/subcommands.rst)."""
import io
import logging
import sys

import pytest

from jug.options import (Options, _str_to_bool, default_options, find_local_configuration_files,
                         key_to_option, parse, read_configuration_file, set_jugdir)
from jug.task import Task


@pytest.fixture(autouse=True)
def no_user_configuration(monkeypatch, tmp_path):
    """No ~/.config/jug/jugrc of the person running the tests (argv and the logging
    level are restored by conftest.py)."""
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))


def test_chain_lookup_and_missing():
    base = Options(None)
    base.a = 1
    top = Options(base)
    top.b = 2
    assert (top.a, top.b) == (1, 2)
    with pytest.raises(AttributeError):
        top.missing


def test_autoinit_runs_once_and_copy_is_initialised():
    calls = []

    def init(opt):
        calls.append(1)
        opt.x = 'default'
    lazy = Options(None, autoinit=init)
    copied = lazy.copy()
    copied.x = 'mine'
    assert copied.x == 'mine'
    assert lazy.x == 'default'
    assert calls == [1]


def test_default_options_copy_then_set():
    c = default_options.copy()
    c.jugdir = 'dict_store'
    c.jugfile = 'x.py'
    c.debug = True
    assert (c.jugdir, c.jugfile, c.debug) == ('dict_store', 'x.py', True)
    assert c.execute_nr_wait_cycles == 150
    assert c.execute_wait_cycle_time == 12.0
    assert c.status_cache_file == '.jugstatus.sqlite3'
    assert c.invalid_name is None and c.cleanup_locks_only is False
    fresh = Options(default_options)
    assert fresh.execute_keep_going is False and fresh.print_out is print


def test_str_to_bool_and_keys():
    for false in ('', '0', 'false', 'OFF', 'no', 'N'):
        assert _str_to_bool(false) is False
    assert _str_to_bool('yes') and _str_to_bool('1') and _str_to_bool('whatever')
    assert key_to_option('wait-cycle-time') == 'wait_cycle_time'


def test_config_file_types_and_sections():
    text = io.StringIO('[main]\nwill-cite = yes\njugdir = x.jugdata\n'
                       '[execute]\nwait-cycle-time = 0.5\nnr-wait-cycles = 3\n'
                       'keep-going = off\n[hello]\nother-value = 7\n')
    chain = read_configuration_file(text, default_options)
    assert chain.will_cite is True
    assert chain.execute_wait_cycle_time == 0.5
    assert chain.execute_nr_wait_cycles == 3 and isinstance(chain.execute_nr_wait_cycles, int)
    assert chain.execute_keep_going is False
    assert chain.hello_other_value == '7'
    assert chain.jugdir == 'x.jugdata'


def test_local_configuration_files(tmp_path, monkeypatch):
    root = tmp_path / 'repo'
    sub = root / 'a' / 'b'
    sub.mkdir(parents=True)
    (root / '.git').mkdir()
    (root / 'jugrc').write_text('[main]\n')
    (root / 'a' / '.jugrc').write_text('[main]\n')
    (sub / 'jugrc').write_text('[main]\n')
    (sub / '.jugrc').mkdir()  # not a file: ignored
    monkeypatch.chdir(sub)
    found = find_local_configuration_files()
    assert found == [str(sub / 'jugrc'), str(root / 'a' / '.jugrc'), str(root / 'jugrc')]
    outside = tmp_path / 'plain'
    outside.mkdir()
    (tmp_path / 'jugrc').write_text('[main]\n')
    monkeypatch.chdir(outside)
    assert find_local_configuration_files() == []


def test_precedence_command_line_local_global(tmp_path, monkeypatch):
    home = tmp_path / 'home'
    (home / '.config' / 'jug').mkdir(parents=True)
    (home / '.config' / 'jug' / 'jugrc').write_text(
        '[execute]\nnr-wait-cycles = 5\nwait-cycle-time = 2\n[main]\nwill-cite = 1\n')
    work = tmp_path / 'work'
    work.mkdir()
    (work / '.jugrc').write_text('[execute]\nnr-wait-cycles = 7\n')
    monkeypatch.chdir(work)
    opts = parse(['execute', 'f.py', '--wait-cycle-time', '3'])
    assert opts.execute_nr_wait_cycles == 7
    assert opts.execute_wait_cycle_time == 3.0
    assert opts.will_cite is True


def test_unreadable_global_config_is_skipped(tmp_path, monkeypatch):
    home = tmp_path / 'home'
    (home / '.config' / 'jug' / 'jugrc').mkdir(parents=True)  # a directory
    (home / '.config' / 'jugrc').write_text('[execute]\nnr-wait-cycles = 9\n')
    monkeypatch.chdir(tmp_path)
    assert parse(['execute', 'f.py']).execute_nr_wait_cycles == 9


def test_parse_basics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = sys.argv
    opts = parse(['execute', 'dir/sub/y.py', '--keep-going', '--pdb', '--', '--noarg', 'here'])
    assert opts.subcommand == 'execute'
    assert opts.jugdir == 'dir/sub/y.jugdata'
    assert opts.execute_keep_going is True
    assert opts.debug is True
    assert argv == ['dir/sub/y.py', '--noarg', 'here']
    opts = parse(['execute', 'f.py', 'arg', '--', '--hello'])
    assert sys.argv == ['f.py', 'arg', '--hello']
    opts = parse(['status'])
    assert opts.jugfile == 'jugfile.py' and sys.argv == ['jugfile.py']
    assert opts.short is False


def test_parse_date_in_jugdir_and_verbose(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opts = parse(['status', 'f.py', '--jugdir', 'data-%(date)s', '--verbose', 'INFO'])
    assert opts.jugdir.startswith('data-20') and len(opts.jugdir) == len('data-2026-01-01')
    assert logging.getLogger().level == logging.INFO


def test_parse_empty_prints_usage(capsys):
    with pytest.raises(SystemExit) as info:
        parse([])
    assert info.value.code == 1
    assert 'jug SUBCOMMAND [JUGFILE] [OPTIONS...]' in capsys.readouterr().out


def test_mutually_exclusive_and_deprecated(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        parse(['cleanup', 'f.py', '--locks-only', '--keep-locks'])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        parse(['invalidate', 'f.py'])
    assert info.value.code == 2
    opts = parse(['invalidate', 'f.py', '--invalid', 'mod.f'])
    assert opts.invalid_name == 'mod.f'
    assert 'is deprecated' in capsys.readouterr().err


def test_set_jugdir():
    store = set_jugdir('dict_store')
    assert Task.store is store
    assert type(store).__name__ == 'dict_store'
    assert repr(set_jugdir(None)) == 'file_store(jugdata)'


def _imported_modules(module):
    import ast
    with open(module.__file__) as source:
        tree = ast.parse(source.read())
    return {node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level > 0} | \
        {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
         for alias in node.names}


def test_options_sit_below_the_subcommand_framework():
    """options imports nothing from jug.subcommands; the framework registers itself."""
    import jug.options
    import jug.subcommands
    assert not any('subcommands' in name for name in _imported_modules(jug.options))
    assert 'options' in _imported_modules(jug.subcommands)
    assert jug.options.commands() is jug.subcommands.cmdapi


def test_parse_keeps_user_args(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opts = parse(['execute', 'f.py', 'a', 'b', '--', '--x'])
    assert opts.user_args == ['a', 'b', '--x']
    assert sys.argv == ['f.py', 'a', 'b', '--x']
