"""``jug shell``'s helpers: failed tasks as ``jug status --failed`` sees them, and tasks
given by their hash (whole or its start, as str or bytes)."""
import posixpath
import re

import pytest

import jug.task
from jug.backends.dict_store import dict_store
from jug.jug import init, main
from jug.options import parse
from jug.subcommands import shell as shell_module
from jug.subcommands.status import status
from jug.task import Task
from jugtest import Output


def _execute_failing(jug_options, *flags):
    """Run tests/jugfiles/failing.py with --keep-going (some_fail fails for 2, 5, 8);
    return the store and the tasks of a fresh load."""
    options = jug_options('failing')
    with pytest.raises(SystemExit) as e:
        main(['jug', 'execute', options.jugfile, '--jugdir', options.jugdir, '--keep-going',
              '--will-cite', *flags])
    assert e.value.code == 1  # some tasks failed
    jug.task.alltasks = []
    store, _ = init(options.jugfile, options.jugdir)
    return options, store, list(jug.task.alltasks)


def _status_failed_hashes(options, capsys):
    """The hashes ``jug status --failed`` lists (the first 12 digits it shows)."""
    capsys.readouterr()
    jug.task.alltasks = []
    with pytest.raises(SystemExit):
        main(['jug', 'status', options.jugfile, '--jugdir', options.jugdir, '--failed'])
    out = capsys.readouterr().out
    return re.findall(r'^failing\.some_fail\S* ([0-9a-f]{12}):', out, re.MULTILINE)


@pytest.mark.parametrize('flags', [(), ('--keep-failed',)])
def test_failed_tasks_agree_with_status_failed(jug_options, capsys, flags):
    # without --keep-failed the locks are released: only the run records say they failed
    options, store, tasks = _execute_failing(jug_options, *flags)
    failed = shell_module.get_filtered_tasks(failed=True)
    assert [t.name for t in failed] == ['failing.some_fail'] * 3
    assert [t.args for t in failed] == [(2,), (5,), (8,)]
    assert _status_failed_hashes(options, capsys) == [t.hash().decode()[:12] for t in failed]
    # a task finished since is no longer failed; the others stay failed
    jug.task.alltasks = tasks
    jug.task.Task.store = store
    failed[0].f = int  # "fixed": its hash does not change
    failed[0].run()
    assert shell_module.get_filtered_tasks(failed=True) == failed[1:]
    # the other flags are unchanged
    assert set(shell_module.get_filtered_tasks(loadable=True)) == \
        {t for t in tasks if t.can_load()}
    ready = shell_module.get_filtered_tasks(available=True)
    assert set(failed[1:]) <= set(ready) and failed[0] not in ready
    assert shell_module.get_filtered_tasks(failed=True, loadable=True) == \
        [t for t in tasks if t.can_load() or t in failed[1:]]


def test_interrupted_and_waiting_are_not_failed():
    Task.store = store = dict_store()
    t = Task(posixpath.basename, 'a')
    u = Task(posixpath.dirname, t)
    store.save_record(t.hash(), {'name': t.name, 'hash': t.hash().decode(),
                                 'status': 'interrupted'})
    assert shell_module.get_filtered_tasks(failed=True) == []
    store.save_record(t.hash(), {'name': t.name, 'hash': t.hash().decode(),
                                 'status': 'failed'})
    assert shell_module.get_filtered_tasks(failed=True) == [t]
    # a waiting task whose lock is marked failed counts, as in jug status --failed
    lock = store.getlock(u.hash())
    assert lock.get() and lock.fail()
    assert shell_module.get_filtered_tasks(failed=True) == [t, u]


@pytest.fixture
def two_tasks():
    Task.store = store = dict_store()
    a = Task(posixpath.basename, 'a')
    b = Task(posixpath.dirname, a)
    c = Task(posixpath.normpath, 'c')
    for t in (a, b, c):
        t.run()
    return store, a, b, c


def test_task_by_hash(two_tasks):
    store, a, b, c = two_tasks
    key = a.hash()
    for given in (key, key.decode(), key.decode().upper(), key[:6], key.decode()[:6],
                  f' {key.decode()[:8]}\n'):
        assert shell_module.task_by_hash(given) is a
    with pytest.raises(LookupError, match="no task has a hash starting with 'xyz'"):
        shell_module.task_by_hash('xyz')
    with pytest.raises(LookupError, match='give the hash'):
        shell_module.task_by_hash('')
    # a prefix that several tasks share: enough tasks that two share a first digit
    tasks = [Task(posixpath.basename, str(i)) for i in range(17)]
    digits = [t.hash()[:1] for t in tasks]
    shared = next(d for d in digits if digits.count(d) > 1)
    with pytest.raises(LookupError, match=r'^task_by_hash: \d+ tasks have a hash starting '
                       f"with '{shared.decode()}': .*; give more digits$"):
        shell_module.task_by_hash(shared.decode())
    # the same task created twice is one task
    again = Task(posixpath.normpath, 'c')
    assert shell_module.task_by_hash(c.hash().decode()) is c
    assert shell_module.task_by_hash(c.hash(), [again]) is again


def test_hashes_as_str_or_bytes_in_the_shell(two_tasks):
    store, a, b, c = two_tasks
    lines = Output()
    ns = shell_module.shell_namespace({'a': a, 'b': b, 'c': c}, print_out=lines)
    assert ns['task_by_hash'] is shell_module.task_by_hash
    store.save_record(c.hash(), {'status': 'finished'})
    assert ns['record'](c.hash().decode()) == ns['record'](c.hash()[:5]) == \
        {'status': 'finished'}
    ns['invalidate'](a.hash().decode()[:7])
    assert lines == ['Invalidated 2 task(s).']
    assert not a.can_load() and not b.can_load() and c.can_load()
    # the module-level function (Jug 2.7's signature) takes a hash too
    invalid = shell_module.invalidate([a, b, c], {}, c.hash())
    assert invalid == [c] and not c.can_load()


def test_banner_lists_the_helpers():
    for helper in ('task_by_hash(', 'get_filtered_tasks(', 'invalidate(t)', 'record(t)'):
        assert helper in shell_module.BANNER
    assert 'jug status --failed' in ' '.join(shell_module.BANNER.split())
    assert 'also take a hash' in shell_module.BANNER


def test_status_failed_lists_what_the_shell_lists(jug_options):
    # the rule is the one of jug status --failed: both read jug.records.find_failed
    options, store, tasks = _execute_failing(jug_options)
    options = parse(['status', options.jugfile, '--jugdir', options.jugdir, '--failed'])
    options.print_out = Output()
    jug.task.alltasks = []
    status(options)
    shown = re.findall(r'^\S+ ([0-9a-f]{12}):', '\n'.join(options.print_out), re.MULTILINE)
    jug.task.alltasks = tasks
    jug.task.Task.store = store
    failed = shell_module.get_filtered_tasks(failed=True)
    assert shown == [t.hash().decode()[:12] for t in failed] and len(shown) == 3
