"""Timing of executed tasks, reported when ``jug execute`` finishes.

Owns ``TimeTasks`` and ``register_time_tasks`` (docs/utilities.rst, "Hooks").  The timer object
is created by ``register_time_tasks`` and kept alive only by the hooks it registers, so
this module holds no state of its own (docs/architecture.rst).

Layer 3: imports ``jug.hooks.register`` only; never ``jug.jug``, ``jug.options`` or
``jug.subcommands``.  ``print_summary`` writes with ``print``, as Jug 2.7 does for
the timing hook.
"""
from __future__ import annotations

import time
from collections import defaultdict

from .register import register_hook_once

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ['TimeTasks', 'register_time_tasks']

#: The ``register_hook_once`` code shared by the three hooks of ``register_time_tasks``.
_REGISTRATION_CODE = 'register_time_tasks'

_SUMMARY_HEADER = 'TIMES'


class TimeTasks:
    """Collect how long each executed task took, by task name.

    Usage::

        timer = TimeTasks()
        timer.start(task); task.run(); timer.stop(task)
        timer.print_summary()

    Attributes
    ----------
    times : defaultdict(list)
        Task name → list of durations in seconds.
    start_time : float or None
        When the task being timed started (``time.time()``).
    """

    def __init__(self) -> None:
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.start_time: float | None = None

    def start(self, t: Any) -> None:
        """Note that task ``t`` starts now.

        Usage: ``timer.start(t)``
        """
        self.start_time = time.time()

    def stop(self, t: Any) -> None:
        """Record the time since the last ``start`` as a duration of ``t.name``.

        Usage: ``timer.stop(t)``
        """
        # (``start`` ran first: ``start_time`` is a float here)
        self.times[t.name].append(time.time() - self.start_time)  # type: ignore[operator]

    def print_summary(self) -> None:
        """Print, per task name, the mean duration and the number of tasks.

        Usage: ``timer.print_summary()``

        The format is a ``TIMES`` header, a dashed line, then one line per name
        (sorted): ``"{name:20} {mean:.2f}s ({n} tasks)"``.
        """
        print(_SUMMARY_HEADER)
        print('-' * len(_SUMMARY_HEADER))
        for name in sorted(self.times):
            durations = self.times[name]
            mean = sum(durations) / len(durations)
            print(f'{name:20} {mean:.2f}s ({len(durations)} tasks)')


def register_time_tasks() -> None:
    """Time every task ``jug execute`` runs and print a summary when it finishes.

    Usage: put ``register_time_tasks()`` in the jugfile.

    Registered once: calling it again (e.g. from a jugfile re-executed after a
    barrier) neither times tasks twice nor prints the summary twice.
    """
    timer = TimeTasks()
    register_hook_once('execute.task-pre-execute', _REGISTRATION_CODE, timer.start)
    register_hook_once('execute.task-executed1', _REGISTRATION_CODE, timer.stop)
    register_hook_once('execute.finished_post_status', _REGISTRATION_CODE,
                       timer.print_summary)
