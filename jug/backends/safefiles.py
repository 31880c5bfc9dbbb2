"""Opening files under a jugdir safely (layer 1): regular files only, never through a
symbolic link, never blocking.

A jugdir is shared, sometimes with people or programs that are careless or hostile:
a FIFO in place of a lock file would block a plain ``open`` forever, a symbolic link
planted in ``records/`` would make a worker append to the link's target.  Every file
the file store reads or appends to goes through :func:`open_regular`
(``docs/failures.rst``, "Damaged or hostile files").  Files it creates are created
with ``O_EXCL`` (which never follows a link) and renamed into place (which replaces a
link rather than following it).

Imports nothing from jug.
"""
from __future__ import annotations

import errno
import os
import stat

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ['open_regular', 'NotARegularFileError']

#: Flags every open adds: no symbolic link as the last component, and no waiting
#: (a FIFO or a device opens at once, and is then refused).
_SAFE = getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0)
#: What ``open(O_NOFOLLOW)`` of a symbolic link fails with (ELOOP; EMLINK on BSDs).
_LINK_ERRORS = (errno.ELOOP, errno.EMLINK)


class NotARegularFileError(OSError):
    """The path is a symbolic link, a FIFO, a directory... not a regular file."""


def open_regular(path: str, mode: str = 'rb') -> BinaryIO:
    """Open the regular file `path` for reading (``'rb'``) or appending (``'ab'``).

    Usage: ``with open_regular(path) as f: data = f.read()``

    Raises
    ------
    FileNotFoundError
        If there is nothing at `path` (for ``'rb'``).
    NotARegularFileError
        If `path` is a symbolic link or anything but a regular file.
    """
    flags = {'rb': os.O_RDONLY, 'ab': os.O_WRONLY | os.O_APPEND | os.O_CREAT}[mode]
    try:
        fd = os.open(path, flags | _SAFE, 0o666)
    except OSError as e:
        if e.errno in _LINK_ERRORS:
            raise NotARegularFileError(e.errno, 'it is a symbolic link', path) from None
        if e.errno == errno.ENXIO:  # a FIFO opened for writing with no reader
            raise NotARegularFileError(e.errno, 'it is not a regular file', path) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFileError(errno.EINVAL, 'it is not a regular file', path)
        _clear_nonblocking(fd)
        return os.fdopen(fd, 'rb') if mode == 'rb' else os.fdopen(fd, 'ab')
    except BaseException:
        os.close(fd)
        raise


def _clear_nonblocking(fd: int) -> None:
    """Regular files ignore O_NONBLOCK; clear it anyway, so that reads behave as usual."""
    set_blocking = getattr(os, 'set_blocking', None)
    if set_blocking is not None:
        set_blocking(fd, True)
