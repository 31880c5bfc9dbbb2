"""Result encoding (layer 0): turning Python objects into bytes and back.

Owns the encoding used inside zlib-compressed result files, the pack file and redis
values (docs/backends.rst, "Results"):

* ``None`` encodes to nothing at all (zero bytes, not even a zlib header);
* anything else is a zlib stream (default level, so it starts ``78 9c``) holding a
  one-byte prefix and a payload: ``N`` + ``.npy`` data for an exact ``numpy.ndarray``
  whose dtype holds no Python objects, ``P`` + a pickle (highest protocol) otherwise.

It also owns the two stream adaptors, :class:`compress_stream` and
:class:`decompress_stream`, which ``numpy`` and ``pickle`` read and write through.

This module is pure: no filesystem access, no globals that change.  It must not import
anything from jug, and must not import numpy at module level: numpy is imported only to
decode an ``N`` payload, and an object is treated as an array only if numpy is already in
``sys.modules`` (no ndarray can exist otherwise).
"""
from __future__ import annotations

import pickle
import sys
import zlib
from io import BytesIO

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, NoReturn

__all__ = ['encode', 'encode_to', 'decode', 'decode_from',
           'compress_stream', 'decompress_stream']

#: Prefix byte of a payload written with ``numpy.save`` (.npy format).
PREFIX_NUMPY = b'N'
#: Prefix byte of a payload written with ``pickle.dump`` (highest protocol).
PREFIX_PICKLE = b'P'

#: zlib's C API takes sizes as 32-bit integers on some builds: larger writes are split.
_MAX_WRITE = 2_000_000_000

#: Smallest amount of decompressed data produced per call into zlib; reads smaller
#: than this are served from the internal queue so that many tiny reads stay cheap.
_MIN_DECOMPRESS_OUTPUT = 65536


def _is_plain_array(obj: Any) -> bool:
    """True if `obj` is an exact ``numpy.ndarray`` whose dtype holds no objects."""
    np = sys.modules.get('numpy')
    if np is None:
        return False
    return type(obj) is np.ndarray and not obj.dtype.hasobject


class compress_stream:
    """Write-only file-like object that zlib-compresses into another stream.

    Usage: ``cs = compress_stream(f); cs.write(data); cs.flush()``

    Parameters
    ----------
    stream : binary file-like
        Receives the compressed bytes.

    Notes
    -----
    ``flush()`` finishes the zlib stream (it must be called exactly once, at the end)
    and flushes `stream`.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.C = zlib.compressobj()

    def write(self, s: Any) -> None:
        """Compress `s` (any bytes-like object) into the underlying stream."""
        view = memoryview(s)
        if view.nbytes > _MAX_WRITE:
            view = view.cast('B')
            for start in range(0, view.nbytes, _MAX_WRITE):
                self.stream.write(self.C.compress(view[start:start + _MAX_WRITE]))
        else:
            self.stream.write(self.C.compress(view))

    def flush(self) -> None:
        """Finish the zlib stream and flush the underlying stream."""
        self.stream.write(self.C.flush())
        self.stream.flush()

    def read(self, *args: Any) -> NoReturn:
        raise NotImplementedError('compress_stream is write-only')

    def readinto(self, *args: Any) -> NoReturn:
        raise NotImplementedError('compress_stream is write-only')


class decompress_stream:
    """Read-only file-like object that decompresses a zlib stream lazily.

    Usage: ``ds = decompress_stream(f); header = ds.read(1)``

    Parameters
    ----------
    stream : binary file-like
        Holds the compressed bytes; it is read `block` bytes at a time.
    block : int, optional
        Size of the compressed chunks read from `stream` (default 8192).

    Notes
    -----
    Decompressed data that was produced but not yet returned waits in an internal queue
    (a bytes object and an offset into it, so serving from it is linear-time).
    ``seek`` supports only ``whence == 1``: a positive offset reads and discards, a
    negative one pushes back the tail of the last ``read``/``readline`` result (this is
    what ``numpy.load`` needs after peeking at the magic string).
    """

    def __init__(self, stream: BinaryIO, block: int = 8192) -> None:
        self.stream = stream
        self.block = block
        self.D = zlib.decompressobj()
        self.lastread = b''
        self._queue = b''
        self._qpos = 0
        self._position = 0
        self._eof = False

    # internal -------------------------------------------------------------------------
    def _next_chunk(self, max_length: int) -> bytes:
        """Return up to `max_length` (>= 1) newly decompressed bytes; ``b''`` at the end."""
        while not self._eof:
            data = self.D.unconsumed_tail
            if not data:
                if self.D.eof:
                    # end of the zlib stream: anything after it is ignored
                    self._eof = True
                    break
                data = self.stream.read(self.block)
                if not data:
                    self._eof = True
                    return self.D.flush()
            out = self.D.decompress(data, max_length)
            if out:
                return out
        return b''

    def _take_queue(self, n: int) -> bytes:
        """Remove and return up to `n` bytes from the queue (``n < 0``: all of it)."""
        q, pos = self._queue, self._qpos
        if pos >= len(q):
            return b''
        if n < 0 or pos + n >= len(q):
            piece = q[pos:] if pos else q
            self._queue = b''
            self._qpos = 0
        else:
            piece = q[pos:pos + n]
            self._qpos = pos + n
        return piece

    def _finish_read(self, parts: list) -> bytes:
        if len(parts) == 1:
            result = parts[0]
        else:
            result = b''.join(parts)
        self.lastread = result
        self._position += len(result)
        return result

    # file-like interface ----------------------------------------------------------------
    def read(self, nbytes: int = -1) -> bytes:
        """Return up to `nbytes` bytes (fewer only at the end); all the rest if negative."""
        if nbytes is None:
            nbytes = -1
        parts = []
        first = self._take_queue(nbytes)
        if first:
            parts.append(first)
        if nbytes < 0:
            while True:
                chunk = self._next_chunk(max(_MIN_DECOMPRESS_OUTPUT, 16 * self.block))
                if not chunk:
                    break
                parts.append(chunk)
        else:
            missing = nbytes - len(first)
            while missing > 0:
                chunk = self._next_chunk(max(missing, _MIN_DECOMPRESS_OUTPUT))
                if not chunk:
                    break
                if len(chunk) > missing:
                    # keep the surplus for the next read
                    self._queue = chunk
                    self._qpos = missing
                    chunk = chunk[:missing]
                parts.append(chunk)
                missing -= len(chunk)
        if not parts:
            parts.append(b'')
        return self._finish_read(parts)

    def readinto(self, buffer: Any) -> int:
        """Read into a writable bytes-like object; return the number of bytes read."""
        view = memoryview(buffer).cast('B')
        data = self.read(len(view))
        view[:len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
        """Return the next line including its ``\\n`` (the remainder at the end, then ``b''``)."""
        parts = []
        remaining = size if size is not None and size >= 0 else -1
        while remaining != 0:
            if self._qpos >= len(self._queue):
                chunk = self._next_chunk(max(_MIN_DECOMPRESS_OUTPUT, self.block))
                if not chunk:
                    break
                self._queue = chunk
                self._qpos = 0
            q, pos = self._queue, self._qpos
            end = len(q) if remaining < 0 else min(len(q), pos + remaining)
            newline = q.find(b'\n', pos, end)
            if newline >= 0:
                parts.append(q[pos:newline + 1])
                self._qpos = newline + 1
                break
            parts.append(q[pos:end])
            self._qpos = end
            if remaining > 0:
                remaining -= end - pos
        if not parts:
            parts.append(b'')
        return self._finish_read(parts)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move relative to the current position (only ``whence == 1`` is supported).

        A negative `offset` may go back at most as far as the last read returned;
        otherwise ``ValueError`` is raised.
        """
        if whence != 1:
            raise NotImplementedError('decompress_stream.seek only supports whence == 1')
        if offset > 0:
            self.read(offset)
        elif offset < 0:
            back = -offset
            last = self.lastread
            if back > len(last):
                raise ValueError(f'decompress_stream.seek: cannot go back {back} bytes '
                                 f'(the last read returned only {len(last)})')
            rest = self._queue[self._qpos:]
            self._queue = last[len(last) - back:] + rest
            self._qpos = 0
            self.lastread = last[:len(last) - back]
            self._position -= back
        return self._position

    def tell(self) -> int:
        """Return the number of decompressed bytes consumed so far."""
        return self._position

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def encode_to(object: Any, stream: BinaryIO) -> None:
    """Write the encoding of `object` to `stream`.

    Usage: ``encode_to(value, open(fname, 'wb'))``

    Parameters
    ----------
    object : any
        ``None`` writes nothing at all; an exact ndarray of non-object dtype is written
        as ``N`` + .npy data; anything else as ``P`` + pickle (highest protocol); both
        inside one zlib stream.
    stream : binary file-like
        Destination; it is flushed at the end.
    """
    if object is None:
        return
    out = compress_stream(stream)
    if _is_plain_array(object):
        import numpy as np  # already imported: _is_plain_array found it in sys.modules
        out.write(PREFIX_NUMPY)
        np.save(out, object)
    else:
        out.write(PREFIX_PICKLE)
        pickle.dump(object, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def encode(object: Any) -> bytes:
    """Return the encoding of `object` as bytes (``b''`` for ``None``).

    Usage: ``data = encode(value)``
    """
    output = BytesIO()
    encode_to(object, output)
    return output.getvalue()


def decode_from(stream: BinaryIO) -> Any:
    """Read one encoded object from `stream` (inverse of :func:`encode_to`).

    Usage: ``value = decode_from(open(fname, 'rb'))``

    Parameters
    ----------
    stream : binary file-like
        Positioned at the start of an encoding.

    Returns
    -------
    object
        ``None`` for an empty stream.

    Raises
    ------
    OSError
        If the prefix byte is neither ``N`` nor ``P``.
    """
    decompressed = decompress_stream(stream)
    prefix = decompressed.read(1)
    if not prefix:
        return None
    if prefix == PREFIX_PICKLE:
        return pickle.load(decompressed)
    if prefix == PREFIX_NUMPY:
        import numpy as np  # lazy: only results that are arrays need numpy
        return np.load(decompressed)
    raise OSError(f'jug.backends.encode.decode_from: unknown prefix {prefix!r}')


def decode(s: bytes) -> Any:
    """Return the object encoded in the bytes `s` (``None`` for ``b''``).

    Usage: ``value = decode(data)``
    """
    return decode_from(BytesIO(s))
