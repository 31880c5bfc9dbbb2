"""The walks over the graph of tasks: recursive dependencies, topological order, and the
one reverse-dependency walk (``downstream``).

Layer 2 (docs/architecture.rst), beside ``jug.task``, which re-exports these functions
(their public home, as in Jug 2.7).  Tasks are reached only through their
``dependencies()`` and ``hash()`` methods: this module imports nothing from jug but
its errors.  Every walk is iterative, so chains longer than Python's recursion limit
work, and a cycle (a graph built by hand) is an error naming its tasks.
"""
from __future__ import annotations

import math

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator

__all__ = ['recursive_dependencies', 'topological_sort', 'downstream']

_EXHAUSTED = object()


def _dependencies_of(obj: Any) -> Iterator[Any]:
    deps = getattr(obj, 'dependencies', None)
    return deps() if deps is not None else iter(())


def recursive_dependencies(t: Any, max_level: float | None = -1) -> Iterator[Any]:
    """Yield every task ``t`` depends on, directly or not, each once (pre-order DFS).

    Usage: ``list(recursive_dependencies(t))``

    Iterative, so chains longer than Python's recursion limit work.

    Parameters
    ----------
    t : Task
    max_level : int or None, optional
        How many levels to descend; None or negative means no limit, 0 yields nothing.
    """
    if max_level is None or max_level < 0:
        max_level = math.inf
    if max_level == 0:
        return
    levels_left: dict[int, float] = {}
    stack = [(_dependencies_of(t), max_level)]
    while stack:
        deps, level = stack[-1]
        dep = next(deps, _EXHAUSTED)
        if dep is _EXHAUSTED:
            stack.pop()
            continue
        previous = levels_left.get(id(dep))
        if previous is None:
            yield dep
        if previous is None or level > previous:
            levels_left[id(dep)] = level
            if level > 1:
                stack.append((_dependencies_of(dep), level - 1))


def _post_order(roots: Iterable[Any], enter: Callable[[Any], bool] | None = None
                ) -> Iterator[Any]:
    """Yield the roots and what they depend on, dependencies first (iteratively).

    Each task is yielded once; a dependency for which ``enter(dep)`` is false is
    neither yielded nor walked into.

    Raises
    ------
    jug.errors.DependencyCycleError
        If a task depends on itself, directly or not (naming the tasks of the cycle).
    """
    visited: set[int] = set()
    for root in roots:
        if id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, _dependencies_of(root))]
        on_stack = {id(root)}
        while stack:
            task, deps = stack[-1]
            dep = next(deps, _EXHAUSTED)
            if dep is _EXHAUSTED:
                stack.pop()
                on_stack.discard(id(task))
                yield task
            elif id(dep) in on_stack:
                _raise_cycle(stack, dep)
            elif id(dep) not in visited and (enter is None or enter(dep)):
                visited.add(id(dep))
                on_stack.add(id(dep))
                stack.append((dep, _dependencies_of(dep)))


def _raise_cycle(stack: list, dep: Any) -> None:
    """Raise the error naming the cycle that ``dep`` closes on the walk's `stack`."""
    from .errors import DependencyCycleError
    tasks = [task for task, _ in stack]
    cycle = tasks[next(i for i, t in enumerate(tasks) if t is dep):] + [dep]
    raise DependencyCycleError([str(getattr(t, 'name', t)) for t in cycle])


def topological_sort(tasks: list[Any]) -> None:
    """Sort ``tasks`` in place so that no task depends on a later one.

    Usage: ``topological_sort(tasks)``
    """
    wanted = {id(t) for t in tasks}
    tasks[:] = [t for t in _post_order(tasks) if id(t) in wanted]




def downstream(tasks: Iterable[Any], is_root: Callable[[Any], Any]) -> list[Any]:
    """Return the tasks that are roots or depend, directly or not, on a root.

    Usage: ``downstream(alltasks, lambda t: t.name == 'mod.f')``

    The one reverse-dependency walk of jug (``jug invalidate`` and the shell's
    ``invalidate`` use it).  Tasks are identified by hash: a task is included once even
    if several Task objects share its hash, and Tasklets count as their base.

    Parameters
    ----------
    tasks : list of Task
    is_root : callable
        ``is_root(task)`` tells whether a task is itself to be included.

    Returns
    -------
    list of Task, in dependency order
    """
    ordered = list(tasks)
    topological_sort(ordered)
    hit: set[bytes] = set()
    result = []
    for t in ordered:
        key = t.hash()
        if key in hit:
            continue
        if is_root(t) or any(dep.hash() in hit for dep in t.dependencies()):
            hit.add(key)
            result.append(t)
    return result
