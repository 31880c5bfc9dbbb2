"""Map and reduce over many inputs with few tasks, by processing inputs in blocks.

Owns ``mapreduce``, ``map``, ``currymap``, ``reduce`` and the lazy sequence views
``block_access`` / ``block_access_slice`` that ``map`` returns (docs/mapreduce.rst,
docs/hashing.rst).  The names of the internal functions (``_jug_map``, ``_jug_map_curry``,
``_jug_map_reduce``, ``_jug_reduce``) are part of task names, hence of hashes: keep them.

Layer 3: may import ``jug.task``, ``jug.hash``, ``jug.backends`` and the other
vocabulary modules (``jug.utils``); never ``jug.jug``, ``jug.options`` or
``jug.subcommands``.
"""
from __future__ import annotations

import functools
import operator

from .hash import hash_one
from .task import Task, TaskletMixin, value
from .utils import identity

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator, Sequence

    from .task import Tasklet

__all__ = ['mapreduce', 'map', 'currymap', 'reduce']


def _as_sequence(inputs: Any) -> Sequence[Any]:
    """Return ``inputs`` if it has ``len`` and slicing, else its elements as a list.

    Generators and other iterators are consumed once, here; sequences are kept as
    they are, so their slices (and the hashes of the tasks built on them) are those
    Jug 2.7 computes.
    """
    if hasattr(inputs, '__len__') and hasattr(inputs, '__getitem__'):
        return inputs
    return list(inputs)


def _break_up(lst: Any, step: int) -> Iterator[Any]:
    """Yield the consecutive slices ``lst[0:step]``, ``lst[step:2*step]``, ...

    Works on anything with ``len`` and slicing (lists, ranges, numpy arrays).
    """
    for start in range(0, len(lst), step):
        yield lst[start:start + step]


def _get_function(f: Any) -> Any:
    """Return the plain function behind a TaskGenerator (other callables unchanged).

    Side effect kept for compatibility (docs/hashing.rst): the plain function is given a
    ``__jug_hash__`` returning the hash of the generator, so that wherever it is hashed
    from now on (in this module's tasks or elsewhere) it hashes like the generator.
    """
    if getattr(f, '_jug_is_task_generator', False):
        generator_hash = hash_one(f)
        f = f.f
        f.__jug_hash__ = lambda: generator_hash
    return f


def _jug_map_reduce(reducer: Any, mapper: Any, inputs: Iterable[Any]) -> Any:
    """Task body: map ``mapper`` over one block of inputs and fold with ``reducer``."""
    reducer = _get_function(reducer)
    mapper = _get_function(mapper)
    if mapper is None:
        mapped = list(inputs)
    else:
        mapped = [mapper(x) for x in inputs]
    return functools.reduce(reducer, mapped)


def _jug_reduce(reducer: Any, inputs: Iterable[Any]) -> Any:
    """Task body: fold a list of partial results with ``reducer``."""
    return functools.reduce(_get_function(reducer), inputs)


def _jug_map(mapper: Any, inputs: Iterable[Any]) -> list[Any]:
    """Task body: the list of ``mapper(x)`` for one block of inputs."""
    mapper = _get_function(mapper)
    return [mapper(x) for x in inputs]


def _jug_map_curry(mapper: Any, inputs: Iterable[Any]) -> list[Any]:
    """Task body: the list of ``mapper(*args)`` for one block of argument tuples."""
    mapper = _get_function(mapper)
    return [mapper(*args) for args in inputs]


def mapreduce(reducer: Callable[[Any, Any], Any], mapper: Callable[[Any], Any] | None,
              inputs: Iterable[Any], map_step: int = 4, reduce_step: int = 8) -> Task | Tasklet:
    """Compute ``functools.reduce(reducer, [mapper(x) for x in inputs])`` as a tree of tasks.

    Usage: ``total = mapreduce(operator.add, count_words, filenames)``

    Each task maps and reduces ``map_step`` inputs; partial results are then reduced
    ``reduce_step`` at a time until one task remains.  The order of the inputs is
    kept, but ``reducer`` must be associative.

    Parameters
    ----------
    reducer : callable
        ``reducer(a, b)`` combines two results (a function or a TaskGenerator).
    mapper : callable or None
        Applied to each input (None: the inputs themselves are reduced).
    inputs : iterable
        A sequence (its slices become the tasks' arguments) or any iterable (consumed
        into a list); it may contain tasks.
    map_step : int, optional
        Inputs per first-level task (default 4).
    reduce_step : int, optional
        Partial results per reduce task (default 8).

    Returns
    -------
    task : Task
        The task whose value is the final result (for no inputs, ``identity([])``).
    """
    tasks = [Task(_jug_map_reduce, reducer, mapper, block)
             for block in _break_up(_as_sequence(inputs), map_step)]
    while len(tasks) > 1:
        tasks = [Task(_jug_reduce, reducer, group) for group in _break_up(tasks, reduce_step)]
    if not tasks:
        return identity([])
    return tasks[0]


def reduce(reducer: Callable[[Any, Any], Any], inputs: Iterable[Any],
           reduce_step: int = 8) -> Task | Tasklet:
    """Reduce ``inputs`` with ``reducer`` as a tree of tasks.

    Usage: ``total = reduce(operator.add, partial_sums)``

    Same as ``mapreduce(reducer, None, inputs, reduce_step=reduce_step)``.

    Parameters
    ----------
    reducer : callable
        Associative ``reducer(a, b)``.
    inputs : sequence
        The values (or tasks) to combine.
    reduce_step : int, optional
        Partial results per reduce task (default 8).

    Returns
    -------
    task : Task
    """
    return mapreduce(reducer, None, inputs, reduce_step=reduce_step)


def map(mapper: Callable[[Any], Any], seq: Iterable[Any],
        map_step: int = 4) -> block_access | list[Task]:
    """Apply ``mapper`` to every element of ``seq``, ``map_step`` elements per task.

    Usage: ``results = map(process, inputs)``; ``results[3]``, ``results[2:5]``

    Parameters
    ----------
    mapper : callable
        A function or a TaskGenerator.
    seq : iterable
        A sequence (its slices become the tasks' arguments) or any iterable (consumed
        into a list); it may contain tasks.
    map_step : int, optional
        Elements per task (default 4).

    Returns
    -------
    results : block_access or list of Task
        A lazy sequence of the results (indexing gives Tasklets, slicing gives
        ``block_access_slice`` views, ``value()`` gives the list); with
        ``map_step == 1``, a plain list with one task per element.
    """
    mapper = _get_function(mapper)
    if map_step == 1:
        return [Task(mapper, x) for x in seq]
    seq = _as_sequence(seq)
    blocks = [Task(_jug_map, mapper, block) for block in _break_up(seq, map_step)]
    return block_access(blocks, map_step, len(seq))


def currymap(mapper: Callable[..., Any], seq: Iterable[Any], map_step: int = 4) -> list[Any]:
    """Apply ``mapper(*args)`` to every tuple ``args`` of ``seq``, ``map_step`` per task.

    Usage: ``results = currymap(compare, [(a, b), (a, c)])``

    Parameters
    ----------
    mapper : callable
        A function or a TaskGenerator.
    seq : sequence of tuples
        The arguments of each call: ``f(*args)`` for each tuple ``args``.
    map_step : int, optional
        Elements per task (default 4).

    Returns
    -------
    results : list
        One Tasklet per element (with ``map_step == 1``, one Task per element).
    """
    mapper = _get_function(mapper)
    if map_step == 1:
        return [Task(mapper, *args) for args in seq]
    results: list[Any] = []
    for block in _break_up(_as_sequence(seq), map_step):
        task = Task(_jug_map_curry, mapper, block)
        results.extend(task[i] for i in range(len(block)))
    return results


def _as_index(index: Any) -> int:
    """Return ``index`` as an int, or raise TypeError naming what was given."""
    try:
        return operator.index(index)
    except TypeError:
        raise TypeError('map results can be indexed only by integers or slices, not '
                        f'{type(index).__name__}') from None


class block_access(TaskletMixin):
    """The results of ``map``: a lazy sequence backed by the block tasks.

    Usage: ``results[i]`` (a Tasklet), ``results[a:b]`` (a ``block_access_slice``),
    ``len(results)``, ``value(results)`` (the list of all results).

    Parameters
    ----------
    blocks : list of Task
        Tasks whose values are lists of ``block_size`` results (the last may be shorter).
    block_size : int
    len : int
        Total number of results.
    """

    __slots__ = ('blocks', 'block_size', 'len', '_hvalue')

    def __init__(self, blocks: list[Task], block_size: int, len: int) -> None:
        self.blocks = blocks
        self.block_size = block_size
        self.len = len
        self._hvalue: bytes | None = None

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return block_access_slice(self, index.indices(self.len))
        i = _as_index(index)
        if i < 0:
            i += self.len
        if not 0 <= i < self.len:
            raise IndexError(f'map result index {index} out of range (length {self.len})')
        return self.blocks[i // self.block_size][i % self.block_size]

    def __len__(self) -> int:
        return self.len

    def __jug_hash__(self) -> bytes:
        if self._hvalue is None:
            self._hvalue = hash_one({
                'type': 'map-access',
                'len': self.len,
                'blocks': self.blocks,
                'block_size': self.block_size,
            })
        return self._hvalue

    def __jug_dependencies__(self) -> list[Task]:
        return self.blocks

    def __jug_value__(self) -> list[Any]:
        result: list[Any] = []
        for block in self.blocks:
            result.extend(value(block))
        return result

    def can_load(self) -> bool:
        """Whether every block's result is stored.

        Usage: ``results.can_load()``
        """
        return all(block.can_load() for block in self.blocks)

    def __repr__(self) -> str:
        return f'block_access(<{self.len} results in {len(self.blocks)} blocks>)'


class block_access_slice(TaskletMixin):
    """A slice of the results of ``map``, itself lazy; slicing it again composes.

    Usage: ``results[2:8]`` (created by slicing a ``block_access``)

    Parameters
    ----------
    access : block_access
    start_stop_stride : tuple of int
        ``(start, stop, stride)``, as ``slice.indices`` returns them.
    """

    __slots__ = ('base', 'start', 'stop', 'stride', '_range', '_hvalue')

    def __init__(self, access: block_access, start_stop_stride: tuple[int, int, int]) -> None:
        self.base = access
        self.start, self.stop, self.stride = start_stop_stride
        self._range = range(self.start, self.stop, self.stride)
        self._hvalue: bytes | None = None

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            sub = self._range[index]
            return block_access_slice(self.base, (sub.start, sub.stop, sub.step))
        return self.base[self._range[_as_index(index)]]

    def __len__(self) -> int:
        return len(self._range)

    def __jug_hash__(self) -> bytes:
        if self._hvalue is None:
            self._hvalue = hash_one({
                'type': 'map-access-slice',
                'base': self.base,
                'start': self.start,
                'stop': self.stop,
                'stride': self.stride,
            })
        return self._hvalue

    def __jug_dependencies__(self) -> list[Task]:
        block_size = self.base.block_size
        covering = sorted({i // block_size for i in self._range})
        return [self.base.blocks[b] for b in covering]

    def __jug_value__(self) -> list[Any]:
        block_size = self.base.block_size
        blocks = self.base.blocks
        return [value(blocks[i // block_size])[i % block_size] for i in self._range]

    def can_load(self) -> bool:
        """Whether every block of the underlying map result is stored.

        Usage: ``results[2:8].can_load()``
        """
        return self.base.can_load()

    def __repr__(self) -> str:
        return (f'block_access_slice(<{len(self)} of {self.base.len} results, '
                f'range({self.start}, {self.stop}, {self.stride})>)')
