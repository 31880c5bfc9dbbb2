"""``jug execute``: run the jugfile's tasks, in as many processes as you start.

Layer 5: a thin command over ``jug.jug.execution_loop`` (docs/subcommands.rst, docs/parallel.rst).
"""
from __future__ import annotations

import argparse
import logging
import signal
import time
from collections import defaultdict

from .. import task as _task_module
from ..backends.leases import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_LEASE_TIME, LeaseSettings
from ..errors import JugExit, OptionError, StopRequested, Terminated
from ..hooks import register_hook, register_hook_once, jug_hook
from ..hooks.exit_checks import exit_env_vars, exit_if_file_exists
from ..hooks.register import unregister_hook
from ..jobs import parse_jobs, run_workers
from ..jug import ExecutionState, execution_loop, init
from ..options import add_flag
from ..progress import Progress, SnapshotDisplay, choose_display, snapshot_path
from ..summary import RunSummary
from ..utils import add_task_selection_options
from . import SubCommand, maybe_print_citation_info

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, Callable, NoReturn

    from ..optionchain import Options
    from ..task import Task

#: A file of this name in the current directory makes ``jug execute`` stop (exit 0).
STOP_FILE = '__jug_please_stop_running.txt'
_DEFAULT_WAIT_CYCLE_TIME = 12.0
_DEFAULT_WAIT_TOTAL = 1800  # seconds: the default number of cycles waits this long


class TaskStats:
    """Counts of the tasks one execute run loaded and executed, by task name.

    Subscribes to the execute hooks while alive; ``close()`` unsubscribes, so runs in
    one process (e.g. tests) do not accumulate subscribers.  With ``keep_keys``, the
    hashes are kept too (``keys['loaded'|'executed'][name]``), for merging the
    summaries of the workers of ``-j``.
    """

    def __init__(self, keep_keys: bool = False) -> None:
        self.loaded: defaultdict[str, int] = defaultdict(int)
        self.executed: defaultdict[str, int] = defaultdict(int)
        self.keys: dict[str, defaultdict[str, list[bytes]]] | None = \
            {'loaded': defaultdict(list), 'executed': defaultdict(list)} if keep_keys else None
        self._subscriptions: list[tuple[str, Callable[[Task], None]]] = [
            ('execute.task-loadable', self._count_loaded),
            ('execute.task-executed1', self._count_executed)]
        for name, f in self._subscriptions:
            register_hook(name, f)

    def _count_loaded(self, t: Task) -> None:
        self.loaded[t.name] += 1
        if self.keys is not None:
            self.keys['loaded'][t.name].append(t.hash())

    def _count_executed(self, t: Task) -> None:
        self.executed[t.name] += 1
        if self.keys is not None:
            self.keys['executed'][t.name].append(t.hash())

    def total_executed(self) -> int:
        """Return how many tasks have been executed so far."""
        return sum(self.executed.values())

    def close(self) -> None:
        """Stop counting (unsubscribe from the hooks)."""
        for name, f in self._subscriptions:
            unregister_hook(name, f)
        self._subscriptions = []


def _sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    """SIGTERM handler: exit with code 1, unwinding (so held locks are released).

    Further SIGTERMs are ignored while unwinding (a batch system may send one to every
    process of a job, and ``jug execute -j`` forwards its own to its workers): a second
    ``SystemExit`` raised inside a ``finally`` could skip a lock's release.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def _sigint_once(signum: int, frame: FrameType | None) -> NoReturn:
    """SIGINT handler of the workers of ``-j``: ``KeyboardInterrupt`` once, then ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _log_loadable(t: Task) -> None:
    logging.info(f'Loadable {t.name}...')


def _set_lease(store: Any, options: Options) -> None:
    """Give the store the lease options of this run (stores without leases ignore it)."""
    try:
        store.set_lease(LeaseSettings(options.execute_lease_time,
                                      options.execute_heartbeat_interval))
    except ValueError as e:
        raise OptionError(f'jug execute: {e} (see --lease-time and --heartbeat-interval)')


def _write_report(path: str, summary: RunSummary) -> None:
    """Write a worker's summary for the ``jug execute -j`` that started it."""
    try:
        with open(path, 'w', encoding='utf-8') as f:
            f.write(summary.to_json())
    except OSError as e:
        logging.warning(f'Could not write the summary of this worker to {path}: {e}')


def _start_progress(options: Options, state: ExecutionState) -> Progress | None:
    """The progress display of this worker: a snapshot file for the parent of ``-j``, a
    live line on a terminal, plain lines with ``--progress``, or none."""
    report = options.execute_worker_report
    if report is not None:
        display: Any = SnapshotDisplay(snapshot_path(report))
    else:
        display = choose_display(bool(options.execute_progress))
    return None if display is None else Progress(display, state)


def stop_after(options: Options) -> float | None:
    """The seconds of ``--stop-after`` (None if not given; OptionError if not positive)."""
    value = options.execute_stop_after
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0:
        raise OptionError(f'jug execute: --stop-after needs a positive number of seconds, '
                          f'not {value!r}')
    return seconds


def _deadline(options: Options) -> float | None:
    """``--stop-after SECONDS``: when (``time.monotonic()``) to stop taking tasks."""
    seconds = stop_after(options)
    return None if seconds is None else time.monotonic() + seconds


class ExecuteCommand(SubCommand):
    """Run the tasks (start several to work in parallel)

    execute: run every task whose inputs are available; start it in several shells
    or machines to run tasks in parallel.
    """

    name = 'execute'
    loads_jugfile_itself = True

    def run(self, options: Options, *args: Any, **kwargs: Any) -> None:
        jobs = parse_jobs(options.execute_jobs)
        deadline = _deadline(options)  # (checked here, also for the workers of -j)
        if jobs > 1:
            return self._run_workers(options, jobs)
        signal.signal(signal.SIGTERM, _sigterm)
        report = options.execute_worker_report
        if report is not None:
            signal.signal(signal.SIGINT, _sigint_once)
        # counting first: a limit's hook that stops after a task must not skip its count
        stats = TaskStats(keep_keys=report is not None)
        if not options.execute_no_check_environment:
            exit_env_vars()
            exit_if_file_exists(STOP_FILE)
        state = ExecutionState()
        state.deadline = deadline
        failures = None
        stopped = None
        progress = _start_progress(options, state)
        try:
            register_hook_once('execute.task-loadable', '_log_loadable', _log_loadable)
            try:
                failures = self._run_passes(options, stats, state)
            except StopRequested as e:
                stopped = e.reason
                raise
            finally:
                if progress is not None:
                    progress.close()  # the line is cleared: the summary follows
            jug_hook('execute.finished_pre_status')
            summary = RunSummary.of_worker(stats, state, failures)
            if report is None:
                maybe_print_citation_info(options)
                summary.print(options)
            jug_hook('execute.finished_post_status')
        finally:
            stats.close()
            if report is not None:  # also when stopped by an error or a signal
                _write_report(report, RunSummary.of_worker(
                    stats, state, failures is not False and stopped is None, stopped))
        if summary.exit_code():
            raise JugExit(1)

    def _run_workers(self, options: Options, jobs: int) -> None:
        """``-j N``: run N worker processes, print their merged summary."""
        summary, code = run_workers(options, jobs)
        if summary is not None:
            maybe_print_citation_info(options)
            summary.print(options)
            code = max(code, summary.exit_code())
        if code:
            raise JugExit(code)

    def _run_passes(self, options: Options, stats: TaskStats, state: ExecutionState) -> bool:
        """Load the jugfile and run its tasks, again after each barrier, until done."""
        tasks = _task_module.alltasks
        store = None
        failures = False
        try:
            while True:
                del tasks[:]
                store, jugspace = init(options.jugfile, options.jugdir,
                                       on_error='propagate' if options.pdb else 'exit',
                                       store=store)
                _set_lease(store, options)
                if options.debug:
                    for t in tasks:
                        t.hash()
                executed_before = stats.total_executed()
                failures |= execution_loop(tasks, options, state)
                if not jugspace.get('__jug__hasbarrier__'):
                    return failures
                if state.nr_waits >= options.execute_nr_wait_cycles or state.undone:
                    return failures  # gave up, or what is left cannot run
                if stats.total_executed() == executed_before:
                    time.sleep(options.execute_wait_cycle_time)
                    state.nr_waits += 1
        finally:
            if store is not None:
                store.close()  # e.g. dict_store:FILE writes its file now

    def parse(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument('--wait-cycle-time', action='store', type=float,
                            dest='execute_wait_cycle_time', metavar='WAIT_CYCLE_TIME',
                            help='How many seconds to wait between checks for tasks '
                                 f'locked by other processes (default: {_DEFAULT_WAIT_CYCLE_TIME})')
        parser.add_argument('--nr-wait-cycles', action='store', type=int,
                            dest='execute_nr_wait_cycles', metavar='NR_WAIT_CYCLES',
                            help='How many times to wait before giving up (default: '
                                 f'{int(_DEFAULT_WAIT_TOTAL // _DEFAULT_WAIT_CYCLE_TIME)})')
        parser.add_argument('--lease-time', action='store', type=float,
                            dest='execute_lease_time', metavar='SECONDS',
                            help='A lock not refreshed for this long is stale: its worker '
                                 'is taken to be dead and another worker takes the task '
                                 'over (the locks of a dead worker of this host are taken '
                                 f'over at once) (default: {DEFAULT_LEASE_TIME:g})')
        parser.add_argument('--heartbeat-interval', action='store', type=float,
                            dest='execute_heartbeat_interval', metavar='SECONDS',
                            help='How often a worker refreshes the locks it holds '
                                 f'(default: {DEFAULT_HEARTBEAT_INTERVAL:g})')
        add_task_selection_options(parser, 'execute_name', 'execute_pattern', False,
                                   'execute')
        parser.add_argument('--stop-after', action='store', dest='execute_stop_after',
                            metavar='SECONDS',
                            help='Take no new task SECONDS after starting (checked before '
                                 'each task and while waiting); then stop, exit code 0')
        add_flag(parser, '--keep-going', 'execute_keep_going',
                 'Go on after a task fails (exit code 1 at the end)')
        add_flag(parser, '--keep-failed', 'execute_keep_failed',
                 'Mark failed tasks as failed (their locks stay) so that other processes '
                 'do not retry them')
        add_flag(parser, '--no-check-environment', 'execute_no_check_environment',
                 'Ignore the JUG_* environment variables and the stop file')
        add_flag(parser, '--progress', 'execute_progress',
                 'Off a terminal, print a timestamped progress line every few seconds (on '
                 'a terminal, a live progress line is always shown)')
        parser.add_argument('-j', '--jobs', action='store', dest='execute_jobs',
                            metavar='N',
                            help='Run N worker processes (0 or "auto": one per CPU); '
                                 'the same as starting jug execute N times')
        # where a worker of -j writes its summary (set by the parent, not by people)
        parser.add_argument('--worker-report', action='store', dest='execute_worker_report',
                            help=argparse.SUPPRESS)

    def parse_defaults(self) -> dict[str, Any]:
        return {
            'execute_keep_going': False,
            'execute_keep_failed': False,
            'execute_name': None,
            'execute_pattern': None,
            'execute_wait_cycle_time': _DEFAULT_WAIT_CYCLE_TIME,
            'execute_nr_wait_cycles': int(_DEFAULT_WAIT_TOTAL // _DEFAULT_WAIT_CYCLE_TIME),
            'execute_no_check_environment': False,
            'execute_progress': False,
            'execute_lease_time': DEFAULT_LEASE_TIME,
            'execute_heartbeat_interval': DEFAULT_HEARTBEAT_INTERVAL,
            'execute_jobs': None,
            'execute_worker_report': None,
            'execute_stop_after': None,
        }


execute = ExecuteCommand()
