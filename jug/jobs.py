"""``jug execute -j N``: N worker processes started by one command.

Layer 4 (runtime).  Each worker is a full ``jug execute`` process (its own locks,
leases, run records and heartbeat), started with ``python -m jug`` and the same
options, so that it behaves exactly as a worker started in another shell.  The
parent only waits: it forwards Ctrl-C and SIGTERM to its workers (which release their
locks and stop), merges the summaries they write to temporary files
(:class:`jug.summary.RunSummary`), prints one, and exits with the worst exit code of
its workers.  Workers run in their own process group, so that a Ctrl-C at the terminal
reaches each of them once, through the parent.

Imports the standard library and ``jug.summary``/``jug.errors`` only.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile

from .errors import OptionError
from .summary import RunSummary

__all__ = ['parse_jobs', 'run_workers', 'worker_command']

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


def parse_jobs(value) -> int:
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


def worker_command(options, report: str) -> list:
    """Return the command line of one worker of ``jug execute -j``.

    Usage: ``subprocess.Popen(worker_command(options, '/tmp/report.json'))``

    The worker runs ``jug execute`` on the same jugfile and jugdir with the same
    options (one worker each), and writes its summary as JSON to `report` instead of
    printing it.  The jugfile's own arguments (``sys.argv[1:]``) follow ``--``.
    """
    command = [sys.executable, '-m', 'jug', 'execute', options.jugfile,
               # already expanded (%(date)s...): a worker started after midnight must
               # not pick another directory; '%' is escaped from a second expansion
               '--jugdir', str(options.jugdir).replace('%', '%%'),
               '--jobs', '1', '--worker-report', report]
    for name, flag in _FLAGS.items():
        if getattr(options, name, None):
            command.append(flag)
    for name, option in _VALUES.items():
        value = getattr(options, name, None)
        if value is not None:
            command.extend([option, str(value)])
    return command + ['--'] + sys.argv[1:]


def _environment() -> dict:
    """The workers' environment: this very copy of jug comes first on the path."""
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env['PYTHONPATH'] = os.pathsep.join(
        [package_root] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    return env


def _start(command: list) -> subprocess.Popen:
    """Start a worker in a process group of its own (see the module docstring)."""
    if sys.version_info >= (3, 11):
        return subprocess.Popen(command, env=_environment(), stdin=subprocess.DEVNULL,
                                process_group=0)
    return subprocess.Popen(command, env=_environment(), stdin=subprocess.DEVNULL,
                            preexec_fn=os.setpgrp)


def _exit_code(returncode: int) -> int:
    """A worker's exit status as a shell would give it (128 + N when killed by N)."""
    return 128 - returncode if returncode < 0 else returncode


def run_workers(options, jobs: int) -> tuple:
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
    reports = [_new_report_file() for _ in range(jobs)]
    workers: list = []

    def forward(signum, frame):
        for worker in workers:
            if worker.poll() is None:
                os.kill(worker.pid, signum)
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for report in reports:
            workers.append(_start(worker_command(options, report)))
        logging.info(f'Started {jobs} workers: pids '
                     f'{", ".join(str(w.pid) for w in workers)}')
        codes = [_exit_code(worker.wait()) for worker in workers]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        summaries = [_read_report(report) for report in reports]
    for i, (code, summary) in enumerate(zip(codes, summaries)):
        if summary is None:
            sys.stderr.write(f'jug execute: worker {i + 1} of {jobs} (pid {workers[i].pid}) '
                             f'stopped with exit code {code} before writing its summary\n')
    written = [s for s in summaries if s is not None]
    return (RunSummary.merge(written) if written else None), max(codes)


def _new_report_file() -> str:
    fd, path = tempfile.mkstemp(prefix='jug-worker-', suffix='.json')
    os.close(fd)
    return path


def _read_report(path: str):
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
