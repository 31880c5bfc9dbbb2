"""``jug shell``: its helpers on a dict_store, the missing-IPython error, and a session."""
import sys
import textwrap

import pytest

import jug.task
from jug.backends.dict_store import dict_store
from jug.errors import MissingPackageError
from jug.jug import main
from jug.options import default_options
from jug.subcommands import shell as shell_module
from jug.task import Task
from jugtest import jug_env


def double(x):
    return 2 * x


def add(a, b):
    return a + b


def boom():
    raise ValueError('boom')


@pytest.fixture
def graph():
    """Tasks t, f2 = add(t[0], t[1]), f3 on a dict_store: t and f3 are run."""
    store = dict_store()
    Task.store = store
    t = Task(lambda_free_pair, 3)
    f2 = Task(add, t[0], t[1])
    f3 = Task(double, 5)
    t.run()
    f3.run()
    return store, t, f2, f3


def lambda_free_pair(x):
    return (x, x + 1)


def test_load_all_values_and_errors(graph):
    store, t, f2, f3 = graph
    lines = []
    values = shell_module.load_all({'t': t, 'f2': f2, 'f3': f3, 'n': 7, '__name__': 'jf'},
                                   print_out=lines.append)
    assert values == {'t': (3, 4), 'f3': 10, 'n': 7}
    assert len(lines) == 1 and lines[0].startswith('f2:')


def test_get_tasks_and_filtered_tasks(graph):
    store, t, f2, f3 = graph
    assert shell_module.get_tasks() == [t, f2, f3]
    assert shell_module.get_tasks() is not jug.task.alltasks
    assert shell_module.get_tasks(copy=False) is jug.task.alltasks
    assert shell_module.get_filtered_tasks() == []
    assert shell_module.get_filtered_tasks(loadable=True) == [t, f3]
    assert shell_module.get_filtered_tasks(available=True) == [f2]
    assert shell_module.get_filtered_tasks(loadable=True, available=True) == [t, f2, f3]
    assert shell_module.get_filtered_tasks(failed=True) == []
    lock = store.getlock(f2.hash())
    assert lock.get() and lock.fail()
    assert shell_module.get_filtered_tasks(failed=True) == [f2]


def test_invalidate_removes_task_and_dependents(graph):
    store, t, f2, f3 = graph
    f2.run()
    invalid = shell_module.invalidate([t, f2, f3], {}, t)
    assert {x.hash() for x in invalid} == {t.hash(), f2.hash()}
    assert not t.can_load() and not f2.can_load() and f3.can_load()
    assert not t.is_loaded() and not f2.is_loaded()
    # a Tasklet stands for its base task
    t.run()
    shell_module.invalidate(jug.task.alltasks, {}, t[0])
    assert not t.can_load() and f3.can_load()


def test_record_and_namespace(graph):
    store, t, f2, f3 = graph
    assert shell_module.record(t) is None
    store.save_record(t.hash(), {'status': 'finished'})
    assert shell_module.record(t[1]) == {'status': 'finished'}
    lines = []
    ns = shell_module.shell_namespace({'t': t, 'f2': f2, 'f3': f3}, print_out=lines.append)
    assert ns['t'] is t
    assert set(ns) >= {'value', 'load_all', 'invalidate', 'get_tasks',
                       'get_filtered_tasks', 'describe', 'record'}
    assert ns['value'](f3) == 10
    assert ns['load_all']()['t'] == (3, 4)
    ns['invalidate'](f3)
    assert not f3.can_load() and t.can_load()
    assert lines[-1] == 'Invalidated 1 task(s).'


def test_missing_ipython(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'jf.py').write_text('x = 1\n')
    monkeypatch.setitem(sys.modules, 'IPython', None)
    options = default_options.copy()
    options.print_out = print
    with pytest.raises(MissingPackageError) as excinfo:
        shell_module.shell.run(store=None, options=options, jugspace={})
    assert excinfo.value.package == 'IPython'
    with pytest.raises(SystemExit) as exit_info:
        main(['jug', 'shell', 'jf.py', '--will-cite'])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'IPython' in err and 'jug shell' in err


JUGFILE = textwrap.dedent('''\
    from jug import TaskGenerator

    @TaskGenerator
    def double(x):
        return 2 * x

    @TaskGenerator
    def add(a, b):
        return a + b

    x = double(21)
    y = add(x, 1000)
    z = double(5)
    ''')


def test_interactive_session(tmp_path, run_jug, monkeypatch):
    pytest.importorskip('IPython')
    pexpect = pytest.importorskip('pexpect')
    (tmp_path / 'jf.py').write_text(JUGFILE)
    assert run_jug('execute', 'jf.py', '--will-cite').returncode == 0
    env = jug_env(TERM='dumb', IPYTHONDIR=str(tmp_path / 'ipython'),
                  IPY_TEST_SIMPLE_PROMPT='1')
    child = pexpect.spawn(sys.executable, ['-m', 'jug', 'shell', 'jf.py', '--will-cite'],
                          cwd=str(tmp_path), env=env, encoding='utf-8', timeout=60)
    try:
        child.expect('get_filtered_tasks')  # the banner
        child.expect(r'In \[1\]')
        child.sendline('print("VALUE", value(y) * 2)')
        child.expect('VALUE 2084')
        child.expect(r'In \[2\]')
        child.sendline('invalidate(x)')
        child.expect(r'Invalidated 2 task\(s\)')
        child.expect(r'In \[3\]')
        child.sendline('exit')
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0

    # checked with a fresh store: x and y are gone, z kept
    jug.task.alltasks = []
    from jug.jug import init
    monkeypatch.chdir(tmp_path)
    store, space = init('jf.py', 'jf.jugdata')
    assert not space['x'].can_load()
    assert not space['y'].can_load()
    assert space['z'].can_load()
    store.close()
