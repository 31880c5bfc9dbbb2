"""A real ``redis-server`` for the tests: the fixtures ``redis_server`` and ``redis_url``.

``redis_server`` (session scope) starts one server on 127.0.0.1 and a free port, in a
temporary directory, without persistence (``--save '' --appendonly no``), and stops it
at the end of the session.  ``redis_url`` (function scope) empties it before each test
and returns its URL.  Tests of faults may ``stop()``, ``start()`` or ``restart()`` it:
``redis_url`` starts it again for the next test.

The program is looked for in ``$REDIS_SERVER``, then on ``PATH``, then in
``/usr/bin`` and ``/usr/sbin``.  Without it the tests that need it are skipped, with a
message saying how to install it, except when ``CI=true``: CI must run every test, so
there they fail.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

__all__ = ['RedisServer', 'RedisServerError', 'find_redis_server', 'free_port',
           'redis_server', 'redis_url']

#: Seconds to wait for a starting server to answer PING.
START_TIMEOUT = 20.0
#: Seconds to wait for a stopping server to exit after SIGTERM (then SIGKILL).
STOP_TIMEOUT = 10.0
#: Where to look for the program after $REDIS_SERVER and PATH.
FALLBACK_PATHS = ('/usr/bin/redis-server', '/usr/sbin/redis-server',
                  '/usr/local/bin/redis-server', '/usr/local/sbin/redis-server')
INSTALL_HINT = ('install it with `apt-get install redis-server` (or set REDIS_SERVER to '
                'the path of a redis-server program)')


class RedisServerError(Exception):
    """The server could not be started or stopped."""


def find_redis_server() -> tuple[str | None, str]:
    """Return ``(path, '')`` of the redis-server program, or ``(None, why not)``."""
    env = os.environ.get('REDIS_SERVER')
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return env, ''
        return None, f'REDIS_SERVER={env!r} is not an executable file'
    found = shutil.which('redis-server')
    if found:
        return found, ''
    for path in FALLBACK_PATHS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path, ''
    return None, 'redis-server is not installed (not on PATH, nor in /usr/bin or /usr/sbin)'


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def command(port: int, *args: bytes, password: bytes | None = None,
            timeout: float = 5.0) -> bytes:
    """Send one command to the server on `port` with a raw socket; return the reply line.

    Independent of redis-py, so that the fixture works (and reports clearly) even when
    the client library is broken.  Only for commands with a one-line reply.
    """
    def encoded(parts):
        out = b'*%d\r\n' % len(parts)
        for part in parts:
            out += b'$%d\r\n%s\r\n' % (len(part), part)
        return out
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        payload = b''
        if password is not None:
            payload += encoded([b'AUTH', password])
        payload += encoded(list(args))
        s.sendall(payload)
        data = b''
        needed = 2 if password is not None else 1
        while data.count(b'\r\n') < needed:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b'\r\n')[needed - 1]


class RedisServer:
    """One redis-server process on 127.0.0.1 (see the module docstring).

    Usage: ``server = RedisServer(exe); server.start(); ...; server.stop()``

    Parameters
    ----------
    exe : str
        The redis-server program.
    extra_args : list of str, optional
        More configuration, e.g. ``['--requirepass', 'secret']``.
    """

    def __init__(self, exe: str, extra_args: list | None = None) -> None:
        self.exe = exe
        self.extra_args = list(extra_args or [])
        self.dir = tempfile.mkdtemp(prefix='jug-test-redis-')
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._password = None
        if '--requirepass' in self.extra_args:
            self._password = self.extra_args[self.extra_args.index('--requirepass') + 1].encode()

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/``"""
        return f'redis://127.0.0.1:{self.port}/'

    @property
    def logfile(self) -> str:
        return os.path.join(self.dir, 'redis.log')

    def _log_tail(self) -> str:
        try:
            with open(self.logfile, errors='replace') as f:
                return ''.join(f.readlines()[-15:])
        except OSError:
            return '(no log)'

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server (on a free port the first time, then on the same port)."""
        if self.running():
            return
        attempts = 3 if self.port is None else 1
        for attempt in range(attempts):
            port = free_port() if self.port is None else self.port
            try:
                self._start_on(port)
            except RedisServerError:
                if attempt == attempts - 1:
                    raise
                continue  # e.g. another program took the port meanwhile
            self.port = port
            return

    def _start_on(self, port: int) -> None:
        argv = [self.exe, '--port', str(port), '--bind', '127.0.0.1', '--dir', self.dir,
                '--save', '', '--appendonly', 'no', '--daemonize', 'no',
                '--logfile', self.logfile, *self.extra_args]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                self.process = None
                raise RedisServerError(f'{self.exe} exited at start on port {port}:\n'
                                       f'{self._log_tail()}')
            try:
                reply = command(port, b'PING', password=self._password, timeout=1.0)
            except OSError:
                reply = b''
            if reply == b'+PONG':
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RedisServerError(f'{self.exe} did not answer PING on port {port} '
                                       f'within {START_TIMEOUT:g} s:\n{self._log_tail()}')
            time.sleep(0.02)  # bounded polling for the server to come up

    def stop(self, save: bool = False) -> None:
        """Stop the server: SIGTERM (then SIGKILL if it does not exit).

        With `save`, ``SHUTDOWN SAVE`` instead: the server writes its data to
        ``dump.rdb`` (loaded again by the next start) and exits, accepting no write in
        between — as a server with persistence does.
        """
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        if save:
            try:
                reply = command(self.port, b'SHUTDOWN', b'SAVE', password=self._password,
                                timeout=30.0)
            except OSError:
                reply = b''  # it closed the connection while exiting: the normal case
            if reply:
                process.kill()
                process.wait()
                raise RedisServerError(f'SHUTDOWN SAVE failed: {reply!r}')
        else:
            process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def save(self) -> None:
        """Write the data to ``dump.rdb`` in the server's directory (loaded at start)."""
        reply = command(self.port, b'SAVE', password=self._password, timeout=30.0)
        if reply != b'+OK':
            raise RedisServerError(f'SAVE failed: {reply!r}')

    def restart(self, keep_data: bool = True) -> None:
        """Stop the server and start it again on the same port.

        With `keep_data`, it saves its data while stopping and loads them again (as a
        server with persistence would); otherwise it comes back empty.
        """
        if not keep_data:
            try:
                os.unlink(os.path.join(self.dir, 'dump.rdb'))
            except FileNotFoundError:
                pass
        self.stop(save=keep_data)
        self.start()

    def flush(self) -> None:
        """Delete every key of every database (starting the server if it is stopped)."""
        self.start()
        reply = command(self.port, b'FLUSHALL', password=self._password)
        if reply != b'+OK':
            raise RedisServerError(f'FLUSHALL failed: {reply!r}')

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def require_redis_server() -> str:
    """Return the redis-server program; skip the test without it (fail it if CI=true)."""
    exe, why = find_redis_server()
    if exe is None:
        if os.environ.get('CI') == 'true':
            pytest.fail(f'{why}: CI must run the redis tests; {INSTALL_HINT}', pytrace=False)
        pytest.skip(f'{why}: {INSTALL_HINT}')
    return exe


@pytest.fixture(scope='session')
def redis_server():
    """A redis-server for the whole test session (``.url``, ``.port``, ``restart()``...)."""
    server = RedisServer(require_redis_server())
    try:
        server.start()
    except RedisServerError as e:
        server.cleanup()
        pytest.fail(f'could not start the test redis-server: {e}', pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture
def redis_url(redis_server):
    """The URL of the session's redis-server, running and emptied for this test."""
    redis_server.flush()
    return redis_server.url
