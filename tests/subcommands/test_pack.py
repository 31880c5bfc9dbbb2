"""``jug pack`` (docs/subcommands.rst; the pack file: docs/backends.rst)."""
import pytest

import jug.task
from jug import value
from jug.jug import init, main
from jug.subcommands.execute import execute
from jug.subcommands.pack import pack


def test_pack_moves_small_results_and_they_still_load(jug_options):
    execute(jug_options('simple'))
    jug.task.alltasks = []
    options = jug_options('simple')
    store, space = init(options.jugfile, options.jugdir)
    pack(store, options)
    assert options.print_out == ['Packed 14 objects']
    jug.task.alltasks = []
    store, space = init(options.jugfile, options.jugdir)
    assert sorted(store.packed) == sorted(store.list())
    assert value(space['chain']) == sum(i * i for i in range(10)) + 3


def test_pack_on_another_store_is_an_error(jug_options, capsys):
    options = jug_options('simple', jugdir='dict_store')
    store, _ = init(options.jugfile, options.jugdir)
    with pytest.raises(SystemExit) as info:
        pack(store, options)
    assert info.value.code == 1
    assert str(info.value).startswith('jug pack: only file stores can be packed')
    with pytest.raises(SystemExit) as info:  # through the command line
        main(['jug', 'pack', 'simple.py', '--jugdir', 'dict_store'])
    assert info.value.code == 1
    assert capsys.readouterr().err.startswith('jug pack: only file stores can be packed')
