"""``jug execute -j N``: N worker processes started by one command.

Layer 4 (runtime).  Each worker is a full ``jug execute`` process (its own locks,
leases, run records and heartbeat) with the same options, so that it behaves exactly
as a worker started in another shell.  Workers are forked before the jugfile is loaded
(jug is imported already and no thread runs yet, so this is cheap and safe), or
started as ``python -m jug`` where there is no ``fork``.  The
parent only waits: it forwards Ctrl-C and SIGTERM to its workers (which release their
locks and stop), merges the summaries they write to temporary files
(:class:`jug.summary.RunSummary`), prints one, and exits with the worst exit code of
its workers.  Workers run in their own process group, so that a Ctrl-C at the terminal
reaches each of them once, through the parent.

Imports the standard library, ``jug.backends.select`` (whether the store can be
shared), ``jug.jug`` (a worker runs its ``main``), ``jug.summary`` and ``jug.errors``.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time

from .backends.select import is_shared
from .errors import OptionError
from .jug import check_jugfile, main
from .progress import (Counts, LineDisplay, choose_display, combine, read_snapshot,
                       shows_line, snapshot_path)
from .summary import RunSummary

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, Callable, NoReturn

    from .optionchain import Options

__all__ = ['parse_jobs', 'run_workers', 'worker_arguments', 'execute_arguments',
           'python_path_with_jug']

#: Flags of ``jug execute`` passed on to the workers when set (option name → flag).
_FLAGS = {
    'execute_keep_going': '--keep-going',
    'execute_keep_failed': '--keep-failed',
    'execute_no_check_environment': '--no-check-environment',
    'aggressive_unload': '--aggressive-unload',
    'debug': '--debug',
    'will_cite': '--will-cite',
}
#: Options with a value passed on to the workers when set (option name → option).
_VALUES = {
    'execute_wait_cycle_time': '--wait-cycle-time',
    'execute_nr_wait_cycles': '--nr-wait-cycles',
    'execute_lease_time': '--lease-time',
    'execute_heartbeat_interval': '--heartbeat-interval',
    'execute_stop_after': '--stop-after',
    'execute_name': '--name',
    'execute_pattern': '--pattern',
    'verbose': '--verbose',
}


#: How often the parent shows the workers' combined progress (seconds).
PROGRESS_INTERVAL = 0.2


def parse_jobs(value: Any) -> int:
    """Return the number of workers ``-j VALUE`` asks for.

    Usage: ``parse_jobs('auto')`` → the number of CPUs this process may use

    ``None`` (no ``-j``) is 1; ``0`` and ``auto`` mean one worker per CPU.

    Raises
    ------
    jug.errors.OptionError
        If the value is not a non-negative integer or ``auto``.
    """
    if value is None:
        return 1
    text = str(value).strip().lower()
    if text == 'auto':
        return _cpu_count()
    try:
        jobs = int(text)
    except ValueError:
        jobs = -1
    if jobs < 0:
        raise OptionError(f'jug execute: --jobs must be a number of workers (0 or "auto" '
                          f'for one per CPU), not {value!r}')
    return jobs if jobs > 0 else _cpu_count()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_arguments(options: Options, report: str) -> list[str]:
    """Return the ``jug`` arguments of one worker of ``jug execute -j``.

    Usage: ``jug.jug.main(['jug'] + worker_arguments(options, '/tmp/report.json'))``

    The worker runs ``jug execute`` on the same jugfile and jugdir with the same
    options (one worker each), and writes its summary as JSON to `report` instead of
    printing it.  The jugfile's own arguments (``sys.argv[1:]``) follow ``--``.
    """
    return execute_arguments(options, ['--jobs', '1', '--worker-report', report])


def execute_arguments(options: Options, extra: list[str]) -> list[str]:
    """Return the ``jug`` arguments of a ``jug execute`` with the jugfile, jugdir and
    execute options of `options`, then `extra` (which wins over them), then ``--`` and
    the jugfile's own arguments (``sys.argv[1:]``)."""
    arguments = ['execute', options.jugfile,
                 # already expanded (%(date)s...): a worker started after midnight must
                 # not pick another directory; '%' is escaped from a second expansion
                 '--jugdir', str(options.jugdir).replace('%', '%%')]
    for name, flag in _FLAGS.items():
        if getattr(options, name, None):
            arguments.append(flag)
    for name, option in _VALUES.items():
        value = getattr(options, name, None)
        if value is not None:
            arguments.extend([option, str(value)])
    return arguments + extra + ['--'] + sys.argv[1:]


class _Worker:
    """A worker process: its pid, how to wait for its exit code, and the pipes its
    relayed outputs go to."""

    def __init__(self, pid: int, wait: Callable[[], int], poll: Callable[[], int | None],
                 outputs: dict[int, int]) -> None:
        self.pid = pid
        self.outputs = outputs  # the pipes it writes to (read end → 1 or 2)
        self._wait = wait
        self._poll = poll
        self.code: int | None = None

    def wait(self) -> int:
        """Wait for the worker; return its exit code as a shell gives it (128 + N when
        killed by signal N)."""
        if self.code is None:
            self._set(self._wait())
        assert self.code is not None
        return self.code

    def poll(self) -> bool:
        """Whether the worker has exited (without waiting)."""
        if self.code is None:
            code = self._poll()
            if code is not None:
                self._set(code)
        return self.code is not None

    def _set(self, code: int) -> None:
        self.code = 128 - code if code < 0 else code


def _start(arguments: list[str], relayed: list[int]) -> _Worker:
    """Start a worker running ``jug`` with `arguments`, in its own process group; its
    outputs `relayed` (1: stdout, 2: stderr) go to pipes (``_Worker.outputs``).

    Forked where the system can (cheap: jug is imported already, and the jugfile is
    not loaded yet, so no thread runs); started as ``python -m jug`` elsewhere.
    """
    if not hasattr(os, 'fork'):
        return _spawn(arguments, relayed)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child would write the parent's buffered output again
    pipes = {target: os.pipe() for target in relayed}
    pid = os.fork()
    if pid == 0:
        for target, (read_end, write_end) in pipes.items():
            os.dup2(write_end, target)
            os.close(read_end)
            os.close(write_end)
        _run_forked(arguments)  # never returns
    for _, write_end in pipes.values():
        os.close(write_end)
    return _Worker(pid, lambda: os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]),
                   lambda: _exited(pid),
                   {read_end: target for target, (read_end, _) in pipes.items()})


def _exited(pid: int) -> int | None:
    """The exit code of the child `pid` if it has exited (it is then reaped), else None."""
    done, status = os.waitpid(pid, os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if done else None


def _run_forked(arguments: list[str]) -> NoReturn:
    """In a forked worker: run ``jug`` as a new process would, then exit."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # not the parent's
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setpgid(0, 0)
        main(['jug'] + arguments)
        code = 0
    except SystemExit as e:
        code = _exit_status(e)
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _exit_status(e: SystemExit) -> int:
    """The status a process exiting with ``e`` has (a message goes to stderr)."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    sys.stderr.write(f'{e.code}\n')
    return 1


def _spawn(arguments: list[str], relayed: list[int]) -> _Worker:
    """Start a worker as ``python -m jug``, this very copy of jug first on the path."""
    import subprocess  # lazy, as this module: only -j needs it
    env = dict(os.environ, PYTHONPATH=python_path_with_jug())
    command = [sys.executable, '-m', 'jug', *arguments]
    group = {'process_group': 0} if sys.version_info >= (3, 11) else {'preexec_fn': os.setpgrp}
    pipes = {target: subprocess.PIPE if target in relayed else None for target in (1, 2)}
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                               stdout=pipes[1], stderr=pipes[2], **group)
    outputs = {stream.fileno(): target
               for target, stream in ((1, process.stdout), (2, process.stderr)) if stream}
    return _Worker(process.pid, process.wait, process.poll, outputs)


#: The directory holding this very copy of the ``jug`` package.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_path_with_jug() -> str:
    """``PYTHONPATH`` with this very copy of jug first (then what it was)."""
    current = os.environ.get('PYTHONPATH', '').split(os.pathsep)
    return os.pathsep.join([PACKAGE_ROOT] + [path for path in current
                                             if path and path != PACKAGE_ROOT])


def run_workers(options: Options, jobs: int) -> tuple[RunSummary | None, int]:
    """Run `jobs` workers of ``jug execute`` and wait for all of them.

    Usage: ``summary, code = run_workers(options, 4)``

    Returns
    -------
    summary : RunSummary or None
        The merged summary of the workers that wrote one (None if none did).
    code : int
        The worst (highest) exit code of the workers.
    """
    if options.pdb:
        raise OptionError('jug execute: --pdb needs a single worker (drop -j/--jobs)')
    if not is_shared(options.jugdir):
        raise OptionError(f'jug execute: -j/--jobs needs a store that several processes '
                          f'share (a directory or redis), not {options.jugdir!r}')
    check_jugfile(options.jugfile)  # one error, rather than one per worker
    reports = [_new_report_file() for _ in range(jobs)]
    workers: list = []

    def forward(signum: int, frame: FrameType | None) -> None:
        for worker in workers:
            if worker.code is None:
                try:
                    os.kill(worker.pid, signum)
                except ProcessLookupError:
                    pass  # it exited; wait() collects it
    # installed before the first worker starts: no signal may find a worker unknown
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    relayed = _relayed_outputs()
    try:
        for report in reports:
            workers.append(_start(worker_arguments(options, report), relayed))
        logging.info(f'Started {jobs} workers: pids {", ".join(str(w.pid) for w in workers)}')
        # (shown once the workers are started: no thread may run when they are forked)
        display = choose_display(bool(options.execute_progress))
        codes = _wait_for_workers(workers, reports, display)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        summaries = [_read_report(report) for report in reports]
    for i, (code, summary) in enumerate(zip(codes, summaries)):
        if summary is None and code != 0:  # 0: stopped by JUG_MAX_*, the stop file...
            sys.stderr.write(f'jug execute: worker {i + 1} of {jobs} (pid {workers[i].pid}) '
                             f'stopped with exit code {code} before writing its summary\n')
    written = [s for s in summaries if s is not None]
    return (RunSummary.merge(written) if written else None), max(codes)


def _relayed_outputs() -> list[int]:
    """The outputs (1: stdout, 2: stderr) of the workers that the parent relays: those
    on the terminal of its live line, so that what the workers print goes above it."""
    if not shows_line():
        return []
    return [target for target in (1, 2) if os.isatty(target)]


def _wait_for_workers(workers: list, reports: list, display: Any) -> list:
    """Wait for every worker; return their exit codes.  With a `display`, show the
    combined progress of the workers (from the counts each writes beside its report)
    every :data:`PROGRESS_INTERVAL` seconds meanwhile, and relay their outputs."""
    if display is None:
        return [worker.wait() for worker in workers]
    started = time.monotonic()
    paths = [snapshot_path(report) for report in reports]
    relay = _Relay(display, {source: target for worker in workers
                             for source, target in worker.outputs.items()})

    def counts() -> Counts:
        return combine([s for s in map(read_snapshot, paths) if s is not None], started)
    try:
        shown = 0.0
        while not all([worker.poll() for worker in workers]):
            if time.monotonic() - shown >= PROGRESS_INTERVAL:
                shown = time.monotonic()
                now = counts()
                if now.total:  # (nothing to say before the workers have loaded the jugfile)
                    display.show(now)
            relay.pump(PROGRESS_INTERVAL)
    finally:
        relay.finish()
        display.close(counts())
    return [worker.wait() for worker in workers]


class _Relay:
    """Copies what the workers write to the pipes `sources` (read end → 1 or 2) to this
    process's stdout or stderr, whole lines at a time, above the line of `display`."""

    def __init__(self, display: LineDisplay, sources: dict[int, int]) -> None:
        self.display = display
        self.sources = sources
        self.partial = {source: b'' for source in sources}

    def pump(self, timeout: float) -> None:
        """Relay what arrives within `timeout` seconds (or only wait, with no pipe)."""
        if not self.sources:
            time.sleep(timeout)
            return
        ready, _, _ = select.select(list(self.sources), [], [], timeout)
        for source in ready:
            data = os.read(source, 65536)
            if not data:
                self._close(source)
                continue
            lines, newline, self.partial[source] = \
                (self.partial[source] + data).rpartition(b'\n')
            if newline:
                self._relay(source, lines + newline)

    def finish(self) -> None:
        """Relay what is left once the workers have exited, and close the pipes (a
        helper of a worker may still hold one open: what is not there now is dropped)."""
        while self.sources and self._has_data():
            self.pump(0)
        for source in list(self.sources):
            self._close(source)

    def _has_data(self) -> bool:
        return bool(select.select(list(self.sources), [], [], 0)[0])

    def _close(self, source: int) -> None:
        if self.partial[source]:
            self._relay(source, self.partial[source])
        os.close(source)
        del self.sources[source], self.partial[source]

    def _relay(self, source: int, data: bytes) -> None:
        target = self.sources[source]
        self.display.write_above(lambda: _write_all(target, data))


def _write_all(target: int, data: bytes) -> None:
    """Write `data` to the file descriptor `target`, after what Python buffers for it."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    while data:
        data = data[os.write(target, data):]


def _new_report_file() -> str:
    import tempfile  # lazy, as this module: only -j needs it
    fd, path = tempfile.mkstemp(prefix='jug-worker-', suffix='.json')
    os.close(fd)
    return path


def _read_report(path: str) -> RunSummary | None:
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except OSError:
        text = ''
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    try:
        os.unlink(snapshot_path(path))
    except OSError:
        pass
    if not text:
        return None
    try:
        return RunSummary.from_json(text)
    except ValueError:
        return None
