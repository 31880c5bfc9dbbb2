"""The connection to a redis server (layer 1): URLs, timeouts and retries.

What :class:`jug.backends.redis_store.redis_store` and its locks
(:mod:`jug.backends.redis_locks`) send to the server goes through
:meth:`RedisConnection.run`, one round trip at a time (``docs/backends.rst``, "The redis
store"):

* constructing a connection does not connect;
* if the server cannot be reached on first use, a :class:`jug.errors.StoreError` naming
  the URL (password masked) and the reason is raised at once;
* once contacted, an operation that loses the connection (server restarting, a network
  hiccup) is retried with exponential backoff for at most ``retry_time`` seconds
  (:data:`DEFAULT_RETRY_TIME`, ``JUG_REDIS_RETRY_SECONDS``), then raises ``StoreError``;
* listings use ``SCAN`` in batches (never ``KEYS``, which blocks the server), deletions
  are batched in pipelines.

Every write of the stores is one atomic command or one ``MULTI``/``EXEC`` transaction,
so a retried write never leaves a half-written result.

Imports nothing from jug outside ``jug.backends`` and ``jug.errors``; the ``redis``
package is given to :class:`RedisConnection` by its caller (so that tests may replace it).
"""
from __future__ import annotations

import logging
import os
import re
import time

from ..errors import StoreError
from .base import as_bytes

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, TypeVar
    T = TypeVar('T')

__all__ = ['RedisConnection', 'parse_url', 'masked', 'DEFAULT_RETRY_TIME', 'RETRY_ENV']

# --- URLs --------------------------------------------------------------------------------

#: ``redis://[[USER]:PASSWORD@]HOST[:PORT][/[DB]]``.  Jug 2.7 accepts
#: ``redis://HOST[:PORT][/]`` and ignores what follows; the credentials and the database
#: number are our extension.  Host characters are Jug's.
_URL_PATTERN = re.compile(
    r'redis://'
    r'(?:(?P<username>[^:@/]*):(?P<password>[^@/]*)@)?'
    r'(?P<host>[A-Za-z0-9.\-]+)'
    r'(?::(?P<port>[0-9]+))?'
    r'(?:/(?P<db>[0-9]+)(?=$|[/?#]))?')
_DEFAULT_HOST = 'localhost'
_DEFAULT_PORT = 6379

# --- tuning ------------------------------------------------------------------------------


#: Seconds an operation keeps retrying after losing the connection to a server it had
#: reached, before raising StoreError (overridden by ``JUG_REDIS_RETRY_SECONDS`` or the
#: ``retry_time`` argument).  A restart of a server with a large dataset takes minutes.
DEFAULT_RETRY_TIME = 180.0
#: Environment variable overriding DEFAULT_RETRY_TIME.
RETRY_ENV = 'JUG_REDIS_RETRY_SECONDS'
#: First and longest wait between two attempts (the wait doubles each time).
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 2.0
#: Seconds to wait for a TCP connection, and for a reply (a big result takes a while).
_CONNECT_TIMEOUT = 10.0
_SOCKET_TIMEOUT = 120.0
#: Keys asked for per SCAN call (one round trip each; the server is busy ~1 ms).
_SCAN_COUNT = 5000
#: Keys deleted per pipeline (one round trip; one DEL each, to know which existed).
_PIPELINE_NAMES = 10_000


def _no_retry() -> Any:
    """redis-py's retry policy for our clients: none (we retry, with our own bound)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    return Retry(NoBackoff(), 0)


def _backoff_sleep(seconds: float) -> None:
    """Wait between two attempts (a module function so that tests can observe it)."""
    time.sleep(seconds)


def parse_url(url: str) -> dict:
    """Return the connection arguments named by a ``redis:`` jugdir.

    Usage: ``parse_url('redis://:secret@dbhost:6379/2')``

    Parameters
    ----------
    url : str
        ``redis://[[USER]:PASSWORD@]HOST[:PORT][/[DB]]``.  As in Jug 2.7, anything after
        the recognised part is ignored and a string that does not match at all (e.g.
        ``'redis:'``) means redis' defaults (localhost:6379).  USER and PASSWORD may be
        percent-encoded.

    Returns
    -------
    dict
        Keys ``host``, ``port``, ``db``, ``username``, ``password`` (the last two None
        when absent).

    Raises
    ------
    jug.errors.StoreError
        For a URL with an ``@`` whose credentials cannot be read (Jug 2.7 would have
        taken the user name for the host name).
    """
    from urllib.parse import unquote  # lazy: only redis jugdirs need it
    args = {'host': _DEFAULT_HOST, 'port': _DEFAULT_PORT, 'db': 0,
            'username': None, 'password': None}
    match = _URL_PATTERN.match(url)
    authority = url[len('redis://'):].split('/', 1)[0] if url.startswith('redis://') else ''
    if '@' in authority and (match is None or match.group('password') is None
                             or authority.count('@') > 1):
        raise StoreError(f'Cannot read the redis URL {masked(url)!r}: expected '
                         'redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]')
    if match is None:
        return args
    args['host'] = match.group('host')
    if match.group('port'):
        args['port'] = int(match.group('port'))
    if match.group('db'):
        args['db'] = int(match.group('db'))
    if match.group('password') is not None:
        args['username'] = unquote(match.group('username')) or None
        args['password'] = unquote(match.group('password'))
    return args


def masked(url: str) -> str:
    """`url` with its password (if any) replaced by ``***``, for messages."""
    return re.sub(r'^(redis://[^:@/]*:)[^@/]*@', r'\1***@', url)


def _retry_time_from_env() -> float:
    value = os.environ.get(RETRY_ENV)
    if value is None or not value.strip():
        return DEFAULT_RETRY_TIME
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also rejects nan
        raise StoreError(f'{RETRY_ENV} must be a number of seconds >= 0 (it is {value!r})')
    return seconds


class RedisConnection:
    """A redis client with jug's retry policy (see the module docstring).

    Usage: ``connection = RedisConnection(redis, 'redis://dbhost:6379/')``

    Parameters
    ----------
    redis : module
        The ``redis`` package (or a stand-in with a ``Redis`` class).
    url : str
        See :func:`parse_url`.
    retry_time : float, optional
        Seconds to retry after losing the connection; default ``JUG_REDIS_RETRY_SECONDS``
        if set, else :data:`DEFAULT_RETRY_TIME`.

    Attributes
    ----------
    client : redis.Redis
        The client (redis-py's own retries are off: this class retries, with a bound).
    server_id : tuple
        ``(host, port, db)``: locks of one process on one database are one lock.
    """

    def __init__(self, redis: Any, url: str, retry_time: float | None = None) -> None:
        args = parse_url(url)
        self.url = url
        self.retry_time = _retry_time_from_env() if retry_time is None else float(retry_time)
        self.server_id = (args['host'], args['port'], args['db'])
        self.client = redis.Redis(socket_connect_timeout=_CONNECT_TIMEOUT,
                                  socket_timeout=_SOCKET_TIMEOUT, retry=_no_retry(), **args)
        self._scripts: dict = {}
        self._contacted = False   # whether an operation ever reached the server
        self._gave_up = False     # the last operation exhausted its retries
        self._retries = 0         # reconnections so far (a SCAN restarts after one)

    def run(self, operation: Callable[[], T]) -> T:
        """Run `operation` (one round trip), retrying it if the connection is lost.

        Before the server was first reached, and after a previous operation gave up,
        a connection error raises at once; otherwise the operation is retried with
        exponential backoff for at most ``retry_time`` seconds.  Errors are raised as
        :class:`jug.errors.StoreError` naming the server and the reason.
        """
        import redis.exceptions as errors  # the real package's (cheap: already imported)
        deadline = None
        delay = _FIRST_BACKOFF
        while True:
            try:
                result = operation()
            except errors.AuthenticationError as e:
                raise StoreError(f'Cannot authenticate to the redis server at '
                                 f'{masked(self.url)}: {e}') from e
            except (errors.ConnectionError, errors.TimeoutError) as e:
                loading = isinstance(e, errors.BusyLoadingError)  # up, reading its data
                if not loading and (not self._contacted or self._gave_up):
                    raise StoreError(f'Cannot connect to the redis server at '
                                     f'{masked(self.url)}: {e}') from e
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.retry_time
                    logging.warning(f'jug: lost the connection to the redis server at '
                                    f'{masked(self.url)} ({e}); retrying for up to '
                                    f'{self.retry_time:g} s')
                if now >= deadline:
                    self._gave_up = True
                    raise StoreError(f'Lost the connection to the redis server at '
                                     f'{masked(self.url)} and could not reconnect within '
                                     f'{self.retry_time:g} s ({RETRY_ENV}): {e}') from e
                self._retries += 1
                _backoff_sleep(min(delay, deadline - now))
                delay = min(2 * delay, _MAX_BACKOFF)
                continue
            except errors.RedisError as e:
                raise StoreError(f'The redis server at {masked(self.url)} returned an '
                                 f'error: {e}') from e
            self._contacted = True
            self._gave_up = False
            return result

    def script(self, text: str) -> Any:
        """The script `text`, registered once (EVALSHA; redis-py reloads it if the
        server forgot it)."""
        registered = self._scripts.get(text)
        if registered is None:
            registered = self._scripts[text] = self.client.register_script(text)
        return registered

    def scan(self, prefix: bytes) -> Iterator[bytes]:
        """Yield, once each, every key starting with `prefix`, with the prefix stripped.

        SCAN in batches of :data:`_SCAN_COUNT` (never KEYS, which blocks the server for
        the whole keyspace).  SCAN may return a key twice (and its cursor means nothing
        to a restarted server): keys are deduplicated, and the scan starts over after a
        reconnection.
        """
        pattern = prefix + b'*'
        seen = set()
        cursor = 0
        while True:
            retries = self._retries
            cursor, keys = self.run(
                lambda: self.client.scan(cursor, match=pattern, count=_SCAN_COUNT))
            if self._retries != retries:
                cursor = 0  # reconnected: maybe another server process, start over
                continue
            for k in keys:
                k = as_bytes(k)[len(prefix):]
                if k not in seen:
                    seen.add(k)
                    yield k
            if cursor == 0:
                return

    def delete(self, prefix: bytes, names: list, also: tuple = ()) -> list:
        """Delete ``prefix + name`` for `names` (and ``other + name`` for each prefix
        ``other`` in `also`), batched.

        Returns a list with, for each name, whether ``prefix + name`` existed.  (If
        the connection breaks during a batch, the batch is sent again: a key deleted by
        the first attempt is then reported as not existing.)
        """
        existed: list[bool] = []
        for start in range(0, len(names), _PIPELINE_NAMES):
            chunk = names[start:start + _PIPELINE_NAMES]

            def run() -> Any:
                pipe = self.client.pipeline(transaction=False)
                for name in chunk:
                    pipe.delete(prefix + as_bytes(name))
                    for other in also:
                        pipe.delete(other + as_bytes(name))
                return pipe.execute()
            replies = self.run(run)
            step = 1 + len(also)
            existed.extend(r > 0 for r in replies[::step])
        return existed
