"""Content hashing of task arguments, byte-compatible with Jug 2.7 (SPEC.md §2).

Owns ``hash_update`` and ``hash_one``.  Layer 0: imports nothing from jug, keeps no
state besides constant caches, and never imports numpy (an array can only reach the
hasher if the jugfile already imported numpy, so ``sys.modules`` is consulted).
"""
import hashlib
import pickle
import sys

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


def new_hash_object():
    """Return a fresh hash object of the kind task hashes use (SHA-1).

    Usage: ``M = new_hash_object()``
    """
    return hashlib.sha1()


def _pickled_name(name) -> bytes:
    """Return the protocol-4 pickle of a ``hash_update`` name, from the cache if possible."""
    kind = type(name)
    if kind is int and 0 <= name < 256:
        return _SMALL_INT_PICKLES[name]
    if kind is str:
        cached = _NAME_PICKLES.get(name)
        if cached is not None:
            return cached
    return pickle.dumps(name, _PICKLE_PROTOCOL)


def hash_update(M, elems):
    """Feed ``(name, obj)`` pairs into the hash object ``M`` and return ``M``.

    Usage: ``hash_update(M, [('name', b'mod.f'), ('args', args)])``

    Parameters
    ----------
    M : hash object
        Anything with an ``update(bytes)`` method.
    elems : iterable of (name, object)
        Each name is pickled, then the object is hashed by the rules of SPEC.md §2.1.

    Returns
    -------
    M : hash object
    """
    for name, obj in elems:
        M.update(_pickled_name(name))
        _update_one(M, obj)
    return M


def _update_one(M, obj) -> None:
    """Hash one object into ``M`` (the rules a–f of SPEC.md §2.1, in order)."""
    jug_hash = getattr(obj, '__jug_hash__', None)
    if jug_hash is not None:
        M.update(jug_hash())
        return
    kind = type(obj)
    if kind is list or kind is tuple:
        M.update(_LIST_TAG if kind is list else _TUPLE_TAG)
        hash_update(M, enumerate(obj))
    elif kind is set or kind is frozenset:
        M.update(b'set' if kind is set else b'frozenset')
        hash_update(M, enumerate(sorted(hash_one(e) for e in obj)))
    elif kind is dict:
        M.update(b'dict')
        pairs = sorted(((hash_one(k), v) for k, v in obj.items()), key=_first)
        hash_update(M, pairs)
    elif _is_plain_ndarray(obj):
        _update_ndarray(M, obj)
    else:
        if isinstance(obj, (list, tuple)) and _contains_task(obj):
            raise TypeError(f'jug cannot hash a {kind.__name__} (a subclass of list or '
                            'tuple) that contains a Task; use a plain list or tuple instead')
        M.update(pickle.dumps(obj, _PICKLE_PROTOCOL))


def _first(pair):
    return pair[0]


def _is_plain_ndarray(obj) -> bool:
    numpy = sys.modules.get('numpy')
    return numpy is not None and type(obj) is numpy.ndarray


def _update_ndarray(M, arr) -> None:
    """Hash an exact ``numpy.ndarray``: dtype and shape pickles, then its C-order data."""
    M.update(b'np.ndarray')
    M.update(pickle.dumps(arr.dtype, _PICKLE_PROTOCOL))
    M.update(pickle.dumps(arr.shape, _PICKLE_PROTOCOL))
    if arr.dtype.hasobject:
        hash_update(M, enumerate(arr.ravel().tolist()))
        return
    try:
        M.update(arr.data)
    except BufferError:
        # Not C-contiguous (Fortran order, strided view): hash the C-ordered copy, so
        # equal arrays hash equally whatever their layout.
        M.update(arr.copy().data)


def _contains_task(obj) -> bool:
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


def hash_one(obj) -> bytes:
    """Return the hex SHA-1 digest (as bytes) identifying ``obj``.

    Usage: ``hash_one([1, 2, 3])``  →  ``b'50adb8d4...'``
    """
    M = new_hash_object()
    hash_update(M, [('hash1', obj)])
    return M.hexdigest().encode('utf-8')
