"""Compound tasks: a function that builds many tasks, stored as one result.

``CompoundTask(f, ...)`` calls ``f`` at jugfile-load time to build inner tasks, but
once the final result is stored the inner tasks are never created again
(docs/compound.rst).  Layer 3: imports only ``jug.task``.
"""
import functools

from . import task as _task_module
from .task import Task

__all__ = ['CompoundTask', 'CompoundTaskGenerator', 'compound_task_execute']


def compound_task_execute(x, h):
    """Return ``x`` (the value of the inner result); ``h`` only distinguishes tasks."""
    return x


def _noop_check_hash():
    pass


def CompoundTask(f, *args, **kwargs):
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
    final.__jug_hash__ = _task_module._Constant(key)
    final._check_hash = _noop_check_hash
    return final


def CompoundTaskGenerator(f):
    """Decorator: calls of ``f`` become ``CompoundTask(f, ...)``.

    Usage::

        @CompoundTaskGenerator
        def pipeline(inputs):
            return reduce_step([step(x) for x in inputs])
    """
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return CompoundTask(f, *args, **kwargs)
    wrapper.f = f
    return wrapper
