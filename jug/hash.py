"""Content hashing of task arguments, byte-compatible with Jug 2.7 (docs/hashing.rst).

Owns ``hash_update``, ``hash_one``, the key of a task and that of a lambda (for
Tasklets).  Layer 0: imports nothing from jug, keeps no
state besides constant caches, and never imports numpy (an array can only reach the
hasher if the jugfile already imported numpy, so ``sys.modules`` is consulted).
"""
from __future__ import annotations

import hashlib
import pickle
import sys

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType
    from typing import Any, Iterable

#: The pickle protocol used for hashing.  Pinned: hashes must not change when Python's
#: ``pickle.DEFAULT_PROTOCOL`` does, or every existing jugdir would be invalidated.
_PICKLE_PROTOCOL = 4

_LIST_TAG = repr(list).encode('utf-8')
_TUPLE_TAG = repr(tuple).encode('utf-8')
# The names fed to hash_update are mostly small ints (from enumerate) and a few fixed
# strings; their pickles are constant, so they are computed once.
_SMALL_INT_PICKLES = [pickle.dumps(i, _PICKLE_PROTOCOL) for i in range(256)]
_NAME_PICKLES = {name: pickle.dumps(name, _PICKLE_PROTOCOL)
                 for name in ('name', 'args', 'kwargs', 'hash1', 'base', 'f')}


def new_hash_object() -> hashlib._Hash:
    """Return a fresh hash object of the kind task hashes use (SHA-1).

    Usage: ``M = new_hash_object()``
    """
    return hashlib.sha1()


def _pickled_name(name: Any) -> bytes:
    """Return the protocol-4 pickle of a ``hash_update`` name, from the cache if possible."""
    kind = type(name)
    if kind is int and 0 <= name < 256:
        return _SMALL_INT_PICKLES[name]
    if kind is str:
        cached = _NAME_PICKLES.get(name)
        if cached is not None:
            return cached
    return pickle.dumps(name, _PICKLE_PROTOCOL)


def hash_update(M: Any, elems: Iterable[tuple[Any, Any]]) -> Any:
    """Feed ``(name, obj)`` pairs into the hash object ``M`` and return ``M``.

    Usage: ``hash_update(M, [('name', b'mod.f'), ('args', args)])``

    Parameters
    ----------
    M : hash object
        Anything with an ``update(bytes)`` method.
    elems : iterable of (name, object)
        Each name is pickled, then the object is hashed by the rules of docs/hashing.rst.

    Returns
    -------
    M : hash object
    """
    chunks: list[bytes] = []
    _feed_pairs(M, chunks, elems)
    _flush(M, chunks)
    return M


# The pieces below append the byte chunks to a list which is joined and given to the
# hash object at once (the digest of the concatenation equals that of successive
# updates, and one large update is much faster than many small ones).  Only large
# array buffers are passed to M directly, after flushing, to avoid copying them.

def _flush(M: Any, chunks: list[bytes]) -> None:
    if chunks:
        M.update(b''.join(chunks))
        chunks.clear()


def _feed_pairs(M: Any, chunks: list[bytes], elems: Iterable[tuple[Any, Any]]) -> None:
    for name, obj in elems:
        chunks.append(_pickled_name(name))
        _feed_one(M, chunks, obj)


#: Exact types that cannot carry a ``__jug_hash__`` and are hashed by their pickle.
_PICKLED_TYPES = frozenset([int, float, str, bytes, bool, type(None), complex])
#: Chunks gathered before they are given to the hash object (bounds the memory used
#: for hashing a long list, e.g. a reduction over a million tasks).
_MAX_CHUNKS = 8192


def _feed_sequence(M: Any, chunks: list[bytes], items: Iterable[Any]) -> None:
    # _feed_one, inlined for the commonest elements: small ints, strings, floats...
    small_ints = _SMALL_INT_PICKLES
    plain = _PICKLED_TYPES
    dumps = pickle.dumps
    for index, obj in enumerate(items):
        chunks.append(small_ints[index] if index < 256 else dumps(index, _PICKLE_PROTOCOL))
        kind = type(obj)
        if kind is int and 0 <= obj < 256:
            chunks.append(small_ints[obj])
        elif kind in plain:
            chunks.append(dumps(obj, _PICKLE_PROTOCOL))
        else:
            _feed_one(M, chunks, obj)
        if len(chunks) >= _MAX_CHUNKS:
            _flush(M, chunks)


def _feed_one(M: Any, chunks: list[bytes], obj: Any) -> None:
    """Hash one object (the rules a–f of docs/hashing.rst, in order)."""
    kind = type(obj)
    if kind in _PICKLED_TYPES:
        if kind is int and 0 <= obj < 256:
            chunks.append(_SMALL_INT_PICKLES[obj])
        else:
            chunks.append(pickle.dumps(obj, _PICKLE_PROTOCOL))
        return
    jug_hash = getattr(obj, '__jug_hash__', None)
    if jug_hash is not None:
        chunks.append(jug_hash())
    elif kind is list or kind is tuple:
        chunks.append(_LIST_TAG if kind is list else _TUPLE_TAG)
        _feed_sequence(M, chunks, obj)
    elif kind is set or kind is frozenset:
        chunks.append(b'set' if kind is set else b'frozenset')
        _feed_sequence(M, chunks, sorted(hash_one(e) for e in obj))
    elif kind is dict:
        chunks.append(b'dict')
        if obj:
            _feed_pairs(M, chunks, sorted(((hash_one(k), v) for k, v in obj.items()),
                                          key=_first))
    elif _is_plain_ndarray(obj):
        _feed_ndarray(M, chunks, obj)
    else:
        if isinstance(obj, (list, tuple)) and _contains_task(obj):
            raise TypeError(f'jug cannot hash a {kind.__name__} (a subclass of list or '
                            'tuple) that contains a Task; use a plain list or tuple instead')
        chunks.append(pickle.dumps(obj, _PICKLE_PROTOCOL))


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _is_plain_ndarray(obj: Any) -> bool:
    numpy = sys.modules.get('numpy')
    return numpy is not None and type(obj) is numpy.ndarray


def _feed_ndarray(M: Any, chunks: list[bytes], arr: Any) -> None:
    """Hash an exact ``numpy.ndarray``: dtype and shape pickles, then its C-order data."""
    chunks.append(b'np.ndarray')
    chunks.append(pickle.dumps(arr.dtype, _PICKLE_PROTOCOL))
    chunks.append(pickle.dumps(arr.shape, _PICKLE_PROTOCOL))
    if arr.dtype.hasobject:
        _feed_sequence(M, chunks, arr.ravel().tolist())
        return
    _flush(M, chunks)
    try:
        M.update(arr.data)
    except BufferError:
        # Not C-contiguous (Fortran order, strided view): hash the C-ordered copy, so
        # equal arrays hash equally whatever their layout.
        M.update(arr.copy().data)


def _contains_task(obj: Any) -> bool:
    """Tell whether a Task or Tasklet is anywhere inside ``obj``.

    Walks ``__jug_dependencies__``, lists, tuples, sets, frozensets and dict values.
    Tasks are recognised by the ``_jug_is_task`` class marker, so this layer need not
    import ``jug.task``.
    """
    stack = [obj]
    while stack:
        item = stack.pop()
        if getattr(type(item), '_jug_is_task', False):
            return True
        deps = getattr(item, '__jug_dependencies__', None)
        if deps is not None:
            stack.extend(deps())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


#: P4('kwargs') + b'dict': what every task hash has between its args and its kwargs.
_KWARGS_TAG = pickle.dumps('kwargs', _PICKLE_PROTOCOL) + b'dict'
_task_prefixes: dict[str, bytes] = {}


def _task_prefix(name: str) -> bytes:
    """The constant start of the hash input of every task called ``name`` (cached)."""
    prefix = _task_prefixes.get(name)
    if prefix is None:
        prefix = b''.join([_NAME_PICKLES['name'],
                           pickle.dumps(name.encode('utf-8'), _PICKLE_PROTOCOL),
                           _NAME_PICKLES['args'], _TUPLE_TAG])
        _task_prefixes[name] = prefix
    return prefix


def hash_task(name: str, args: Iterable[Any], kwargs: dict[Any, Any]) -> bytes:
    """Return the key of a task (docs/hashing.rst) as 40 hex characters in bytes.

    Usage: ``hash_task('builtins.sum', ([1, 2],), {})``  →  ``b'4b5c3a8c...'``

    Equal to hashing ``[('name', name.encode()), ('args', args), ('kwargs', kwargs)]``
    with ``hash_update``; the constant parts are cached, as tasks share few names.
    """
    M = new_hash_object()
    chunks = [_task_prefix(name)]
    _feed_sequence(M, chunks, args)
    chunks.append(_KWARGS_TAG)
    if kwargs:
        _feed_pairs(M, chunks, sorted(((hash_one(k), v) for k, v in kwargs.items()),
                                      key=_first))
    _flush(M, chunks)
    return M.hexdigest().encode('utf-8')


def hash_one(obj: Any) -> bytes:
    """Return the hex SHA-1 digest (as bytes) identifying ``obj``.

    Usage: ``hash_one([1, 2, 3])``  →  ``b'50adb8d4...'``
    """
    M = new_hash_object()
    hash_update(M, [('hash1', obj)])
    return M.hexdigest().encode('utf-8')


# --- the key of a lambda (Tasklets only; it depends on Python's bytecode) --------------------

def _stable(x: Any) -> Any:
    """Replace frozensets (whose pickles depend on the hash seed) by sets, recursively."""
    kind = type(x)
    if kind is frozenset:
        return set(x)
    if kind is tuple:
        return tuple(_stable(item) for item in x)
    return x


def _code_hash_key(code: CodeType) -> tuple[Any, ...]:
    """Return a picklable key of a code object: bytecode, constants and names."""
    consts = tuple(_code_hash_key(c) if hasattr(c, 'co_code') else _stable(c)
                   for c in code.co_consts)
    return (code.co_code, consts, code.co_names)


def _hashable_or_type(v: Any) -> Any:
    """Return ``v`` (stabilised) if it can be hashed, else a tag naming its type."""
    try:
        hash_one(v)
    except Exception:
        return ('unhashable', type(v).__module__, type(v).__qualname__)
    return _stable(v)


def _cell_key(cell: Any) -> Any:
    try:
        contents = cell.cell_contents
    except ValueError:  # an empty cell
        return None
    return _hashable_or_type(contents)


def _lambda_hash_key(f: Any) -> tuple[Any, ...]:
    """Return the hash key of a lambda (docs/hashing.rst): code, closure and defaults."""
    closure = tuple(_cell_key(cell) for cell in (f.__closure__ or ()))
    defaults = tuple(_hashable_or_type(d) for d in (f.__defaults__ or ()))
    kwdefaults = {k: _hashable_or_type(v) for k, v in (f.__kwdefaults__ or {}).items()}
    return ('<lambda>', _code_hash_key(f.__code__), closure, defaults, kwdefaults)
