"""The ``Options`` chain: an object that answers attributes from itself or from the next.

Owns only the ``Options`` class, so that both ``jug.options`` (the command line and
configuration files) and the subcommand framework (``jug.subcommands``, which keeps
the subcommands' defaults in an ``Options``) can use it without importing each other.
Imports nothing from jug.
"""
from __future__ import annotations

import copy

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Literal, Mapping

__all__ = ['Options']


class Options:
    """A link of the options chain: attributes not set here come from ``next``.

    Usage: ``opts = Options(default_options); opts.jugdir = 'x.jugdata'``

    Parameters
    ----------
    next : Options or None
        Where missing attributes are looked up.
    autoinit : callable or False, optional
        Called once with this object on the first failed attribute lookup (used to
        fill the defaults lazily).
    """

    def __init__(self, next: Options | None,
                 autoinit: Callable[[Options], object] | Literal[False] = False) -> None:
        self.next = next
        self._autoinit = autoinit

    if TYPE_CHECKING:
        # options are set as attributes of any name (``opts.jugdir = ...``)
        def __setattr__(self, name: str, value: Any) -> None: ...

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup failed.  Dunder names (deepcopy, pickle
        # protocols) must fail plainly, and must not trigger the autoinit.
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        autoinit = self.__dict__.get('_autoinit')
        if autoinit:
            self._autoinit = False
            autoinit(self)
            return getattr(self, name)
        following = self.__dict__.get('next')
        if following is None:
            raise AttributeError(name)
        return getattr(following, name)

    def _run_pending_autoinit(self) -> None:
        autoinit = self.__dict__.get('_autoinit')
        if autoinit:
            self._autoinit = False
            autoinit(self)
        following = self.__dict__.get('next')
        if isinstance(following, Options):
            following._run_pending_autoinit()

    def update(self, values: Mapping[str, Any]) -> None:
        """Set every ``key: value`` of the dict ``values`` as an attribute."""
        for key, val in values.items():
            setattr(self, key, val)

    def copy(self) -> Options:
        """Return an independent, fully initialised deep copy of the whole chain."""
        self._run_pending_autoinit()
        return copy.deepcopy(self)
