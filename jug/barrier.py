"""Barriers: stop reading a jugfile until the tasks created so far have results.

``barrier()`` and ``bvalue()`` raise ``BarrierError``, which ``jug.jug.init`` catches
(docs/barriers.rst).  Layer 3: imports only ``jug.task``.
"""
from __future__ import annotations

from . import task as _task_module
from .task import Task, recursive_dependencies, value

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

__all__ = ['BarrierError', 'barrier', 'bvalue']


class BarrierError(Exception):
    """Raised when a barrier is hit: some earlier task has no result yet."""


def _can_load_limit_recursion(tsk: Task, alltasks: Iterable[Task]) -> bool:
    """``tsk.can_load()``, also for dependency chains deeper than the recursion limit.

    Hashing a task hashes its dependencies recursively.  If that overflows, the hashes
    of its dependencies are computed (and cached) in creation order, dependencies
    first, so that each hash then needs only one level, and the check is retried.
    """
    try:
        return tsk.can_load()
    except RecursionError:
        needed = {id(dep) for dep in recursive_dependencies(tsk)}
        for candidate in alltasks:
            if id(candidate) in needed:
                candidate.hash()
        return tsk.can_load()


def barrier() -> None:
    """Stop executing the jugfile here unless every task created so far has a result.

    Usage: ``barrier()`` in a jugfile, before code that needs earlier results.

    Raises
    ------
    BarrierError
        When some task created before it has no stored result yet.
    """
    alltasks = _task_module.alltasks
    for tsk in reversed(alltasks):
        if not _can_load_limit_recursion(tsk, alltasks):
            raise BarrierError()


def _is_noload(obj: Any) -> bool:
    # jug.io.NoLoad carries a class marker, so this module need not import jug.io.
    return getattr(type(obj), '_jug_no_load', False)


def _all_loadable(obj: Any, alltasks: Iterable[Task]) -> bool:
    """Whether every task that ``value(obj)`` would need has its value available."""
    pending = [obj]
    while pending:
        item = pending.pop()
        if _is_noload(item):
            continue
        if isinstance(item, Task):
            if not (item.is_loaded() or _can_load_limit_recursion(item, alltasks)):
                return False
            continue
        jug_deps = getattr(item, '__jug_dependencies__', None)
        if jug_deps is not None:
            pending.extend(jug_deps())
        elif hasattr(item, 'can_load'):
            if not item.can_load():
                return False
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return True


def bvalue(t: Any) -> Any:
    """Return ``value(t)``, or hit a barrier if it is not available yet.

    Usage: ``n = bvalue(count_task)`` in a jugfile.

    Raises
    ------
    BarrierError
        When a task that the value needs has no result yet.
    """
    if not _all_loadable(t, _task_module.alltasks):
        raise BarrierError()
    return value(t)
