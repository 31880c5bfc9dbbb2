"""The heartbeat helper: a small process that keeps a worker's locks alive.

Run as ``python -m jug.backends.heartbeat_process PARENT_PID`` (by
:func:`jug.backends.subprocesses.module_command`) by :class:`jug.backends.leases.
Heartbeat`, with pipes for its standard input and output.  It answers ``ready`` once
started; then its parent writes one JSON object per line:

* ``{"op": "hold", "key": ..., "token": ..., "kind": "file"|"redis", "params": {...},
  "interval": seconds}``: refresh this lock every `interval` seconds, while it still
  carries `token`;
* ``{"op": "drop", "key": ..., "ack": N}``: stop; with a number ``N`` (not 0), answer
  ``ok N`` once no refresh of it can happen any more.

It refreshes file locks by touching them (:func:`jug.backends.lockfiles.refresh`) and
redis locks with the owner-checking script of :mod:`jug.backends.redis_locks` (one
pipeline per server and round).  It skips refreshes while its parent is stopped
(``SIGSTOP``: a frozen worker's locks expire, so that other workers take its tasks
over), ignores Ctrl-C, SIGTERM and SIGHUP (sent to a whole process group, they are
its parent's to handle: the parent releases its locks first), and exits when its
standard input closes or its parent is gone.  Being a process of its own, a task that
holds Python's GIL in its parent cannot starve it (``docs/failures.rst``).

Imports nothing from jug outside ``jug.backends``.
"""
from __future__ import annotations

import json
import logging
import os
import select
import signal
import sys
import time

from .leases import process_is_stopped

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Longest sleep between two looks at the parent (seconds).
LONGEST_SLEEP = 1.0


def _refresh_file(leases: list) -> None:
    from .lockfiles import refresh
    for lease in leases:
        try:
            refresh(lease['params']['path'], lease['token'])
        except Exception as e:  # e.g. a transient NFS error: next round
            logging.warning(f'jug: could not refresh the lock {lease["params"]["path"]}: {e}')


_clients: dict = {}  # redis URL -> client


def _refresh_redis(leases: list) -> None:
    from .redis_locks import refresh_leases
    by_url: dict = {}
    for lease in leases:
        by_url.setdefault(lease['params']['url'], []).append(lease)
    for url, group in by_url.items():
        refresh_leases(_client(url), group)


def _client(url: str) -> Any:
    if url not in _clients:
        import redis

        from .redis_client import parse_url
        _clients[url] = redis.Redis(socket_connect_timeout=10, socket_timeout=30,
                                    **parse_url(url))
    return _clients[url]


_REFRESHERS = {'file': _refresh_file, 'redis': _refresh_redis}


class Helper:
    """The state of the helper: the held locks and when each is due."""

    def __init__(self, parent: int) -> None:
        self.parent = parent
        self.held: dict = {}  # key -> lease dict (with 'due')

    def handle(self, message: dict) -> str | None:
        """Apply one message of the parent; return the answer to write, if any."""
        if message.get('op') == 'hold':
            message['due'] = time.monotonic() + float(message['interval'])
            self.held[message['key']] = message
            return None
        self.held.pop(message.get('key'), None)
        return f'ok {message["ack"]}' if message.get('ack') else None

    def refresh_due(self) -> None:
        """Refresh the locks whose time has come (not while the parent is stopped)."""
        now = time.monotonic()
        due = [lease for lease in self.held.values() if lease['due'] <= now]
        if not due or process_is_stopped(self.parent):
            return
        by_kind: dict = {}
        for lease in due:
            lease['due'] = now + float(lease['interval'])
            by_kind.setdefault(lease['kind'], []).append(lease)
        for kind, leases in by_kind.items():
            try:
                _REFRESHERS[kind](leases)
            except Exception as e:  # never let one error end the heartbeat
                logging.warning(f'jug: heartbeat: {e}')

    def sleep_time(self) -> float:
        """Seconds until the next refresh is due (at most LONGEST_SLEEP)."""
        if not self.held:
            return LONGEST_SLEEP
        wait = min(lease['due'] for lease in self.held.values()) - time.monotonic()
        return max(0.0, min(wait, LONGEST_SLEEP))


def main(argv: list) -> int:
    """Run the helper for the parent pid ``argv[1]`` until its input closes."""
    for name in ('SIGINT', 'SIGTERM', 'SIGHUP'):  # sent to a whole process group (a
        # terminal, a batch system): the parent decides, and releases its locks first
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    helper = Helper(int(argv[1]))
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    fd = sys.stdin.fileno()
    pending = b''
    while True:
        ready, _, _ = select.select([fd], [], [], helper.sleep_time())
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return 0  # the parent closed the pipe (or died)
            pending += chunk
            while b'\n' in pending:
                line, pending = pending.split(b'\n', 1)
                answer = helper.handle(json.loads(line))
                if answer is not None:
                    sys.stdout.write(answer + '\n')
                    sys.stdout.flush()
        if os.getppid() != helper.parent:
            return 0
        helper.refresh_due()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
