"""Stores (layer 1): where task results and locks live.

As in Jug 2.7 (docs/compatibility.rst), ``jug.backends.select`` is the *function* and
``jug.backends.memoize_store`` the *class* (they shadow their submodules), while
``file_store``, ``dict_store``, ``redis_store``, ``encode`` and ``base`` are modules.

Importing this package must stay cheap: it must not import numpy, redis, sqlite3, yaml
or polars (they are imported where used), nor ``jug.task`` or anything above layer 1.
"""
from . import base, encode, file_store, dict_store, redis_store
from .memoize_store import memoize_store
from .select import select

__all__ = ['base', 'encode', 'file_store', 'dict_store', 'redis_store',
           'memoize_store', 'select']
