"""Tools that make jug skip its safety checks: use them knowingly.

Owns ``NoHash`` (docs/utilities.rst).  Jug identifies a task by a hash of its function name
and of all its arguments, so that changing any input makes jug compute the result
again.  ``NoHash`` removes its argument from that hash, which is *unsafe*:

* changing the wrapped object does not invalidate existing results, so jug silently
  returns results computed from the old value;
* two tasks that differ only in a ``NoHash`` argument get the same hash, so one's
  result is taken for the other's.

It is meant for arguments that cannot change the result (a logger, a number of
threads, a progress callback) or that are hard to hash when you accept these risks.

Layer 3: imports ``jug.utils`` (``CustomHash``, of which ``NoHash`` is a special
case) and through it ``jug.task``; never ``jug.jug``, ``jug.options`` or
``jug.subcommands``.
"""
from __future__ import annotations

from .utils import CustomHash

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ['NoHash']

#: What every NoHash contributes to a hash, whatever it wraps (as in Jug 2.7).
_NOHASH_DIGEST = b'nohash'


def _constant_hash(obj: Any) -> bytes:
    return _NOHASH_DIGEST


class NoHash(CustomHash):
    """Pass an argument to a task without it entering the task's hash.

    Usage: ``process(data, NoHash(logger))``

    The task receives ``value(obj)``, and tasks inside ``obj`` are still dependencies.
    See the module documentation for why this is unsafe.

    Parameters
    ----------
    obj : object
        The argument to leave out of the hash.
    """

    def __init__(self, obj: Any) -> None:
        super().__init__(obj, _constant_hash)

    def __repr__(self) -> str:
        return f'NoHash({self.obj!r})'
