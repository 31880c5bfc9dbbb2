"""Hooks that make ``jug execute`` stop cleanly (exit status 0) when a limit is reached.

Owns ``exit_if_file_exists``, ``exit_when_true``, ``exit_after_n_tasks``,
``exit_after_time`` and ``exit_env_vars`` (docs/subcommands.rst, "execute").  Each helper only
registers a hook through ``jug.hooks.register``; the state a hook needs (a counter, a
deadline) lives in the hook's closure, so there is no module state here.  Calling a
helper again with the same arguments (e.g. from a jugfile that execute re-runs after a
barrier) registers nothing new, so limits are counted from the first call.

Layer 3: imports ``jug.hooks.register`` and ``jug.errors`` only; never ``jug.jug``,
``jug.options`` or ``jug.subcommands``.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping, Optional

from ..errors import OptionError, StopRequested
from .register import register_hook, register_hook_once

__all__ = [
    'exit_if_file_exists',
    'exit_when_true',
    'exit_after_n_tasks',
    'exit_after_time',
    'exit_env_vars',
]

# The hooks these helpers attach to (see jug.hooks.register._known_hooks).
_PRE_EXECUTE = 'execute.task-pre-execute'
_EXECUTED = 'execute.task-executed1'

# Environment variables read by exit_env_vars (docs/subcommands.rst, "execute").
_ENV_MAX_TASKS = 'JUG_MAX_TASKS'
_ENV_MAX_HOURS = 'JUG_MAX_HOURS'
_ENV_MAX_MINUTES = 'JUG_MAX_MINUTES'
_ENV_MAX_SECONDS = 'JUG_MAX_SECONDS'
_ENV_EXIT_IF_FILE_EXISTS = 'JUG_EXIT_IF_FILE_EXISTS'


def _stop(reason: str) -> None:
    """Leave jug with exit status 0: a limit reached is a normal end, not an error
    (``main`` says why, in one line)."""
    raise StopRequested(reason)


def exit_if_file_exists(fname: str) -> None:
    """Stop before the next task whenever the file ``fname`` exists.

    Usage: ``exit_if_file_exists('__stop_jug.txt')``

    The check runs before each task is executed, so creating the file lets the running
    task finish and stops the process before it starts another one.  Registered once
    per ``fname``.

    Parameters
    ----------
    fname : str
        Path of the file to look for (relative paths are relative to the current
        directory at the time of the check).
    """
    def check_file(task: Any) -> None:
        if os.path.exists(fname):
            _stop(f'the file {fname!r} exists (remove it to let jug execute run tasks)')

    register_hook_once(_PRE_EXECUTE, ('exit_if_file_exists', fname), check_file)


def exit_when_true(f: Callable[..., Any], function_takes_Task: bool = False) -> None:
    """Stop after a task has run whenever ``f()`` (or ``f(task)``) returns something true.

    Usage: ``exit_when_true(lambda: os.path.exists('results-good-enough'))``

    A function without a closure is registered once per code object and flag, so a
    jugfile re-executed by ``jug execute`` does not add it again; a closure (or any
    other callable) is registered on every call.

    Parameters
    ----------
    f : callable
        The condition, called after each successfully executed task.
    function_takes_Task : bool, optional
        If true, ``f`` is called with the task that has just run (default False).
    """
    def check(task: Any) -> None:
        done = f(task) if function_takes_Task else f()
        if done:
            _stop(f'exit_when_true condition {f!r} is true')

    code = getattr(f, '__code__', None)
    if code is not None and getattr(f, '__closure__', None) is None:
        register_hook_once(_EXECUTED, ('exit_when_true', code, function_takes_Task), check)
    else:
        register_hook(_EXECUTED, check)


def exit_after_n_tasks(n: int) -> None:
    """Stop once ``n`` tasks have been executed by this process.

    Usage: ``exit_after_n_tasks(100)``

    Tasks are counted from the first call with this ``n`` (tasks that were only
    loaded do not count).  Registered once per ``n``.

    Parameters
    ----------
    n : int
        Number of tasks to execute before stopping.
    """
    executed = 0

    def count_task(task: Any) -> None:
        nonlocal executed
        executed += 1
        if executed >= n:
            _stop(f'{executed} tasks executed (limit {n})')

    register_hook_once(_EXECUTED, ('exit_after_n_tasks', n), count_task)


def exit_after_time(hours: float = 0, minutes: float = 0, seconds: float = 0) -> None:
    """Stop after the first task that finishes once the given time has elapsed.

    Usage: ``exit_after_time(hours=2, minutes=30)``

    The deadline is fixed by the first call with these arguments; it is checked after
    each executed task, so a long task can run past it.  Registered once per
    ``(hours, minutes, seconds)``.

    Parameters
    ----------
    hours, minutes, seconds : number, optional
        The time limit, added together (all default to 0).
    """
    deadline = time.time() + 3600 * hours + 60 * minutes + seconds

    def check_time(task: Any) -> None:
        if time.time() >= deadline:
            _stop(f'time limit reached ({hours}h {minutes}m {seconds}s)')

    register_hook_once(_EXECUTED, ('exit_after_time', hours, minutes, seconds), check_time)


def _int_from_env(environ: Mapping[str, str], name: str) -> Optional[int]:
    """Return the integer value of ``environ[name]``, or None when unset or empty."""
    text = environ.get(name)
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise OptionError(f'environment variable {name} must be an integer, '
                          f'not {text!r}') from None


def exit_env_vars(environ: Optional[Mapping[str, str]] = None) -> None:
    """Register the exit hooks requested by ``JUG_*`` environment variables.

    Usage: ``exit_env_vars()`` (``jug execute`` calls it unless
    ``--no-check-environment`` is given)

    ``JUG_MAX_TASKS`` → ``exit_after_n_tasks``; ``JUG_MAX_HOURS``,
    ``JUG_MAX_MINUTES`` and ``JUG_MAX_SECONDS`` → one ``exit_after_time`` with their
    sum, if any is non-zero; ``JUG_EXIT_IF_FILE_EXISTS`` → ``exit_if_file_exists``.
    Unset or empty variables are ignored.

    Parameters
    ----------
    environ : mapping, optional
        Where to read the variables (default ``os.environ``).

    Raises
    ------
    jug.errors.OptionError
        If a numeric variable is not an integer.
    """
    if environ is None:
        environ = os.environ
    max_tasks = _int_from_env(environ, _ENV_MAX_TASKS)
    if max_tasks is not None:
        exit_after_n_tasks(max_tasks)
    hours = _int_from_env(environ, _ENV_MAX_HOURS) or 0
    minutes = _int_from_env(environ, _ENV_MAX_MINUTES) or 0
    seconds = _int_from_env(environ, _ENV_MAX_SECONDS) or 0
    if hours or minutes or seconds:
        exit_after_time(hours, minutes, seconds)
    fname = environ.get(_ENV_EXIT_IF_FILE_EXISTS)
    if fname:
        exit_if_file_exists(fname)
