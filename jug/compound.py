"""Compound tasks: a function that builds many tasks, stored as one result.

``CompoundTask(f, ...)`` calls ``f`` at jugfile-load time to build inner tasks, but
once the final result is stored the inner tasks are never created again
(docs/compound.rst).  Layer 3: imports only ``jug.task``.
"""
from __future__ import annotations

import functools

from . import task as _task_module
from .task import Task

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

__all__ = ['CompoundTask', 'CompoundTaskGenerator', 'compound_task_execute']


def compound_task_execute(x: Any, h: bytes) -> Any:
    """Return ``x`` (the value of the inner result); ``h`` only distinguishes tasks."""
    return x


def _noop_check_hash() -> None:
    pass


def CompoundTask(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
    """Build the tasks of ``f(*args, **kwargs)`` unless its final result is stored.

    Usage: ``result = CompoundTask(pipeline, inputs)``

    Returns
    -------
    Task
        A task whose value is that of the task ``f`` returns, stored under the hash of
        ``Task(f, *args, **kwargs)``.
    """
    outer = Task(f, *args, **kwargs)
    if outer.can_load():
        return outer
    alltasks = _task_module.alltasks
    assert alltasks[-1] is outer, 'CompoundTask: the outer task must be the last created'
    alltasks.pop()
    key = outer.hash()
    inner = f(*args, **kwargs)
    final = Task(compound_task_execute, inner, key)
    # the hash (and its check) of the outer task, set on this instance only
    final.__jug_hash__ = _task_module._Constant(key)  # type: ignore[method-assign]
    final._check_hash = _noop_check_hash  # type: ignore[method-assign]
    return final


def CompoundTaskGenerator(f: Callable[..., Any]) -> Callable[..., Task]:
    """Decorator: calls of ``f`` become ``CompoundTask(f, ...)``.

    Usage::

        @CompoundTaskGenerator
        def pipeline(inputs):
            return reduce_step([step(x) for x in inputs])
    """
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Task:
        return CompoundTask(f, *args, **kwargs)
    wrapper.f = f  # type: ignore[attr-defined]  # an attribute of the decorated function
    return wrapper
