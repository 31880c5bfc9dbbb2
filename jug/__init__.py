"""Jug: task-based parallelisation for Python, compatible with Jug 2.7.

Usage::

    from jug import TaskGenerator

    @TaskGenerator
    def double(x):
        return 2 * x

then ``jug execute jugfile.py`` (in as many processes as you like) and ``jug status``.

Importing jug must stay cheap: nothing here imports numpy, redis, IPython, bottle,
sqlite3 or yaml.
"""
from .task import Task, Tasklet, TaskGenerator, value, CachedFunction, iteratetask, return_tuple
from .barrier import barrier, bvalue
from .compound import CompoundTask, CompoundTaskGenerator
from .options import set_jugdir
from .jug import init, is_jug_running
from .backends import file_store, dict_store, redis_store
from .jug_version import __version__  # noqa: F401 (part of the API, not of __all__)
from . import subcommands  # noqa: F401  (it registers the commands of the command line)

__all__ = [
    'Task',
    'Tasklet',
    'TaskGenerator',
    'value',
    'CachedFunction',
    'iteratetask',
    'return_tuple',
    'CompoundTask',
    'CompoundTaskGenerator',
    'barrier',
    'bvalue',
    'set_jugdir',
    'init',
    'is_jug_running',
    'file_store',
    'dict_store',
    'redis_store',
]
