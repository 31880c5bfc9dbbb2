"""The task model: Task, Tasklet, TaskGenerator and value.

Layer 2 (docs/architecture.rst): may import ``jug.hash``, ``jug.errors`` and
``jug.walks`` (the walks over the graph, re-exported here as Jug 2.7 has them) and
nothing else from jug.  Stores are reached only through ``Task.store``, which
``jug.options.set_jugdir`` and ``jug.jug.init`` assign.

``alltasks`` is compatibility surface (docs/compatibility.rst): every ``Task`` appends itself to
the list bound to ``jug.task.alltasks`` *at the time it is created*, and every other
module looks the name up at call time, because callers rebind it.
"""
from __future__ import annotations

import functools
import sys
import warnings

from .errors import MissingResultError, mark_store_error
from .hash import (_code_hash_key, _hashable_or_type, _lambda_hash_key,  # noqa: F401
                   _stable, hash_one, hash_task, hash_update, new_hash_object)
from .walks import (_post_order, downstream, recursive_dependencies,  # noqa: F401
                    topological_sort)

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator, NoReturn

__all__ = [
    'Task',
    'Tasklet',
    'recursive_dependencies',
    'TaskGenerator',
    'iteratetask',
    'return_tuple',
    'value',
]

alltasks: list[Task] = []

#: The command computing the results of the jugfile last loaded (set by jug.jug.init).
execute_command = 'jug execute <jugfile>'


class TaskletMixin:
    """Indexing for anything that stands for a future value (Task, Tasklet, ...)."""

    __slots__ = ()

    def __getitem__(self, index: Any) -> Tasklet:
        return Tasklet(self, _getitem(index))

    def __iter__(self) -> NoReturn:
        raise NotImplementedError(
            'A Task cannot be iterated over: its length is unknown until it has run. '
            'Use jug.iteratetask(task, n) when the length n is known, or '
            'jug.bvalue(task) after a barrier to iterate over the value.')


class _getitem:
    """Callable that indexes the value of its argument (by a constant or a Task)."""

    __slots__ = ('slice',)

    def __init__(self, index: Any) -> None:
        self.slice = index

    def __call__(self, obj: Any) -> Any:
        return value(obj)[value(self.slice)]

    def __jug_hash__(self) -> bytes:
        return hash_one(('jug.task._getitem', self.slice))

    def __repr__(self) -> str:
        return f'jug.task._getitem({self.slice!r})'

    __str__ = __repr__


class Task(TaskletMixin):
    """A call of a function whose result is computed once and kept in the store.

    Usage: ``t = Task(f, 1, b=2)``; ``value(t)`` gives ``f(1, b=2)``.

    Parameters
    ----------
    f : callable
        A named function (not a lambda); ``functools.partial`` objects are unwrapped.
    *args, **kwargs
        Its arguments, which may contain other tasks.
    """

    store: Any = None
    _jug_is_task = True  # marker read by jug.hash._contains_task

    def __init__(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        while isinstance(f, functools.partial):
            args = tuple(f.args) + args
            kwargs = {**f.keywords, **kwargs}
            f = f.func
        self.name = _task_name(f)
        self.f = f
        self.args = args
        self.kwargs = kwargs
        alltasks.append(self)

    def run(self, force: Any = None, save: bool = True, debug_mode: bool = False) -> Any:
        """Run the function on the values of the arguments, store and return the result.

        Usage: ``t.run()``

        Parameters
        ----------
        force : ignored
            Deprecated; passing anything warns.
        save : bool, optional
            Whether to store the result (default True).
        debug_mode : bool, optional
            Check that running the function did not change the task's hash.
        """
        if force is not None:
            warnings.warn('Task.run: the force argument is deprecated and ignored',
                          DeprecationWarning, stacklevel=2)
        assert self.can_run()
        if debug_mode:
            self._check_hash()
        args = [value(arg) for arg in self.args]
        kwargs = {key: value(arg) for key, arg in self.kwargs.items()}
        self._result = self.f(*args, **kwargs)
        if debug_mode:
            self._check_hash()
        if save:
            self.store.dump(self._result, self.hash())
        return self._result

    @property
    def result(self) -> Any:
        """The task's value, loaded from the store if necessary."""
        return self.value()

    def value(self) -> Any:
        """Return the task's value, loading it from the store if it is not in memory."""
        if not hasattr(self, '_result'):
            self.load()
        return self._result

    def can_run(self) -> bool:
        """Whether every dependency has its value available (in memory or stored)."""
        for dep in self.dependencies():
            if not hasattr(dep, '_result') and not dep.can_load():
                return False
        return True

    def is_loaded(self) -> bool:
        """Whether the value is held in memory."""
        return hasattr(self, '_result')

    def unload(self) -> None:
        """Drop the value from memory (it stays in the store)."""
        try:
            del self._result
        except AttributeError:
            pass  # not loaded

    def unload_recursive(self) -> None:
        """Drop the values of this task and of all its transitive dependencies."""
        self.unload()
        for dep in recursive_dependencies(self):
            dep.unload()

    def load(self) -> None:
        """Load the stored value into memory.

        Raises
        ------
        MissingResultError
            If the store has no result for the task (an AssertionError).
        RuntimeError
            Naming the task, its hash and its result path, if the store cannot load it.
        """
        if not self.can_load():
            raise MissingResultError.of(self.name, self.hash(), self.store, execute_command)
        key = self.hash()
        try:
            self._result = self.store.load(key)
        except Exception as e:
            path = f'{key[:2].decode()}/{key[2:].decode()}'
            message = (f'Could not load the result of task {self.name} '
                       f'(hash {key.decode()}, file {path}): {e}')
            raise mark_store_error(RuntimeError(message), message) from e

    def invalidate(self) -> None:
        """Remove the stored value."""
        self.store.remove(self.hash())

    def dependencies(self) -> Iterator[Task]:
        """Iterate over the Tasks this task's arguments refer to (may repeat; no
        Tasklets).

        Usage: ``for dep in t.dependencies(): ...``
        """
        if self._has_plain_arguments():
            return iter(())  # the commonest case: no generator to set up
        return _walk_dependencies([self.args, self.kwargs.values()])

    def _has_plain_arguments(self) -> bool:
        """Whether no argument can be (or hold) a task: numbers, strings, None..."""
        if self.kwargs:
            return False
        for arg in self.args:
            if type(arg) not in _PLAIN_TYPES:
                return False
        return True

    def can_load(self, store: Any = None) -> bool:
        """Whether the store has this task's value."""
        if store is None:
            store = self.store
        return store.can_load(self.hash())

    def hash(self) -> bytes:
        """Return the task's key: a 40-character hex digest as bytes."""
        return self.__jug_hash__()

    def __jug_hash__(self) -> bytes:
        # Runs once per task (the hash is then cached).  Hashing a task hashes its
        # dependencies; if some are not hashed yet, hash them first, deepest first and
        # without recursion, so that chains longer than the recursion limit work.
        for dep in self.dependencies():
            if not _is_hashed(dep):
                _cache_dependency_hashes(self)
                break
        return self._compute_set_hash()

    def _compute_set_hash(self) -> bytes:
        """Compute the hash and cache it as the instance's ``__jug_hash__``."""
        key = hash_task(self.name, self.args, self.kwargs)
        self.__jug_hash__ = _Constant(key)  # type: ignore[method-assign]  # cached per task
        return key

    def _check_hash(self) -> None:
        """Raise RuntimeError if the arguments changed since the hash was cached."""
        cached = self.hash()
        if self._compute_set_hash() != cached:
            raise RuntimeError(f'jug: the hash of task {self.name} changed unexpectedly: '
                               'a Task function changed an argument in place, which is not '
                               'allowed (it would make results depend on execution order).')

    def __str__(self) -> str:
        return f'Task: {self.name}()'

    def __repr__(self) -> str:
        return f'Task({self.name}, args={self.args!r}, kwargs={self.kwargs!r})'

    def _get_lock(self) -> Any:
        lock = getattr(self, '_lock', None)
        if lock is None:
            lock = self._lock = self.store.getlock(self.hash())
        return lock

    def lock(self) -> bool:
        """Try to take the task's lock; True if this process now holds it."""
        return self._get_lock().get()

    def unlock(self) -> None:
        """Release the task's lock (whoever holds it)."""
        self._get_lock().release()

    def is_locked(self) -> bool:
        """Whether some process holds the task's lock (or it is marked failed)."""
        return self._get_lock().is_locked()

    def fail(self) -> bool:
        """Mark the task's lock as failed; returns whether it is now failed."""
        return self._get_lock().fail()

    def is_failed(self) -> bool:
        """Whether the task's lock is marked failed."""
        return self._get_lock().is_failed()

    def is_stale(self) -> bool:
        """Whether the task's lock is held by a worker that is gone."""
        return self._get_lock().is_stale()

    def lock_state(self) -> str:
        """Who holds the task's lock: ``'free'``, ``'held'``, ``'failed'`` or ``'stale'``.

        Usage: ``if t.lock_state() == 'free': ...`` (the constants ``LOCK_*`` of
        ``jug.backends.base``).
        """
        return self._get_lock().holder_state()

    def lock_look(self) -> tuple[str, float | None]:
        """``(lock_state(), deadline)``: also when the lock goes stale unless its holder
        refreshes it (``time.monotonic()`` seconds; None if unknown)."""
        return self._get_lock().holder_look()


def _walk_dependencies(pending: list[Iterable[Any]]) -> Iterator[Task]:
    """Yield the Tasks found in the containers of the stack `pending` (LIFO), looking
    into lists, tuples, dict values and ``__jug_dependencies__``."""
    while pending:
        for dep in pending.pop():
            if type(dep) in _PLAIN_TYPES:
                continue  # the common case, and the cheapest test
            jug_deps = getattr(dep, '__jug_dependencies__', None)
            if jug_deps is not None:
                pending.append(jug_deps())
            elif isinstance(dep, Task):
                yield dep
            elif isinstance(dep, (list, tuple)):
                pending.append(dep)
            elif isinstance(dep, dict):
                pending.append(dep.values())


def _is_hashed(t: Any) -> bool:
    """Whether the Task ``t`` has its hash cached (or given: CompoundTask's).

    Tested without ``t.__dict__``, which would give every task a dict of its own."""
    return type(t.__jug_hash__) is _Constant


class _Constant:
    """A task's cached ``__jug_hash__``: a zero-argument callable returning its key
    (smaller than a ``functools.partial``: a million tasks keep one each)."""

    __slots__ = ('key',)

    def __init__(self, key: bytes) -> None:
        self.key = key

    def __call__(self) -> bytes:
        return self.key


#: Argument types that cannot be or contain a task (dependencies() skips them).
_PLAIN_TYPES = frozenset([int, float, str, bytes, bool, type(None), complex])

#: Task names by (module, function name): a jugfile makes many tasks of few functions,
#: which then share one name string.  (Keyed by names, not by functions, so that the
#: functions of a jugfile loaded before a barrier are not kept alive.)
_names: dict[tuple[str, str], str] = {}


def _task_name(f: Callable[..., Any]) -> str:
    """Return ``'<module>.<name>'`` of the task function `f` (ValueError for a lambda)."""
    if getattr(f, '__name__', None) == '<lambda>':
        raise ValueError('jug.Task: a lambda cannot be a task function, because it has '
                         'no name to identify the task by; use a named function.')
    key = (f.__module__, f.__name__)
    name = _names.get(key)
    if name is None:
        name = _names[key] = f'{key[0]}.{key[1]}'
    return name


def _cache_dependency_hashes(t: Task) -> None:
    """Compute and cache the hashes of ``t``'s transitive dependencies, iteratively."""
    for task in _post_order([t], lambda dep: not _is_hashed(dep)):
        if task is not t:
            task.__jug_hash__()


class Tasklet(TaskletMixin):
    """A light, never-stored computation on the value of another task (e.g. ``t[0]``).

    Usage: ``Tasklet(t, f)`` stands for ``f(value(t))``.
    """

    __slots__ = ('base', 'f')
    _jug_is_task = True  # marker read by jug.hash._contains_task

    def __init__(self, base: Any, f: Any) -> None:
        self.base = base
        self.f = f

    def __jug_value__(self) -> Any:
        return self.f(value(self.base))

    def value(self) -> Any:
        """Return ``f(value(base))``."""
        return self.__jug_value__()

    def dependencies(self) -> Iterator[Any]:
        """Yield the base (even when it is not a Task)."""
        yield self.base

    __jug_dependencies__ = dependencies

    def can_load(self) -> bool:
        """Whether the base's value is available."""
        return self.base.can_load()

    def unload(self) -> None:
        self.base.unload()

    def unload_recursive(self) -> None:
        self.base.unload_recursive()

    def _base_hash(self) -> bytes:
        """Return the hash of the first non-Tasklet down the chain of bases."""
        return base_task(self).hash()

    def __jug_hash__(self) -> bytes:
        f: Any = self.f
        if getattr(f, '__name__', None) == '<lambda>':
            f = _lambda_hash_key(f)
        M = new_hash_object()
        M.update(b'Tasklet')
        hash_update(M, [('base', self.base), ('f', f)])
        return M.hexdigest().encode('utf-8')


def base_task(t: Any) -> Any:
    """Return the Task a Tasklet (``t[0]``, ``t[0][1]``...) stands on; anything else as is.

    Usage: ``base_task(t[0]) is t``
    """
    while isinstance(t, Tasklet):
        t = t.base
    return t


def value(elem: Any) -> Any:
    """Return the value of ``elem``: tasks are replaced by their results, recursively.

    Usage: ``value(t)``, ``value([t0, t1])``, ``value({'a': t})``
    """
    if isinstance(elem, (Task, Tasklet)):
        return elem.value()
    return _map_container(value, elem, _own_value)


def _own_value(elem: Any) -> Any:
    jug_value = getattr(elem, '__jug_value__', None)
    return jug_value() if jug_value is not None else elem


def _map_container(f: Callable[[Any], Any], obj: Any, otherwise: Callable[[Any], Any]) -> Any:
    """Apply ``f`` to the items of an exact list, tuple or dict (keeping its type);
    return ``otherwise(obj)`` for anything else."""
    kind = type(obj)
    if kind is list:
        return [f(item) for item in obj]
    if kind is tuple:
        return tuple(f(item) for item in obj)
    if kind is dict:
        return {key: f(item) for key, item in obj.items()}
    return otherwise(obj)


def CachedFunction(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Compute ``f(*args, **kwargs)`` once, storing the result; later calls load it.

    Usage: ``data = CachedFunction(load_data, 'input.csv')``

    Raises
    ------
    ValueError
        If the result is not stored and the arguments are not available yet.
    """
    task = Task(f, *args, **kwargs)
    if not task.can_load():
        if not task.can_run():
            raise ValueError('jug.CachedFunction: cannot run '
                             f'{task.name}: its arguments are not available yet')
        task.run()
    return value(task)


class TaskGenerator:
    """Decorator turning a function into a generator of Tasks.

    Usage::

        @TaskGenerator
        def double(x):
            return 2 * x

        t = double(3)   # a Task; value(t) == 6 once it has run
    """

    _jug_is_task_generator = True

    def __init__(self, f: Callable[..., Any]) -> None:
        self.f = f

    def __getstate__(self) -> tuple[str, str]:
        module_name, name = self.f.__module__, self.f.__name__
        module = sys.modules.get(module_name) if module_name is not None else None
        found = getattr(module, name, None) if module is not None else None
        if found is not self and found is not self.f:
            raise RuntimeError(
                f'jug.TaskGenerator: cannot pickle the generator of {name!r}: it is not '
                f'reachable as {module_name}.{name} (local or renamed functions cannot '
                'be decorated with TaskGenerator when they must be pickled).')
        return (module_name, name)

    def __setstate__(self, state: tuple[str, str]) -> None:
        module_name, name = state
        __import__(module_name)
        found = getattr(sys.modules[module_name], name)
        self.f = found.f if isinstance(found, TaskGenerator) else found

    def __call__(self, *args: Any, **kwargs: Any) -> Task:
        return Task(self.f, *args, **kwargs)


class iteratetask:
    """View of a task's value as a sequence of known length ``n``.

    Usage: ``a, b = iteratetask(t, 2)``
    """

    def __init__(self, base: Any, n: int) -> None:
        self.base = base
        self.n = n

    def __getitem__(self, index: int) -> Any:
        if index >= self.n:
            raise IndexError(f'iteratetask: index {index} out of range (length {self.n})')
        return self.base[index]

    def __len__(self) -> int:
        return self.n


def _get_check(r: Any, i: int, n: int) -> Any:
    """Return ``r[i]`` after checking that ``r`` has ``n`` elements (for return_tuple)."""
    if len(r) != n:
        raise ValueError(f'Expected a tuple of size {n} got {len(r)}')
    return r[i]


def return_tuple(n: int) -> Callable[[Callable[..., Any]], Callable[..., tuple[Tasklet, ...]]]:
    """Decorate a TaskGenerator so that calls return ``n`` Tasklets, one per element.

    Usage::

        @return_tuple(2)
        @TaskGenerator
        def pair(x):
            return x, x + 1

        a, b = pair(1)
    """
    def decorator(generator: Callable[..., Any]) -> Callable[..., tuple[Tasklet, ...]]:
        def wrapper(*args: Any, **kwargs: Any) -> tuple[Tasklet, ...]:
            result = generator(*args, **kwargs)
            return tuple(Tasklet(result, functools.partial(_get_check, i=i, n=n))
                         for i in range(n))
        return wrapper
    return decorator


def describe(t: Any) -> Any:
    """Describe how ``t`` is computed, as nested dicts and lists (for metadata files).

    Usage: ``describe(t)``  →  ``{'name': 'mod.f', 'args': [...], 'meta': {...}}``
    """
    if isinstance(t, Task):
        description: dict[str, Any] = {'name': t.name}
        if t.args:
            description['args'] = [describe(arg) for arg in t.args]
        if t.kwargs:
            description['kwargs'] = {key: describe(arg) for key, arg in t.kwargs.items()}
        meta = t.store.metadata(t)
        if meta is not None:
            description['meta'] = meta
        return description
    if isinstance(t, Tasklet):
        return {'name': 'tasklet', 'operation': repr(t.f), 'base': describe(t.base)}
    return _map_container(describe, t, _unchanged)


def _unchanged(obj: Any) -> Any:
    return obj
