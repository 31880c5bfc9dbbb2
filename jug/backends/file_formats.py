"""Result file formats of the file store (layer 1): how a value becomes a file, and back.

A result file holds, depending on the value (``docs/backends.rst``, "Results"):

* a plain ``.npy`` file for an exact ``numpy.ndarray`` of non-object dtype;
* parquet for an exact ``polars.DataFrame``;
* nothing (an empty file) for ``None``;
* otherwise the zlib stream of :mod:`jug.backends.encode` (prefix ``P`` + pickle).

Loading sniffs the format from the first bytes, in that order (npy magic, ``PAR1``,
zlib).  numpy and polars are never imported just to store something: an object can only
be an array or a DataFrame if its package is already in ``sys.modules``; they are
imported when a file needs them to load.

Imports nothing from jug outside ``jug.backends`` and ``jug.errors``.
"""
from __future__ import annotations

import sys

from ..errors import MissingPackageError
from .encode import decode_from, encode_to

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

__all__ = ['write_result', 'read_result']

#: Magic numbers used to recognise the format of a result file.
_NPY_MAGIC = b'\x93NUMPY'
_PARQUET_MAGIC = b'PAR1'


def write_result(object: Any, f: BinaryIO, compress_numpy: bool = False) -> None:
    """Write `object` to the open file `f` in its result file format.

    Usage: ``write_result(value, f)``

    Raw ``.npy`` for an exact ndarray of non-object dtype and parquet for an exact
    polars DataFrame (unless `compress_numpy`); if that native writer fails with
    ``OSError`` or ``ValueError`` the file is emptied and the generic encoding used.
    Everything else uses :func:`jug.backends.encode.encode_to` (nothing for None).
    """
    if object is not None and not compress_numpy:
        np = sys.modules.get('numpy')
        if np is not None and type(object) is np.ndarray and not object.dtype.hasobject:
            try:
                np.lib.format.write_array(f, object)  # looked up at call time
                return
            except (OSError, ValueError):
                f.seek(0)
                f.truncate()
        pl = sys.modules.get('polars')
        if pl is not None and type(object) is pl.DataFrame:
            try:
                object.write_parquet(f)
                return
            except (OSError, ValueError):
                f.seek(0)
                f.truncate()
    encode_to(object, f)


def read_result(f: BinaryIO, fname: str) -> Any:
    """Return the value stored in the open result file `f` (named `fname`).

    Usage: ``with open(path, 'rb') as f: value = read_result(f, path)``

    Raises
    ------
    jug.errors.MissingPackageError
        For a parquet file when polars is not installed.
    Exception
        Whatever decoding raised, for a damaged file (``ValueError`` for a cut-short
        zlib stream).
    """
    head = f.read(len(_NPY_MAGIC))
    if not head:
        return None  # an empty file stores None
    f.seek(0)
    npy_error = None
    if head == _NPY_MAGIC:
        import numpy as np  # lazy: only array results need numpy
        try:
            return np.lib.format.read_array(f)
        except ValueError as e:
            npy_error = e
            f.seek(0)
    elif head.startswith(_PARQUET_MAGIC):
        try:
            import polars
        except ImportError as e:
            raise MissingPackageError('polars', f'Loading the result {fname!r} '
                                      f'(a polars DataFrame)') from e
        try:
            return polars.read_parquet(f)
        except Exception:
            f.seek(0)
    try:
        value = decode_from(f)
    except Exception:
        if npy_error is not None:
            raise npy_error  # a damaged .npy file: its own error is the clear one
        raise
    if value is None:
        # Jug stores None as an empty file; a zlib stream holding an encoded None
        # (another writer's) starts with the prefix byte.  Otherwise the stream was
        # cut short before its first byte of data.
        import zlib  # lazy: only needed for this rare case
        f.seek(0)
        if not zlib.decompressobj().decompress(f.read(8192)):
            raise ValueError('no data could be decompressed from it')
    return value
