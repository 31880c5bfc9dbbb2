"""jug/statusview.py: the one view of states by task name that every display reads."""
import jug.task
from jug.backends.dict_store import dict_store
from jug.statusview import COLUMNS, StatusView, task_states, view_of_rows, view_of_tasks
from jug.taskstate import FAILED, FINISHED, READY, RUNNING, STALE, WAITING


def test_columns_add_stale_only_when_there_are_some():
    view = StatusView()
    view.add(READY, 'm.f')
    assert view.columns() == COLUMNS == (FAILED, WAITING, READY, FINISHED, RUNNING)
    assert [title for title, _ in view.groups()] == ['Failed', 'Waiting', 'Ready',
                                                     'Complete', 'Active']
    view.add(STALE, 'm.g')
    assert view.columns() == COLUMNS + (STALE,)
    assert view.groups()[-1] == ('Stale', {'m.g': 1})
    assert view.names() == ['m.f', 'm.g']
    assert not view.all_complete()


def test_all_complete_and_totals():
    view = view_of_rows([[0, 'm.f', b'k0', FINISHED], [1, 'm.f', b'k1', FINISHED]])
    assert view.all_complete() and view.total(FINISHED) == 2 and view.total(STALE) == 0


def test_view_of_tasks_asks_the_store_once_per_question(tmp_path):
    store = dict_store()
    jug.task.Task.store = store
    a = jug.task.Task(abs, -1)
    b = jug.task.Task(abs, a)
    c = jug.task.Task(abs, -3)
    a.run()
    c.lock()
    store.counts.clear()
    view = view_of_tasks([a, b, c], store)
    assert (view.finished['builtins.abs'], view.ready['builtins.abs'],
            view.running['builtins.abs']) == (1, 1, 1)
    assert not any(key.startswith(b'exists:') for key in store.counts)  # the listing
    assert jug.task.Task.store is store  # restored
    assert [state for _, state in task_states([a, b, c], store)] == [FINISHED, READY,
                                                                     RUNNING]
