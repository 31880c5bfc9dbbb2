"""Post-mortem debugging for ``--pdb`` (docs/subcommands.rst, ``--pdb``).

Owns ``_get_debugger`` and ``debug_exception``.  Callers import ``debug_exception``
from this module at call time, so tests can replace
``jug.internal.debugger.debug_exception``.

Imports nothing from jug.  IPython is optional and imported only when a debugger is
actually needed (``import jug`` must stay cheap, docs/architecture.rst).
"""
from __future__ import annotations

import sys

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ['debug_exception']


def _get_debugger() -> Any:
    """Return a debugger object: IPython's ``Pdb`` if IPython is installed, else ``pdb.Pdb``.

    Usage: ``_get_debugger().interaction(None, traceback)``
    """
    try:
        from IPython.core.debugger import Pdb
    except ImportError:
        import pdb
        return pdb.Pdb()
    return Pdb()


def debug_exception() -> None:
    """Start a post-mortem debugger on the exception currently being handled.

    Usage::

        try:
            ...
        except Exception:
            debug_exception()

    Raises
    ------
    ValueError
        If no exception is being handled.
    """
    tb = sys.exc_info()[2]
    if tb is None:
        raise ValueError('debug_exception() must be called while an exception is handled')
    debugger = _get_debugger()
    debugger.reset()
    debugger.interaction(None, tb)
