"""jug/errors.py: the error classes, their exit codes, and how main reports them."""
import pytest

from jug.errors import (JugError, JugExit, MissingPackageError, OptionError, StopRequested,
                        mark_store_error, store_error_message)
from jug.jug import main
from jug.subcommands import SubCommand


def test_jug_exit_is_a_system_exit_with_code_and_message():
    e = JugExit(2, 'jug thing: say more')
    assert isinstance(e, SystemExit) and e.code == 2 and e.exit_status == 2
    assert str(e) == 'jug thing: say more'
    plain = JugExit(1)
    assert plain.message is None and str(plain) == '1'
    worded = JugExit('jug status: the cache is damaged')  # as SystemExit('...')
    assert worded.code == worded.message == 'jug status: the cache is damaged'
    assert worded.exit_status == 1
    assert StopRequested('JUG_MAX_TASKS').code == 0


def test_exit_codes():
    assert JugError.exit_code == 1 and OptionError.exit_code == 2
    assert MissingPackageError('shtab', 'x').exit_code == 1


def test_store_message_is_a_note_and_the_exception_keeps_its_type():
    error = PermissionError(13, 'Permission denied', '/x')
    assert store_error_message(error) is None
    assert mark_store_error(error, 'cannot write /x') is error
    assert store_error_message(error) == 'cannot write /x'
    assert error.__notes__ == ['jug: error: cannot write /x']  # shown in tracebacks


@pytest.fixture
def command():
    """Register a throwaway command whose run raises what the test puts in `raises`
    (conftest.py restores the registry afterwards)."""
    raises = []

    class Throws(SubCommand):
        """Raise what the test asks for"""

        name = 'throws'
        loads_jugfile_itself = True

        def run(self, *args, **kwargs):
            raise raises[0]
    Throws()
    return raises


@pytest.mark.parametrize('error, code, stderr', [
    (JugExit(3, 'jug throws: went wrong'), 3, 'jug throws: went wrong\n'),
    (JugExit(0), 0, ''),
    (OptionError('bad --thing'), 2, 'jug: error: bad --thing\n'),
    (mark_store_error(OSError(28, 'No space left on device'), 'cannot write x'), 1,
     'jug: error: cannot write x\n'),
])
def test_main_is_the_one_exit_point(command, capsys, error, code, stderr):
    command.append(error)
    with pytest.raises(SystemExit) as info:
        main(['jug', 'throws'])
    assert info.value.code == code
    assert capsys.readouterr().err == stderr
