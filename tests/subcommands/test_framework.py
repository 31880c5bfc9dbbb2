"""The subcommand framework: SubCommand, cmdapi, usage and user commands
(docs/architecture.rst)."""
import sys

import pytest

from jug.subcommands import (NoSuchCommandError, SubCommand, SubCommandError, cmdapi,
                             maybe_print_citation_info)


@pytest.fixture
def registry():
    """The registry, for tests that register commands (conftest.py restores it)."""
    return cmdapi


def test_builtin_commands_registered():
    for name in ('execute', 'status', 'check', 'sleep-until', 'invalidate', 'cleanup', 'count'):
        assert name in cmdapi.commands()


def test_register_and_run_with_defaults(registry):
    class Hello(SubCommand):
        """Say hello

        More text.
        """
        name = 'hello-test'

        def run(self, options=None, **kwargs):
            return ('ran', options)

        def parse_defaults(self):
            return {'hello_test_greeting': 'hi'}

    command = Hello()
    assert cmdapi.run('hello-test', options=1, store=None, jugspace=None) == ('ran', 1)
    assert command(options=2) == ('ran', 2)
    assert cmdapi.default_options.hello_test_greeting == 'hi'
    assert '   hello-test:     Say hello\n' in cmdapi.usage(_print=False, exit=False)
    with pytest.warns(UserWarning):
        Hello()


def test_command_without_docstring_is_an_error(registry):
    class Mute(SubCommand):
        name = 'mute-test'

        def run(self, *args, **kwargs):
            pass
    with pytest.raises(SubCommandError):
        Mute()


def test_unexpected_keyword_becomes_subcommand_error(registry):
    class Strict(SubCommand):
        """Strict"""
        name = 'strict-test'

        def run(self, options):
            pass
    Strict()
    with pytest.raises(SubCommandError):
        cmdapi.run('strict-test', options=1, store=2)


def test_other_type_error_prints_usage_and_exits_1(registry, capsys):
    class Broken(SubCommand):
        """Broken"""
        name = 'broken-test'

        def run(self, **kwargs):
            raise TypeError('something else')
    Broken()
    with pytest.raises(SystemExit) as info:
        cmdapi.run('broken-test')
    assert info.value.code == 1
    captured = capsys.readouterr()
    assert 'something else' in captured.err
    assert 'jug SUBCOMMAND' in captured.out


def test_unknown_command_prints_usage_and_exits_1(capsys):
    with pytest.raises(SystemExit) as info:
        cmdapi.run('no-such-command')
    assert info.value.code == 1
    assert 'no-such-command' in capsys.readouterr().out
    with pytest.raises(NoSuchCommandError):
        cmdapi.get('no-such-command')


def test_usage_lists_sorted_commands():
    text = cmdapi.usage(_print=False, exit=False)
    assert text.startswith('jug SUBCOMMAND [JUGFILE] [OPTIONS...]')
    names = [line.split(':')[0].strip() for line in text.splitlines()
             if line.startswith('   ') and ':' in line and not line.startswith('    ')]
    assert names == sorted(names) and 'execute' in names


def test_user_commands_are_loaded(registry, tmp_path, monkeypatch):
    (tmp_path / 'jug_user_commands.py').write_text(
        'from jug.subcommands import SubCommand\n'
        'class Mine(SubCommand):\n'
        '    """My command"""\n'
        '    name = "mine-test"\n'
        '    def run(self, *args, **kwargs):\n'
        '        return 42\n'
        'mine = Mine()\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'jug_user_commands', raising=False)
    cmdapi._commands._load_user_commands(user_path=str(tmp_path))
    assert cmdapi.run('mine-test') == 42
    sys.modules.pop('jug_user_commands', None)


def test_citation_notice(capsys):
    class Opts:
        will_cite = False
    maybe_print_citation_info(Opts())
    assert 'jors.161' in capsys.readouterr().out
    Opts.will_cite = True
    maybe_print_citation_info(Opts())
    assert capsys.readouterr().out == ''
