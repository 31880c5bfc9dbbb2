"""Stale locks in ``jug status`` and safe lock removal in ``jug cleanup``."""
import os
import time

import jug.task
from jug.backends import leases
from jug.jug import init
from jug.subcommands import status as status_module
from jug.subcommands.cleanup import cleanup
from jug.subcommands.status import status
from jugtest import dead_pid, jug27_lock_text


def _lock_file(store, t, text, mtime=None):
    path = store.getlock(t.hash()).fullname
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _setup(jug_options):
    """squares 0-2: a dead worker's lock, a live remote worker's, an expired lease."""
    options = jug_options('simple')
    store, _ = init(options.jugfile, options.jugdir)
    squares = jug.task.alltasks[:10]
    _lock_file(store, squares[0], jug27_lock_text(dead_pid(), leases.nodename()))
    _lock_file(store, squares[1], jug27_lock_text(1, 'remote') + 'Jug-lease: 600 5 live\n')
    _lock_file(store, squares[2], jug27_lock_text(1, 'remote') + 'Jug-lease: 60 5 old\n',
               mtime=time.time() - 3600)
    _lock_file(store, squares[3], jug27_lock_text(1, 'remote'))  # Jug 2.7: liveness unknown
    jug.task.alltasks = []
    return options, store


def test_status_shows_stale_locks(jug_options):
    options, _ = _setup(jug_options)
    ts = status_module._status(options)
    assert sum(ts.stale.values()) == 2 and sum(ts.running.values()) == 2
    jug.task.alltasks = []
    assert status(options) == 1
    assert options.print_out[0].split() == ['Failed', 'Waiting', 'Ready', 'Complete',
                                            'Active', 'Stale', 'Task', 'name']
    assert options.print_out[-2].split() == ['0', '4', '6', '0', '2', '2', 'Total']
    jug.task.alltasks = []
    options.print_out.clear()
    options.short = True
    status(options)
    assert options.print_out == [
        '10 tasks waiting to be run, 0 failed, 0 complete, (2 active). 2 locked by workers '
        'that are gone (stale; the next jug execute takes them over).']


def test_stale_state_in_the_cache(jug_options):
    options, _ = _setup(jug_options)
    options.status_cache = True
    ts = status_module._status(options)
    assert sum(ts.stale.values()) == 2


def test_cleanup_keeps_only_live_workers_locks(jug_options):
    options, store = _setup(jug_options)
    options.cleanup_locks_only = True
    cleanup(store, options)
    assert options.print_out == ['Removed 3 locks']
    assert len(store.listlocks()) == 1
    options.cleanup_force = True
    options.print_out.clear()
    cleanup(store, options)
    assert options.print_out == ['Removed 1 locks']
    assert store.listlocks() == []


def test_webstatus_and_graph_show_stale_locks_as_status_does(jug_options):
    from jug.subcommands.graph import dot_text
    from jug.subcommands.webstatus import _Status, _render_page
    from jug.statusview import view_of_tasks
    options, store = _setup(jug_options)
    page = _render_page('simple.py', 3, _Status(options).compute())
    assert '<th>Active</th><th>Stale</th></tr>' in page
    total_row = [line for line in page.splitlines() if '>Total<' in line][0]
    assert total_row.endswith('<td>0</td><td>4</td><td>6</td><td>0</td><td>2</td><td>2</td></tr>')
    jug.task.alltasks = []
    init(options.jugfile, options.jugdir)
    dot = dot_text(jug.task.alltasks, view_of_tasks(jug.task.alltasks, store))
    assert '0F 0W 6R 2A 0C 2S' in dot  # the squares: 2 active, 2 stale


def test_no_stale_column_without_stale_locks(jug_options):
    from jug.subcommands.webstatus import _Status, _render_page
    options = jug_options('simple')
    page = _render_page('simple.py', 3, _Status(options).compute())
    assert 'Stale' not in page and page.count('<td>') == 5 * 5  # 3 names, blank, Total
