"""``jug execute``: run the jugfile's tasks, in as many processes as you start.

Layer 5: a thin command over ``jug.jug.execution_loop`` (SPEC.md §4.6).
"""
import logging
import signal
import sys
import time
from collections import defaultdict

from .. import task as _task_module
from ..backends.leases import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_LEASE_TIME, LeaseSettings
from ..errors import OptionError
from ..hooks import register_hook, register_hook_once, jug_hook
from ..hooks.exit_checks import exit_env_vars, exit_if_file_exists
from ..hooks.register import unregister_hook
from ..io import print_task_summary_table
from ..jug import ExecutionState, execution_loop, init
from ..options import add_flag
from ..utils import add_task_selection_options
from . import SubCommand, maybe_print_citation_info

#: A file of this name in the current directory makes ``jug execute`` stop (exit 0).
STOP_FILE = '__jug_please_stop_running.txt'
_DEFAULT_WAIT_CYCLE_TIME = 12.0
_DEFAULT_WAIT_TOTAL = 1800  # seconds: the default number of cycles waits this long


class TaskStats:
    """Counts of the tasks one execute run loaded and executed, by task name.

    Subscribes to the execute hooks while alive; ``close()`` unsubscribes, so runs in
    one process (e.g. tests) do not accumulate subscribers.
    """

    def __init__(self):
        self.loaded = defaultdict(int)
        self.executed = defaultdict(int)
        self._subscriptions = [('execute.task-loadable', self._count_loaded),
                               ('execute.task-executed1', self._count_executed)]
        for name, f in self._subscriptions:
            register_hook(name, f)

    def _count_loaded(self, t):
        self.loaded[t.name] += 1

    def _count_executed(self, t):
        self.executed[t.name] += 1

    def total_executed(self):
        """Return how many tasks have been executed so far."""
        return sum(self.executed.values())

    def close(self):
        """Stop counting (unsubscribe from the hooks)."""
        for name, f in self._subscriptions:
            unregister_hook(name, f)
        self._subscriptions = []


def _sigterm(signum, frame):
    """SIGTERM handler: exit with code 1, unwinding (so held locks are released)."""
    sys.exit(1)


def _log_loadable(t):
    logging.info(f'Loadable {t.name}...')


def _set_lease(store, options):
    """Give the store (if its locks have leases) the lease options of this run."""
    set_lease = getattr(store, 'set_lease', None)
    if set_lease is None:
        return
    try:
        set_lease(LeaseSettings(options.execute_lease_time,
                                options.execute_heartbeat_interval))
    except ValueError as e:
        raise OptionError(f'jug execute: {e} (see --lease-time and --heartbeat-interval)')


class ExecuteCommand(SubCommand):
    """Execute tasks

    execute: run every task whose inputs are available; start it in several shells
    or machines to run tasks in parallel.
    """

    name = 'execute'

    def run(self, options, *args, **kwargs):
        signal.signal(signal.SIGTERM, _sigterm)
        if not options.execute_no_check_environment:
            exit_env_vars()
            exit_if_file_exists(STOP_FILE)
        stats = TaskStats()
        try:
            register_hook_once('execute.task-loadable', '_log_loadable', _log_loadable)
            failures = self._run_passes(options, stats)
            jug_hook('execute.finished_pre_status')
            maybe_print_citation_info(options)
            print_task_summary_table(options, [('Executed', stats.executed),
                                               ('Loaded', stats.loaded)])
            jug_hook('execute.finished_post_status')
        finally:
            stats.close()
        if failures:
            sys.exit(1)

    def _run_passes(self, options, stats):
        """Load the jugfile and run its tasks, again after each barrier, until done."""
        tasks = _task_module.alltasks
        state = ExecutionState()
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
                if state.nr_waits >= options.execute_nr_wait_cycles:
                    return failures
                if stats.total_executed() == executed_before:
                    time.sleep(options.execute_wait_cycle_time)
                    state.nr_waits += 1
        finally:
            if store is not None:
                store.close()  # e.g. dict_store:FILE writes its file now

    def parse(self, parser):
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
                                 f'over (default: {DEFAULT_LEASE_TIME:g})')
        parser.add_argument('--heartbeat-interval', action='store', type=float,
                            dest='execute_heartbeat_interval', metavar='SECONDS',
                            help='How often a worker refreshes the locks it holds '
                                 f'(default: {DEFAULT_HEARTBEAT_INTERVAL:g})')
        add_task_selection_options(parser, 'execute_name', 'execute_pattern', False,
                                   'execute')
        add_flag(parser, '--keep-going', 'execute_keep_going',
                 'Go on after a task fails (exit code 1 at the end)')
        add_flag(parser, '--keep-failed', 'execute_keep_failed',
                 'Mark failed tasks as failed (their locks stay) so that other processes '
                 'do not retry them')
        add_flag(parser, '--no-check-environment', 'execute_no_check_environment',
                 'Ignore the JUG_* environment variables and the stop file')

    def parse_defaults(self):
        return {
            'execute_keep_going': False,
            'execute_keep_failed': False,
            'execute_name': None,
            'execute_pattern': None,
            'execute_wait_cycle_time': _DEFAULT_WAIT_CYCLE_TIME,
            'execute_nr_wait_cycles': int(_DEFAULT_WAIT_TOTAL // _DEFAULT_WAIT_CYCLE_TIME),
            'execute_no_check_environment': False,
            'execute_lease_time': DEFAULT_LEASE_TIME,
            'execute_heartbeat_interval': DEFAULT_HEARTBEAT_INTERVAL,
        }


execute = ExecuteCommand()
