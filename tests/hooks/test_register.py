"""The hook registry (docs/architecture.rst, "Adding a command or a hook")."""
import pytest

from jug.hooks import jug_hook, register_hook, register_hook_once, reset_all_hooks
from jug.hooks.register import _known_hooks, unregister_hook

EXECUTED = 'execute.task-executed1'


def test_known_names_and_unknown_name():
    assert set(_known_hooks) == {'execute.task-loadable', 'execute.task-pre-execute',
                                 'execute.task-executed1', 'execute.finished_pre_status',
                                 'execute.finished_post_status'}
    with pytest.raises(ValueError):
        register_hook('execute.no-such-hook', print)
    with pytest.raises(ValueError):
        jug_hook('execute.no-such-hook')


def test_duplicates_are_called_twice_and_results_returned():
    def f(x):
        return x * 2
    register_hook(EXECUTED, f)
    register_hook(EXECUTED, f)
    assert jug_hook(EXECUTED, (3,)) == [6, 6]
    assert jug_hook(EXECUTED, kwargs={'x': 1}) == [2, 2]


def test_decorator_form():
    @register_hook(EXECUTED)
    def g(x):
        return 'g'
    assert g(0) == 'g'
    assert jug_hook(EXECUTED, (0,)) == ['g']


def test_register_once():
    register_hook_once(EXECUTED, 'code', lambda x: 1)
    register_hook_once(EXECUTED, 'code', lambda x: 2)
    register_hook_once('execute.task-loadable', 'code', lambda x: 3)
    assert jug_hook(EXECUTED, (0,)) == [1]
    assert jug_hook('execute.task-loadable', (0,)) == [3]
    with pytest.raises(NotImplementedError):
        register_hook_once(EXECUTED, 'code', None)


def test_register_once_as_decorator_the_first_time():
    @register_hook_once(EXECUTED, 'deco', None)
    def h(x):
        return 'h'
    assert jug_hook(EXECUTED, (0,)) == ['h']


def test_reset_and_unregister():
    def f(x):
        return x
    register_hook(EXECUTED, f)
    register_hook_once(EXECUTED, 'once', f)
    unregister_hook(EXECUTED, f)
    assert jug_hook(EXECUTED, (5,)) == [5]
    unregister_hook(EXECUTED, print)  # not registered: no error
    reset_all_hooks()
    assert jug_hook(EXECUTED, (5,)) == []
    register_hook_once(EXECUTED, 'once', f)  # forgotten by the reset
    assert jug_hook(EXECUTED, (5,)) == [5]
