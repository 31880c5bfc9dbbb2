"""Redis store (layer 1): results and locks as keys of a redis server (``--jugdir redis:``).

Owns the redis layout of SPEC §3.6: ``b'result:' + key`` holds ``base64(encode(obj))``
(``b''`` for None), ``b'lock:' + key`` holds ``b'L'`` (locked) or ``b'F'`` (failed).

The ``redis`` package is imported lazily, on first use: ``import jug.backends`` must
stay cheap.  The module still exposes the attributes ``redis`` (the package, or None
when it is not installed) and ``redis_functional`` (whether it imported), computed on
first access (PEP 562 module ``__getattr__``); tests may monkeypatch either.

Must not import ``jug.task`` or anything above layer 1.
"""
from __future__ import annotations

import re

from ..errors import MissingPackageError
from .base import as_bytes, base_lock, base_store
from .encode import decode, encode

__all__ = ['redis_store', 'redis_lock']

_RESULT = b'result:'
_LOCK = b'lock:'
#: Lock values: held by a running task, or held and failed.
_LOCKED = b'L'
_FAILED = b'F'

#: ``redis://HOST[:PORT][/]``; anything after it (e.g. a database number) is ignored.
_URL_PATTERN = re.compile(r'redis://(?P<host>[A-Za-z0-9.\-]+)(?::(?P<port>[0-9]+))?/?')
_DEFAULT_PORT = 6379

#: Keys are deleted in batches of this size (one DEL command each).
_DELETE_BATCH = 1000


def _import_redis() -> None:
    """Import the redis package (once) and set the module attributes from it."""
    g = globals()
    if 'redis' not in g:
        try:
            import redis as module
        except ImportError:
            module = None
        g['redis'] = module
    g.setdefault('redis_functional', g['redis'] is not None)


def __getattr__(name):
    if name in ('redis', 'redis_functional'):
        _import_redis()
        return globals()[name]
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


class RedisMissingError(MissingPackageError, OSError):
    """The ``redis`` package is not installed (an ``OSError``, as in Jug 2.7)."""


def _redis_module():
    _import_redis()
    return globals()['redis']


class redis_store(base_store):
    """Store results and locks in a redis database.

    Usage: ``store = redis_store('redis://localhost:6379/')``

    Parameters
    ----------
    url : str
        ``redis://HOST[:PORT][/...]``; anything else (e.g. ``'redis:'``) connects to
        redis' defaults (localhost:6379).  Constructing does not connect.

    Raises
    ------
    OSError
        If the ``redis`` package is not installed (a
        :class:`jug.errors.MissingPackageError` too).
    """

    def __init__(self, url):
        redis = _redis_module()
        if redis is None:
            raise RedisMissingError('redis', f'The redis store ({url})', extra='redis')
        match = _URL_PATTERN.match(url)
        if match is None:
            self.redis = redis.Redis()
        else:
            port = match.group('port')
            self.redis = redis.Redis(host=match.group('host'),
                                     port=int(port) if port else _DEFAULT_PORT)
        self.url = url

    def __repr__(self):
        return f'redis_store({self.url})'

    def dump(self, object, name):
        """Store `object` under `name`."""
        import base64  # lazy: only the redis store needs it
        s = encode(object)
        if s:
            s = base64.b64encode(s)
        self.redis.set(_RESULT + as_bytes(name), s)

    def can_load(self, name):
        """Return (an int, true if) a result is stored under `name`."""
        return self.redis.exists(_RESULT + as_bytes(name))

    def load(self, name):
        """Return the result stored under `name` (``KeyError`` if there is none)."""
        import base64
        s = self.redis.get(_RESULT + as_bytes(name))
        if s is None:
            raise KeyError(name)
        if s:
            s = base64.b64decode(s)
        return decode(s)

    def remove(self, name):
        """Remove the result under `name`; return whether it existed."""
        return self.redis.delete(_RESULT + as_bytes(name)) > 0

    def list(self):
        """Yield the keys (bytes) of all results."""
        for k in self.redis.keys(_RESULT + b'*'):
            yield as_bytes(k)[len(_RESULT):]

    def listlocks(self):
        """Yield the names (bytes) of all locks."""
        for k in self.redis.keys(_LOCK + b'*'):
            yield as_bytes(k)[len(_LOCK):]

    def _delete_keys(self, keys) -> int:
        removed = 0
        for start in range(0, len(keys), _DELETE_BATCH):
            removed += self.redis.delete(*keys[start:start + _DELETE_BATCH])
        return removed

    def remove_locks(self):
        """Remove every lock; return how many were removed."""
        return self._delete_keys(self.redis.keys(_LOCK + b'*'))

    def cleanup(self, active, keeplocks=False):
        """Delete results not in `active` (and all locks unless `keeplocks`).

        Returns
        -------
        int
            Number of results deleted.
        """
        keep = {_RESULT + as_bytes(t.hash()) for t in active}
        dead = [k for k in self.redis.keys(_RESULT + b'*') if as_bytes(k) not in keep]
        removed = self._delete_keys(dead)
        if not keeplocks:
            self.remove_locks()
        return removed

    def getlock(self, name):
        """Return the :class:`redis_lock` for `name`."""
        return redis_lock(self.redis, name)

    def close(self):
        """Close the client's connections."""
        self.redis.close()


class redis_lock(base_lock):
    """Lock ``b'lock:' + key`` of a :class:`redis_store`.

    Usage: ``lock = store.getlock(h)``
    """

    def __init__(self, redis, name):
        self.redis = redis
        self.fullname = _LOCK + as_bytes(name)

    def get(self):
        """Take the lock; True only if it was free (a failed lock stays failed)."""
        # SET NX is atomic: it leaves an existing L or F untouched, which is what Jug's
        # GETSET-then-restore does, without its window where F is briefly L.
        return bool(self.redis.set(self.fullname, _LOCKED, nx=True))

    def release(self):
        """Delete the lock."""
        self.redis.delete(self.fullname)

    def is_locked(self):
        """Return whether the lock is held (locked or failed)."""
        return self.redis.get(self.fullname) in (_LOCKED, _FAILED)

    def fail(self):
        """Mark a held lock as failed; return whether it is now failed."""
        status = self.redis.get(self.fullname)
        if status == _FAILED:
            return True
        if status == _LOCKED:
            # XX: only if it still exists (not released meanwhile)
            return bool(self.redis.set(self.fullname, _FAILED, xx=True))
        return False

    def is_failed(self):
        """Return whether the lock is marked as failed."""
        return self.redis.get(self.fullname) == _FAILED
