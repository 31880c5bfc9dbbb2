"""``select(jugdir)``: how a ``--jugdir`` string becomes a store (layer 1).

Owns the registry of jugdir forms (docs/architecture.rst) rather than an if-chain:

=====================  ======================================
``redis:...``          ``redis_store(jugdir)``
``dict_store``         a fresh ``dict_store()`` (exact match)
``dict_store:<path>``  ``dict_store(path)``
``file_keepalive:<d>`` ``file_keepalive_store(d)``
anything else          ``file_store(jugdir)``
=====================  ======================================

A non-``str`` argument is returned unchanged (it is already a store).  ``set_jugdir``
lives in :mod:`jug.options`.

Must not import ``jug.task`` or anything above layer 1.
"""
from __future__ import annotations

from .dict_store import dict_store
from .file_store import file_keepalive_store, file_store
from .redis_store import redis_store

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

__all__ = ['select', 'register_jugdir_form', 'is_shared']

#: Jugdir strings recognised exactly, mapped to a factory called with the whole string.
_EXACT: dict[str, Callable[[str], object]] = {}
#: Jugdir prefixes, mapped to a factory called with the whole string.
_PREFIXES: dict[str, Callable[[str], object]] = {}
#: The forms (as registered) whose stores only one process can use.
_PRIVATE: set = set()


def register_jugdir_form(form: str, factory: Callable[[str], object], exact: bool = False,
                         shared: bool = True) -> None:
    """Make jugdir strings starting with (or equal to, if `exact`) `form` use `factory`.

    Usage: ``register_jugdir_form('s3:', lambda jugdir: my_s3_store(jugdir[3:]))``

    Parameters
    ----------
    form : str
        A prefix such as ``'redis:'``, or a whole jugdir string if `exact`.
    factory : callable
        Called with the complete jugdir string; returns a store.
    exact : bool, optional
        Match only the whole string (default: match it as a prefix).
    shared : bool, optional
        Whether several processes can use the store at once (see :func:`is_shared`).

    Notes
    -----
    Exact forms are tried first, then prefixes (longest first); anything unmatched is a
    ``file_store`` path.
    """
    (_EXACT if exact else _PREFIXES)[form] = factory
    if not shared:
        _PRIVATE.add(form)


register_jugdir_form('redis:', redis_store)
register_jugdir_form('dict_store', lambda jugdir: dict_store(), exact=True, shared=False)
register_jugdir_form('dict_store:', lambda jugdir: dict_store(jugdir[len('dict_store:'):]),
                     shared=False)
register_jugdir_form('file_keepalive:',
                     lambda jugdir: file_keepalive_store(jugdir[len('file_keepalive:'):]))


def select(jugdir: Any) -> Any:
    """Return the store that the jugdir string `jugdir` names.

    Usage: ``store = select('jugfile.jugdata')``

    Parameters
    ----------
    jugdir : str or store
        ``'redis:...'`` gives a redis_store; ``'dict_store'`` a new dict_store;
        ``'dict_store:PATH'`` a dict_store saved to PATH; ``'file_keepalive:DIR'`` a
        file_keepalive_store; anything else a file_store of that directory (more forms
        can be added with ``register_jugdir_form``).  A non-``str`` object is assumed
        to be a store and returned unchanged.

    Returns
    -------
    store
    """
    if not isinstance(jugdir, str):
        return jugdir
    form = _form(jugdir)
    if form is None:
        return file_store(jugdir)
    return (_EXACT[form] if form == jugdir and form in _EXACT else _PREFIXES[form])(jugdir)


def _form(jugdir: str) -> str | None:
    """The registered form that `jugdir` matches: itself if it is an exact form, else
    its longest registered prefix; None for a file_store path."""
    if jugdir in _EXACT:
        return jugdir
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        if jugdir.startswith(prefix):
            return prefix
    return None


def is_directory(jugdir: Any) -> bool:
    """Whether `jugdir` names a file store (a directory), not redis, a dict store...

    Usage: ``if is_directory(options.jugdir): ...``
    """
    return isinstance(jugdir, str) and _form(jugdir) is None


def is_shared(jugdir: Any) -> bool:
    """Whether several processes can use the store `jugdir` names at once.

    Usage: ``if not is_shared(options.jugdir): ...``  (``dict_store`` is private)

    Decided without creating the store (creating a ``dict_store:<file>`` would read
    the file, and dropping it would write it back).
    """
    if not isinstance(jugdir, str):
        return jugdir.shared
    return _form(jugdir) not in _PRIVATE
