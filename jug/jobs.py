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
import signal
import sys

from .backends.select import is_shared
from .errors import OptionError
from .jug import check_jugfile, main
from .summary import RunSummary

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, Callable, NoReturn

    from .optionchain import Options

__all__ = ['parse_jobs', 'run_workers', 'worker_arguments']

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
    'execute_name': '--name',
    'execute_pattern': '--pattern',
    'verbose': '--verbose',
}


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
    arguments = ['execute', options.jugfile,
                 # already expanded (%(date)s...): a worker started after midnight must
                 # not pick another directory; '%' is escaped from a second expansion
                 '--jugdir', str(options.jugdir).replace('%', '%%'),
                 '--jobs', '1', '--worker-report', report]
    for name, flag in _FLAGS.items():
        if getattr(options, name, None):
            arguments.append(flag)
    for name, option in _VALUES.items():
        value = getattr(options, name, None)
        if value is not None:
            arguments.extend([option, str(value)])
    return arguments + ['--'] + sys.argv[1:]


class _Worker:
    """A worker process: its pid, and how to wait for its exit code."""

    def __init__(self, pid: int, wait: Callable[[], int]) -> None:
        self.pid = pid
        self._wait = wait
        self.code: int | None = None

    def wait(self) -> int:
        """Wait for the worker; return its exit code as a shell gives it (128 + N when
        killed by signal N)."""
        if self.code is None:
            code = self._wait()
            self.code = 128 - code if code < 0 else code
        return self.code


def _start(arguments: list[str]) -> _Worker:
    """Start a worker running ``jug`` with `arguments`, in its own process group.

    Forked where the system can (cheap: jug is imported already, and the jugfile is
    not loaded yet, so no thread runs); started as ``python -m jug`` elsewhere.
    """
    if not hasattr(os, 'fork'):
        return _spawn(arguments)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child would write the parent's buffered output again
    pid = os.fork()
    if pid == 0:
        _run_forked(arguments)  # never returns
    return _Worker(pid, lambda: os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))


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


def _spawn(arguments: list[str]) -> _Worker:
    """Start a worker as ``python -m jug``, this very copy of jug first on the path."""
    import subprocess  # lazy, as this module: only -j needs it
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env['PYTHONPATH'] = os.pathsep.join(
        [package_root] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    command = [sys.executable, '-m', 'jug', *arguments]
    group = {'process_group': 0} if sys.version_info >= (3, 11) else {'preexec_fn': os.setpgrp}
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, **group)
    return _Worker(process.pid, process.wait)


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
    try:
        for report in reports:
            workers.append(_start(worker_arguments(options, report)))
        logging.info(f'Started {jobs} workers: pids {", ".join(str(w.pid) for w in workers)}')
        codes = [worker.wait() for worker in workers]
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
    if not text:
        return None
    try:
        return RunSummary.from_json(text)
    except ValueError:
        return None
