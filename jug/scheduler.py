"""The execution loop of one worker: which task to run next, and when to wait.

Layer 4 (runtime).  Imports the model (``jug.task``), run records and hooks; stores
are reached through ``Task.store``.  ``jug.jug`` re-exports :class:`ExecutionState`
and :func:`execution_loop`, their public home.

How a worker schedules (``docs/parallel.rst`` tells users the same):

* It holds the whole graph of the tasks it was given.  A task is *ready* when every
  task it depends on is known to have a result; it is known when this worker ran it,
  found it stored, or (for a task outside the list) the store said so.  Ready tasks
  run most-depended-on first (the longest chain of dependents first, then in the
  jugfile's order), so that chains are not left for last.
* A ready task whose lock another process holds is skipped and *watched*; the worker
  goes on with anything else it can run.  It waits only when nothing is ready, and
  then polls the watched tasks (from 50 ms, growing to a few hundred ms) and wakes as
  soon as one has a result, is released (it runs it then), is marked failed, or is
  stale (its holder is gone: it is taken over).  ``--nr-wait-cycles`` cycles of
  ``--wait-cycle-time`` without any change bound its patience, except while the
  holder of a watched lock has not been seen alive (refreshing its lock): it may be
  dead, so the worker waits until it is seen alive or its lease runs out (and takes
  the task over), so that a dead worker's tasks are never left.
* What happens to one task (lock, run, commit, record) is :mod:`jug.taskrun`'s.
* A task that failed is not retried by this worker; nor is one that failed in another
  worker after this one started (it reads the failure record the store keeps for it,
  see ``store.failure_mark``).  A worker started later does retry it.
* When what is left can only wait for failed tasks, it stops at once, and the
  :class:`Undone` report of the pass says how many tasks were left and why.

Compatibility with Jug 2.7 (``docs/compatibility.rst``): the list given to
:func:`execution_loop` is mutated in place; the tasks ready at the start of a round
(the start of the loop, or after a wait) are taken from it as one batch, the others
when they are processed, so what is left is what was never taken.  On a store that
only this process can change (``store.shared`` false, e.g. ``dict_store``), a wait is
one ``time.sleep(wait_cycle_time)`` per cycle, as in Jug 2.7.
"""
from __future__ import annotations

import heapq
import logging
import time

from . import task as _task_module
from .backends.base import LOCK_EXPIRING, LOCK_FAILED, LOCK_FREE, LOCK_STALE
from .errors import StopRequested
from .gctuning import fewer_collections
from .hooks import jug_hook
from .records import failure_id
from .taskrun import DONE, FAILED, HELD_ELSEWHERE, run_one
from .utils import prepare_matcher_from_options

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .optionchain import Options
    from .task import Task

__all__ = ['ExecutionState', 'Undone', 'execution_loop']

#: Pause between two looks at the watched tasks during the first FAST_POLL_TIME
#: seconds of a wait, in seconds; after that, each pause is POLL_GROWTH times the
#: previous, up to MAX_POLL (more when many tasks are watched: POLL_COST_PER_TASK
#: seconds each, so that polling stays cheap).
FIRST_POLL = 0.05
FAST_POLL_TIME = 1.0
POLL_GROWTH = 1.5
MAX_POLL = 0.25
POLL_COST_PER_TASK = 0.005
#: A watched lock whose stale deadline moved forward by more than this many seconds
#: was refreshed: its holder is alive.
REFRESH_EVIDENCE = 0.25


# bits of a ready-heap entry: -height in the high bits, the position in the low ones
_POSITION_BITS = 40
_POSITION_MASK = (1 << _POSITION_BITS) - 1


class Undone:
    """The tasks one pass of the execution loop left without a result, and why.

    Attributes
    ----------
    failed : list of (name, key, why)
        Tasks that failed: here (``why`` is the error), in another worker since this
        one started, or whose lock is marked failed.
    blocked : list of (name, key)
        Tasks that depend, directly or not, on a failed task.
    waiting : list of (name, key)
        Tasks held by other processes, or depending on such tasks, when this worker
        gave up waiting (``gave_up``) or stopped.
    unavailable : list of (name, key)
        Tasks depending on tasks this worker cannot run and nobody is running (outside
        a ``--name``/``--pattern`` selection), or on each other (a cycle).
    gave_up : bool
        Whether the worker stopped waiting after ``--nr-wait-cycles`` cycles.
    """

    def __init__(self) -> None:
        self.failed: list = []
        self.blocked: list = []
        self.waiting: list = []
        self.unavailable: list = []
        self.gave_up = False

    def __bool__(self) -> bool:
        return bool(self.failed or self.blocked or self.waiting or self.unavailable)

    def because_of_failures(self) -> bool:
        """Whether some tasks are undone because tasks failed."""
        return bool(self.failed or self.blocked)


class ExecutionState:
    """What one ``jug execute`` run remembers across passes over the jugfile.

    Attributes
    ----------
    nr_waits : int
        Consecutive wait cycles without any change.
    failed : set of bytes
        Hashes of the tasks that failed in this run (not retried).
    failed_elsewhere : dict
        Hash → ``(name, why)`` of the tasks this run learned had failed elsewhere (a
        failed lock, or a failure record newer than this run): not retried either.
    errors : dict
        Hash → ``(name, error line)`` of the tasks that failed in this run.
    failure_ids : dict or None
        Hash → :func:`jug.records.failure_id` of the failures recorded before this run
        started (read once, at the start of the first pass): only those are retried.
    undone : Undone or None
        What the last pass left undone.
    passes, pass_tasks : int
        How many passes started (one, and one more after each barrier), and how many
        tasks the current one has (what progress counts against).
    deadline : float or None
        ``--stop-after``: when (``time.monotonic()``) to stop taking new tasks.
    """

    def __init__(self) -> None:
        self.nr_waits = 0
        self.failed: set = set()
        self.failed_elsewhere: dict = {}
        self.errors: dict = {}
        self.failure_ids: dict | None = None
        self.undone: Undone | None = None
        self.passes = 0
        self.pass_tasks = 0
        self.deadline: float | None = None

    def check_deadline(self) -> None:
        """Raise StopRequested once the ``--stop-after`` deadline has passed (checked
        before each task and while waiting: no new task is taken after it)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise StopRequested('time limit reached (--stop-after): no new task is taken')


def execution_loop(tasks: list[Task], options: Options,
                   state: ExecutionState | None = None) -> bool:
    """Run every runnable task of ``tasks`` (removing them from the list).

    Usage: ``failures = execution_loop(jug.task.alltasks, options)``

    Parameters
    ----------
    tasks : list of Task
        In an order where no task depends on a later one (the jugfile's order).
    options : jug.options.Options
    state : ExecutionState, optional
        Shared by the passes of one run; ``state.undone`` tells what was left and why.

    Returns
    -------
    bool
        Whether some task raised (only returned with ``--keep-going``).
    """
    if state is None:
        state = ExecutionState()
    logging.info(f'Execute start ({len(tasks)} tasks)')
    matcher = prepare_matcher_from_options(name=options.execute_name,
                                           pattern=options.execute_pattern)
    if matcher is not None:
        tasks = [t for t in tasks if matcher(t.name)]
    state.passes += 1
    state.pass_tasks = len(tasks)
    skip = 0
    while skip < len(tasks) and tasks[skip].can_load():
        jug_hook('execute.task-loadable', (tasks[skip],))
        skip += 1
    done = {t.hash() for t in tasks[:skip]}
    del tasks[:skip]
    store = _task_module.Task.store
    if state.failure_ids is None:
        state.failure_ids = {key: failure_id(record)
                             for key, record in store.failure_marks().items()}
    with fewer_collections():  # the graph of a million tasks is built here
        run = _Pass(tasks, options, state, store, done)
    return run.run()


class _Pass:
    """One call of :func:`execution_loop`: the graph of its tasks and its progress.

    Tasks are referred to by their position in ``order`` (a copy of the list); a
    dependency by its hash, since several Task objects may share one.
    """

    def __init__(self, tasks: list[Task], options: Options, state: ExecutionState, store: Any,
                 done: set) -> None:
        self.tasks = tasks
        self.options = options
        self.state = state
        self.store = store
        self.order = list(tasks)
        self.keys = [t.hash() for t in self.order]
        self.taken = bytearray(len(self.order))  # 1: no longer in the caller's list
        self.done = done                          # keys known to have a result
        self.failed: set = set()                  # keys that failed (in this pass too)
        self.missing = [0] * len(self.order)      # unresolved dependencies per position
        self.dependents: dict = {}                # key -> positions waiting for it
        self.held: dict = {}                      # key -> position held elsewhere
        self.outside: dict = {}                   # key -> Task outside the list, no result
        self.unheld: set = set()                  # keys of outside ones nobody held at the
                                                  # last look
        self.ready: list = []                     # heap of encoded (height, position)
        self.raised = False
        self.previous: Task | None = None         # last task processed (aggressive unload)
        self.gave_up = False
        self.liveness = _Liveness()               # which holders were seen alive
        self.height: list = []
        self._link()

    # --- the graph -------------------------------------------------------------------
    def _link(self) -> None:
        """Count each task's unresolved dependencies and note who waits for whom."""
        in_list = set(self.keys)
        done = self.done
        for i, t in enumerate(self.order):
            waits_for: list[bytes] | set[bytes]
            waits_for = []
            for dep in t.dependencies():
                key = dep.hash()
                if key in done or (key not in in_list and self._outside_is_done(dep, key)):
                    continue
                waits_for.append(key)
            if len(waits_for) > 1:
                waits_for = set(waits_for)  # a dependency may be listed several times
            for key in waits_for:
                self._add_dependent(key, i)
            self.missing[i] = len(waits_for)
        self.height = self._heights()
        self.ready = [self._entry(i) for i in range(len(self.order)) if not self.missing[i]]
        heapq.heapify(self.ready)

    def _outside_is_done(self, dep: Task, key: bytes) -> bool:
        """For a dependency not in the list: whether its result is available (if not,
        and it did not fail, it is watched)."""
        if _failed_in_run(self.state, key):
            return False
        if hasattr(dep, '_result') or dep.can_load():
            self.done.add(key)
            return True
        self.outside[key] = dep
        return False

    def _add_dependent(self, key: bytes, position: int) -> None:
        waiting = self.dependents.get(key)
        if waiting is None:
            self.dependents[key] = position
        elif isinstance(waiting, int):
            self.dependents[key] = [waiting, position]
        else:
            waiting.append(position)

    def _waiting_for(self, key: bytes) -> list:
        waiting = self.dependents.get(key, ())
        return [waiting] if isinstance(waiting, int) else list(waiting)

    def _heights(self) -> list:
        """Length of the longest chain of dependents of each position."""
        height = [0] * len(self.order)
        for i in range(len(self.order) - 1, -1, -1):
            waiting = self.dependents.get(self.keys[i])
            if waiting is None:
                continue
            if isinstance(waiting, int):
                height[i] = height[waiting] + 1
            else:
                height[i] = max(height[j] for j in waiting) + 1
        return height

    def _entry(self, position: int) -> int:
        return (-self.height[position] << _POSITION_BITS) | position

    def _push(self, position: int) -> None:
        heapq.heappush(self.ready, self._entry(position))

    def _resolve(self, key: bytes) -> None:
        """``key`` has a result now: release the tasks that waited for it."""
        if key in self.done:
            return
        self.done.add(key)
        self.held.pop(key, None)
        self.outside.pop(key, None)
        for j in self._waiting_for(key):
            self.missing[j] -= 1
            if not self.missing[j]:
                self._push(j)
        self.dependents.pop(key, None)

    # --- the loop ----------------------------------------------------------------------
    def run(self) -> bool:
        try:
            while True:
                self._take_round()
                while self.ready:
                    position = heapq.heappop(self.ready) & _POSITION_MASK
                    self.taken[position] = 1
                    self._process(position)
                if not (self.held or self.outside) or not self._wait():
                    break
        finally:
            self.tasks[:] = [t for t, taken in zip(self.order, self.taken) if not taken]
            self.state.undone = self._undone()
        return self.raised

    def _take_round(self) -> None:
        """The tasks ready now leave the caller's list together (Jug 2.7's batch)."""
        for entry in self.ready:
            self.taken[entry & _POSITION_MASK] = 1

    def _process(self, position: int) -> None:
        t = self.order[position]
        key = self.keys[position]
        if _failed_in_run(self.state, key):
            self._mark_failed(key)
            return
        outcome = run_one(t, self)
        if self.options.aggressive_unload and self.previous is not None:
            self.previous.unload()
        self.previous = t
        if outcome is DONE:
            self._resolve(key)
        elif outcome is HELD_ELSEWHERE:
            self.held[key] = position
        else:
            self.raised |= outcome is FAILED
            self._mark_failed(key)

    def _mark_failed(self, key: bytes) -> None:
        self.failed.add(key)
        self.held.pop(key, None)
        self.outside.pop(key, None)

    # --- waiting ---------------------------------------------------------------------
    def _wait(self) -> bool:
        """Wait until a watched task changes; False when it is time to stop."""
        options = self.options
        cycle = float(options.execute_wait_cycle_time)
        patience = int(options.execute_nr_wait_cycles)
        changed, anyone_working = self._poll()
        if changed:
            return True
        if not anyone_working:
            return False  # nobody holds what we wait for: waiting cannot help
        _log_waiting(self)
        pause = FIRST_POLL
        longest = max(MAX_POLL, POLL_COST_PER_TASK * (len(self.held) + len(self.outside)))
        waited = total = 0.0
        while self.state.nr_waits < patience or self.liveness.keep_waiting():
            if self.store.shared:
                step = min(pause, cycle - waited)
                if total >= FAST_POLL_TIME:
                    pause = min(pause * POLL_GROWTH, longest)
            else:
                step = cycle  # nothing but this process changes the store: Jug 2.7's wait
            self.state.check_deadline()
            time.sleep(step)  # looked up at call time (tests count the calls)
            waited += step
            total += step
            if waited >= cycle:
                self.state.nr_waits += 1
                waited = 0.0
            changed, anyone_working = self._poll()
            if changed:
                self.state.nr_waits = 0
                return True
            if not anyone_working:
                return False
        self.gave_up = True
        logging.info('No task can be run: giving up waiting for tasks that other '
                     'processes hold.')
        return False

    def _poll(self) -> tuple:
        """Look at every watched task once; return ``(changed, anyone_working)``, and
        note in ``self.liveness`` which holders were seen alive."""
        changed = anyone_working = False
        self.liveness.begin_poll()
        for key, position in list(self.held.items()):
            t = self.order[position]
            if t.can_load():
                jug_hook('execute.task-loadable', (t,))
                self._resolve(key)
                changed = True
                continue
            state, deadline = t.lock_look()
            if state in (LOCK_FREE, LOCK_STALE):
                del self.held[key]  # released, or its holder is gone: try it again
                self.liveness.forget(key)
                self._push(position)
                changed = True
            elif state == LOCK_FAILED:
                self._failed_elsewhere(t, 'its lock is marked as failed')
                changed = True
            else:
                anyone_working = True
                self.liveness.note(key, state, deadline)
        for key, dep in list(self.outside.items()):
            if dep.can_load():
                self._resolve(key)
                changed = True
                continue
            state, deadline = dep.lock_look()
            if state == LOCK_FAILED:
                self._failed_elsewhere(dep, 'its lock is marked as failed')
                changed = True
            elif state == LOCK_FREE:
                self.unheld.add(key)
                self.liveness.forget(key)
            else:
                self.unheld.discard(key)
                anyone_working = True
                self.liveness.note(key, state, deadline)
        return changed, anyone_working

    def _failed_elsewhere(self, t: Task, why: str) -> None:
        key = t.hash()
        self.state.failed_elsewhere[key] = (t.name, why)
        self._mark_failed(key)

    # --- the report --------------------------------------------------------------------
    def _undone(self) -> Undone:
        """Sort the tasks without a result into the categories of :class:`Undone`."""
        undone = Undone()
        undone.gave_up = self.gave_up
        reason: dict = {}  # key -> 'failed', 'blocked', 'waiting' or 'unavailable'
        for key in (*self.failed, *self.state.failed, *self.state.failed_elsewhere):
            reason[key] = 'failed'
        for key in self.held:
            reason[key] = 'waiting'
        for key in self.outside:  # from the last look (no store access: this runs in a
            # `finally`, maybe because the store failed)
            reason[key] = 'unavailable' if key in self.unheld else 'waiting'
        seen = set()
        for i, t in enumerate(self.order):
            key = self.keys[i]
            if key in self.done or key in seen:
                continue
            seen.add(key)
            why = reason.get(key) or self._inherited_reason(t, reason)
            reason[key] = why
            if why == 'failed':
                undone.failed.append((t.name, key, self._failure_why(key)))
            else:
                getattr(undone, why).append((t.name, key))
        return undone

    def _inherited_reason(self, t: Task, reason: dict) -> str:
        """Why ``t`` (not failed, not watched) has no result: from its dependencies."""
        worst = 'unavailable'  # no dependency explains it: a cycle, or an outside task
        for dep in t.dependencies():
            why = reason.get(dep.hash())
            if why in ('failed', 'blocked'):
                return 'blocked'
            if why == 'waiting':
                worst = 'waiting'
        return worst

    def _failure_why(self, key: bytes) -> str:
        if key in self.state.errors:
            return self.state.errors[key][1]
        if key in self.state.failed_elsewhere:
            return self.state.failed_elsewhere[key][1]
        return 'it failed in this run'


class _Liveness:
    """Which holders of watched locks this worker has seen alive.

    A holder is seen alive when the lock's stale deadline (``Task.lock_look``) moves
    forward: it refreshed the lock since the worker began watching it; or when the
    deadline passed well ago (by REFRESH_EVIDENCE) and the store still judges the lock
    held (e.g. a live process of this host).  Just past it is no evidence: a redis lock
    read a moment before the server expires it has a deadline passed by the time it
    is noted.  An overdue (expiring) lock makes its holder unknown again: it may
    have died after it was seen alive.  Past its patience, a worker waits on while
    some holder is not known alive: it may be dead (killed just before), and then its
    lock goes stale within its lease and the worker takes the task over.  Locks
    without a lease (Jug 2.7's) have no deadline and never make a worker wait.
    """

    def __init__(self) -> None:
        self.first: dict = {}   # key -> the first deadline seen
        self.alive: set = set()
        self.unsure = 0         # at the last look: holders not known alive
        self.expiring = 0       # at the last look: locks overdue (LOCK_EXPIRING)
        self.told = False

    def begin_poll(self) -> None:
        self.unsure = self.expiring = 0

    def forget(self, key: bytes) -> None:
        """The lock of `key` was released or went stale: a next holder is another."""
        self.first.pop(key, None)
        self.alive.discard(key)

    def note(self, key: bytes, state: str, deadline: float | None) -> None:
        """What a look at the held lock of `key` found."""
        if deadline is None:
            return
        long_past = time.monotonic() - REFRESH_EVIDENCE
        if state == LOCK_EXPIRING and deadline >= long_past:
            # overdue: a holder seen alive before may have died since
            self.expiring += 1
            self.alive.discard(key)
            self.first[key] = deadline  # a refresh from now on shows it alive again
        elif key in self.alive:
            return
        first = self.first.setdefault(key, deadline)
        if deadline > first + REFRESH_EVIDENCE or deadline < long_past:
            self.alive.add(key)
        else:
            self.unsure += 1

    def keep_waiting(self) -> bool:
        """Whether to wait past the patience (said once per pass)."""
        if not self.unsure:
            return False
        if not self.told:
            logging.info(f'Waiting to see whether the holders of {self.unsure} lock(s) are '
                         f'alive ({self.expiring} of them overdue): a lock not refreshed '
                         'within its lease is taken over.')
            self.told = True
        return True


def _failed_in_run(state: ExecutionState, key: bytes) -> bool:
    """Whether this run saw ``key`` fail (here or elsewhere): it is not retried."""
    return key in state.failed or key in state.failed_elsewhere


def _log_waiting(run: _Pass) -> None:
    held = [run.order[p] for p in run.held.values()]
    if held:
        logging.info(f'No task can be run now: waiting for {len(held)} task(s) locked '
                     f'by other processes (e.g. {held[0].name}).')
    else:
        logging.info(f'No task can be run now: waiting for {len(run.outside)} task(s) '
                     'outside this selection that other processes are running.')
