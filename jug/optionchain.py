"""The ``Options`` chain: an object that answers attributes from itself or from the next.

Owns only the ``Options`` class, so that both ``jug.options`` (the command line and
configuration files) and the subcommand framework (``jug.subcommands``, which keeps
the subcommands' defaults in an ``Options``) can use it without importing each other.
Imports nothing from jug.
"""
import copy

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

    def __init__(self, next, autoinit=False):
        self.next = next
        self._autoinit = autoinit

    def __getattr__(self, name):
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

    def _run_pending_autoinit(self):
        autoinit = self.__dict__.get('_autoinit')
        if autoinit:
            self._autoinit = False
            autoinit(self)
        following = self.__dict__.get('next')
        if isinstance(following, Options):
            following._run_pending_autoinit()

    def update(self, values):
        """Set every ``key: value`` of the dict ``values`` as an attribute."""
        for key, val in values.items():
            setattr(self, key, val)

    def copy(self):
        """Return an independent, fully initialised deep copy of the whole chain."""
        self._run_pending_autoinit()
        return copy.deepcopy(self)
