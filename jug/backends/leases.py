"""Leases (layer 1): what every leased lock needs, whatever the store.

A lock taken by ``jug execute`` is *leased*: it stays valid only while its holder
refreshes it, so that a lock whose worker died (killed, crashed node, pre-empted job)
can be recognised and taken over instead of stranding its task.  The file store
(:mod:`jug.backends.file_locks`) and the redis store (:mod:`jug.backends.redis_locks`)
build their locks on the pieces of this module (``docs/backends.rst``, "Leases"):

* :class:`LeaseSettings`: how long a lock lives without a refresh, and how often its
  holder refreshes it (``--lease-time``, ``--heartbeat-interval``);
* who a process is: its host name, its pid's start time (to tell a reused pid) and
  the boot and pid namespace its pids mean something in (two containers may share a
  host name), and whether a pid of this host is alive;
* owner tokens: :func:`new_token` names one lock instance and the process holding it;
  :func:`token_is_ours` tells whether a token was made by this process;
* :data:`heartbeat`: refreshes every lock the process holds, of every store, through
  one helper process (:mod:`jug.backends.heartbeat_process`), which a task holding
  Python's GIL cannot starve.  A store registers a :class:`Lease` per lock taken,
  saying what kind of lock it is and how to find it.

Imports nothing from jug.
"""
from __future__ import annotations

import logging
import os
import threading

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

__all__ = ['LeaseSettings', 'DEFAULT_LEASE', 'DEFAULT_LEASE_TIME',
           'DEFAULT_HEARTBEAT_INTERVAL', 'nodename', 'process_start_id', 'own_start_id',
           'process_space_id', 'process_is_stopped', 'pid_alive', 'new_token',
           'token_is_ours', 'Lease', 'Heartbeat', 'heartbeat']

#: Default lease: a lock not refreshed for this many seconds is stale, and the task
#: of a dead remote worker is taken over this long after it died.  Lock ages are
#: measured with the filesystem's clock, and a heartbeat cannot be starved, so the lease
#: only needs to cover the longest pause of a live worker's refreshes: an NFS server
#: that hangs, a node swapping hard (docs/failures.rst, "Choosing the lease").
DEFAULT_LEASE_TIME = 120.0
#: Default time between two refreshes of a held lock (a lock not refreshed for two of
#: them is reported as expiring).
DEFAULT_HEARTBEAT_INTERVAL = 20.0


class LeaseSettings:
    """How long a lock lives without a refresh, and how often a holder refreshes it.

    Usage: ``LeaseSettings(lease_time=120, heartbeat_interval=20)``

    Raises
    ------
    ValueError
        Unless ``0 < heartbeat_interval < lease_time``.
    """

    __slots__ = ('lease_time', 'heartbeat_interval')

    def __init__(self, lease_time: float = DEFAULT_LEASE_TIME,
                 heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL) -> None:
        lease_time = float(lease_time)
        heartbeat_interval = float(heartbeat_interval)
        if not 0 < heartbeat_interval < lease_time:
            raise ValueError(f'the heartbeat interval ({heartbeat_interval:g} s) must be '
                             f'positive and shorter than the lease ({lease_time:g} s)')
        self.lease_time = lease_time
        self.heartbeat_interval = heartbeat_interval

    def __repr__(self) -> str:
        return f'LeaseSettings({self.lease_time:g}, {self.heartbeat_interval:g})'


DEFAULT_LEASE = LeaseSettings()


def nodename() -> str:
    """Return this host's name, as written in lock files."""
    return os.uname().nodename


def process_start_id(pid: int) -> str | None:
    """Return a string that differs between two processes that had the same pid.

    On Linux: the process start time (in clock ticks since boot) from ``/proc``.
    Elsewhere, or if the process does not exist: None.
    """
    try:
        with open(f'/proc/{pid}/stat', 'rb') as stat:
            fields = stat.read().rsplit(b')', 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields[0] is field 3 of proc(5)'s list; the start time is field 22
    return fields[19].decode('ascii') if len(fields) > 19 else None


_own_start: dict = {}


def own_start_id() -> str:
    """Return :func:`process_start_id` of this very process ('-' if unknown)."""
    pid = os.getpid()  # per pid: a forked child has its own start time
    if pid not in _own_start:
        _own_start[pid] = process_start_id(pid) or '-'
    return _own_start[pid]


_own_space: list = []


def process_space_id() -> str:
    """Identify the space where this process's pids mean something: the boot of the
    machine and the pid namespace (two containers with one host name differ here)."""
    if not _own_space:
        parts = []
        for path, read in (('/proc/sys/kernel/random/boot_id', _read_text),
                           ('/proc/self/ns/pid', _pid_namespace)):
            try:
                parts.append(read(path))
            except OSError:
                parts.append('')
        _own_space.append(':'.join(parts) if any(parts) else '-')
    return _own_space[0]


def _read_text(path: str) -> str:
    with open(path) as f:
        return f.read().strip()[:8]


def _pid_namespace(path: str) -> str:
    return str(os.stat(path).st_ino)


def process_is_stopped(pid: int | None) -> bool:
    """Whether the process `pid` of this host is stopped (``SIGSTOP``, Ctrl-Z).

    Read from ``/proc`` (Linux); elsewhere, or if the process is gone, False.
    """
    return pid is not None and _process_state(pid) in (b'T', b't')


def _process_state(pid: int) -> bytes | None:
    """The state letter of process `pid` in ``/proc`` (Linux), or None if unknown."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as stat:
            return stat.read().rsplit(b')', 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (and has not exited: a
    zombie, exited but not yet reaped by its parent, is not alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, but belongs to another user
    return _process_state(pid) not in (b'Z', b'X')


def new_token() -> str:
    """Return a new owner token: ``<host>:<pid>:<16 hex digits>`` (no spaces).

    Usage: ``token = new_token()``

    It names one lock instance (the random part) and the process that took it.
    """
    return f'{nodename()}:{os.getpid()}:{os.urandom(8).hex()}'


def token_is_ours(token: str) -> bool:
    """Whether `token` was made by :func:`new_token` in this very process."""
    return token.startswith(f'{nodename()}:{os.getpid()}:')


class Lease:
    """A lock this process holds, as the heartbeat knows it.

    Usage: ``heartbeat.hold(Lease(path, token, 'file', {'path': path}), interval)``

    Parameters
    ----------
    key : str
        Names the lock within this process (a lock file's path; a redis server and key).
    token : str
        The owner token written into the lock when it was taken.
    kind : str
        ``'file'`` or ``'redis'``: how the helper process refreshes it
        (:mod:`jug.backends.heartbeat_process`).
    params : dict
        What that refresh needs to find the lock (JSON-serialisable).
    """

    __slots__ = ('key', 'token', 'kind', 'params', 'interval')

    def __init__(self, key: str, token: str, kind: str, params: dict) -> None:
        self.key = key
        self.token = token
        self.kind = kind
        self.params = params
        self.interval: float | None = None  # set by Heartbeat.hold

    def message(self) -> dict:
        """What the helper process is told to hold."""
        return {'op': 'hold', 'key': self.key, 'token': self.token, 'kind': self.kind,
                'params': self.params, 'interval': self.interval}


class Heartbeat:
    """Keeps the locks of this process alive, through one helper process.

    The helper (:mod:`jug.backends.heartbeat_process`, started with the first lock
    taken) refreshes each held lock every ``interval`` seconds.  Being a process of its
    own, it cannot be starved by a task that holds Python's global interpreter lock;
    it stops refreshing while this process is stopped (``SIGSTOP``), and exits when this
    process is gone (its pipe closes).  Taking or releasing a lock only sends it a line.
    If it dies, the next ``hold`` starts another and tells it every held lock again.
    If no process can be started (no executable interpreter, no process left), a thread
    of this process does the same work, with a warning.  In a forked child the parent's
    helper is not ours: everything is reset.
    """

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, 'register_at_fork'):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        """Start afresh (at creation, and in a forked child)."""
        self.guard = threading.RLock()
        self._held: dict = {}
        self._link: Any = None
        self._exit_registered = False
        self._acks = 0  # acknowledgements asked for so far (they are numbered)

    def hold(self, lease: Lease, interval: float) -> None:
        """Start refreshing `lease` (a lock just taken), at most `interval` s apart."""
        lease.interval = interval
        with self.guard:
            self._held[lease.key] = lease
            self._send(lease.message())

    def token(self, key: str) -> str | None:
        """The token of the held lock `key`, or None if this process does not hold it."""
        with self.guard:
            lease = self._held.get(key)
        return None if lease is None else lease.token

    def drop(self, key: str, wait: bool = False) -> str | None:
        """Stop refreshing `key`; return its token, or None if it was not held.

        With `wait`, return only once the helper confirmed it will not touch the lock
        again (before marking a lock failed: a late refresh would undo the mark).
        """
        with self.guard:
            lease = self._held.pop(key, None)
            if lease is not None and self._link is not None:
                try:
                    self._acks += wait
                    self._link.send({'op': 'drop', 'key': key, 'ack': self._acks if wait else 0})
                    if wait:
                        self._link.wait_for_ack(self._acks)
                except OSError:  # the helper died: it refreshes nothing any more
                    self._link.close()
                    self._link = None
        return None if lease is None else lease.token

    def drop_where(self, predicate: Callable[[Lease], bool]) -> None:
        """Stop refreshing every lease for which `predicate` is true."""
        with self.guard:
            for key in [k for k, lease in self._held.items() if predicate(lease)]:
                self.drop(key)

    def close(self) -> None:
        """Stop the helper (its locks are no longer refreshed); the next ``hold``
        starts another."""
        with self.guard:
            if self._link is not None:
                self._link.close()
                self._link = None

    def helper_pid(self) -> int | None:
        """The pid of the helper process, if one runs (None for a thread or nothing)."""
        return getattr(self._link, 'pid', None)

    def _send(self, message: dict) -> None:
        """Tell the helper `message` (starting it, or another one, if needed)."""
        for attempt in range(2):
            if self._link is None or not self._link.alive():
                if self._link is not None:
                    self._link.close()  # it died: reap it, close its pipes
                if not self._exit_registered:
                    import atexit
                    atexit.register(self.close)  # the helper ends with this process
                    self._exit_registered = True
                self._link = _start_link()
                for lease in self._held.values():
                    self._link.send(lease.message())
                if message.get('op') == 'hold':
                    return  # told with every held lock, this one included
            try:
                self._link.send(message)
                return
            except OSError as e:
                if attempt:
                    logging.warning(f'jug: cannot reach the heartbeat helper ({e}); the '
                                    'locks of this process will expire')
                self._link.close()
                self._link = None


def _start_link() -> Any:
    """Start the helper process; if that is impossible, a thread (with a warning)."""
    try:
        return _ProcessLink()
    except OSError as e:
        logging.warning(f'jug: cannot start the heartbeat helper process ({e}); the locks '
                        'of this process are refreshed by a thread instead (a task holding '
                        'the GIL for longer than the lease may then lose its lock)')
        return _ThreadLink()


class _ProcessLink:
    """The pipes to a helper process (``jug.backends.heartbeat_process``).

    Raises OSError if the helper cannot be started or does not say it is ready.
    """

    #: How long to wait for the helper's answers: ready, a drop acknowledged (seconds).
    ANSWER_TIMEOUT = 10.0

    def __init__(self) -> None:
        import subprocess

        from .subprocesses import module_command
        self.process = subprocess.Popen(
            module_command('jug.backends.heartbeat_process', str(os.getpid())),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        self.pid = self.process.pid
        self._pending = b''
        if not self._answer('ready'):
            self.close()
            raise OSError(f'the heartbeat helper (pid {self.pid}) did not start')

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict) -> None:
        import json  # lazy: only processes that take locks need it
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write((json.dumps(message) + '\n').encode('utf-8'))
        stdin.flush()

    def close(self) -> None:
        """Close its pipes: the helper exits (killed if it does not within a second)."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:  # a broken pipe, flushing what it could not send
                    pass
        try:
            self.process.wait(timeout=1.0)
        except Exception:  # subprocess.TimeoutExpired (not imported at module level)
            self.process.kill()
            self.process.wait()

    def wait_for_ack(self, number: int) -> None:
        if not self._answer(f'ok {number}'):
            logging.warning('jug: the heartbeat helper did not answer; it may refresh a '
                            'lock once more')

    def _answer(self, expected: str) -> bool:
        """Read the helper's answers until `expected` (True), or until it is gone or
        :data:`ANSWER_TIMEOUT` passed (False).  Earlier answers (late ones) are skipped."""
        import select
        import time
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + self.ANSWER_TIMEOUT
        while True:
            while b'\n' in self._pending:
                line, self._pending = self._pending.split(b'\n', 1)
                if line.decode('ascii', 'replace') == expected:
                    return True
            left = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(0.0, left))
            if not ready:
                return False
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                return False  # the helper is gone
            self._pending += chunk


class _ThreadLink:
    """The fallback: the helper's loop in a thread of this process."""

    def __init__(self) -> None:
        from .heartbeat_process import Helper
        self.helper = Helper(os.getpid())
        self.lock = threading.Lock()  # held while refreshing: a drop waits for it
        self.wake = threading.Event()
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, name='jug-lock-heartbeat',
                                       daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def send(self, message: dict) -> None:
        with self.lock:
            self.helper.handle(message)
        self.wake.set()

    def wait_for_ack(self, number: int) -> None:
        """Nothing to wait for: ``send`` returned after the helper dropped the lock."""

    def close(self) -> None:
        """End the thread (it refreshes nothing more)."""
        self.stopped = True
        self.wake.set()
        self.thread.join()

    def _loop(self) -> None:
        while not self.stopped:
            self.wake.wait(self.helper.sleep_time())
            self.wake.clear()
            with self.lock:
                if not self.stopped:
                    self.helper.refresh_due()


heartbeat = Heartbeat()
