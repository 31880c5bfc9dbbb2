"""Keepalive monitor for ``file_keepalive_based_lock`` (layer 1 helper process).

Run as ``python -m jug.backends.file_keepalive_monitor <lockpath>`` by the process that
took the lock.  Owns only the keepalive loop: every :data:`POLL_INTERVAL` seconds it
checks that its parent is still the process that started it (and alive) and that the
lock file still exists, exiting otherwise; every :data:`TOUCH_EVERY` polls (5 minutes)
it touches the lock file so that its mtime stays recent.  A lock not touched for 30
minutes is considered failed by ``file_keepalive_based_lock.is_failed``.

Imports only the standard library (never jug.task); keep it that way so the helper
process starts fast.
"""
from __future__ import annotations

import os
import sys
import time

#: Seconds between two checks of the parent process and the lock file.
POLL_INTERVAL = 5
#: The lock file is touched every this many polls (60 * 5 s = 5 minutes).
TOUCH_EVERY = 60


def _is_alive(pid: int) -> bool:
    """Return whether a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to someone else
        return True
    return True


def monitor(lockpath: str, parent: int) -> int:
    """Keep `lockpath` fresh while process `parent` lives; return the exit status.

    Usage: ``monitor('/path/jugdata/locks/<hash>.lock', os.getppid())``

    Parameters
    ----------
    lockpath : str
        The lock file to touch.
    parent : int
        The pid of the process that holds the lock.

    Returns
    -------
    int
        0 when the parent went away or the lock file vanished.
    """
    polls = 0
    while True:
        time.sleep(POLL_INTERVAL)
        ppid = os.getppid()
        if ppid != parent or ppid == 1 or not _is_alive(parent):
            return 0
        if not os.path.exists(lockpath):
            return 0
        polls += 1
        if polls % TOUCH_EVERY == 0:
            try:
                os.utime(lockpath, None)
            except FileNotFoundError:
                return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``main([prog, lockpath])``; the parent is this process's parent."""
    if argv is None:
        argv = sys.argv
    if len(argv) != 2:
        sys.stderr.write('usage: python -m jug.backends.file_keepalive_monitor LOCKPATH\n')
        return 2
    return monitor(argv[1], os.getppid())


if __name__ == '__main__':
    sys.exit(main())
