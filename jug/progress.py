"""What ``jug execute`` shows while it runs: a live progress line, or plain lines.

Layer 4 (runtime; ``docs/subcommands.rst``, "execute").  :class:`Progress` counts, from
the execute hooks, the tasks of this run that are done (run here, or found done) and
reads the failures from the run's :class:`jug.scheduler.ExecutionState`; a *display*
shows it:

* on a terminal (standard error is one), :class:`LineDisplay` redraws one line in
  place, at most ten times a second and at least every half second (a thread keeps the
  elapsed time and the ETA moving while a long task runs), and clears it at the end,
  where the summary table follows; a log message clears it first, and what the tasks
  print goes above it (whole lines: a partial line waits for its end), so that the two
  never mix;
* off a terminal, nothing, unless ``--progress`` asks for :class:`PlainDisplay`:
  timestamped lines, one every few seconds while something changes.

The workers of ``jug execute -j`` show nothing themselves: each writes its counts to a
file (:class:`SnapshotDisplay`) that the parent reads and combines (:func:`combine`)
into its own line; what they print to the terminal, the parent relays above its line
(:meth:`LineDisplay.write_above`).

Imports the standard library and ``jug.hooks``; the counts of tasks come from the
run's ``ExecutionState`` (``jug.scheduler``).
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

from .hooks import register_hook
from .hooks.register import unregister_hook

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TextIO

    from .scheduler import ExecutionState
    from .task import Task

__all__ = ['Progress', 'Counts', 'LineDisplay', 'PlainDisplay', 'SnapshotDisplay',
           'combine', 'choose_display', 'shows_line', 'snapshot_path', 'read_snapshot']

#: Shortest time between two redraws of the live line, and longest (seconds).
LINE_MIN_INTERVAL = 0.1
LINE_MAX_INTERVAL = 0.5
#: Shortest time between two plain lines (``--progress`` off a terminal), in seconds.
PLAIN_INTERVAL = 5.0
#: Shortest time between two snapshots written by a worker of ``-j``, in seconds.
SNAPSHOT_INTERVAL = 0.5
#: Erase the current terminal line and go back to its start.
_CLEAR = '\r\x1b[K'


class Counts:
    """Where a run is: tasks done, failed and in all, what runs now, since when."""

    __slots__ = ('done', 'executed', 'failed', 'failed_here', 'total', 'running', 'started')

    def __init__(self, done: int = 0, executed: int = 0, failed: int = 0, total: int = 0,
                 running: str | None = None, started: float | None = None) -> None:
        self.done = done
        self.executed = executed
        self.failed = failed
        self.failed_here = failed  # failed in this worker (the others: failed elsewhere)
        self.total = total
        self.running = running
        self.started = time.monotonic() if started is None else started

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__ if name != 'started'}

    def describe(self) -> str:
        """``45/101 tasks done, 3 failed, 12.3 tasks/s, ETA 0:05, running mod.f``."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        parts = [f'{self.done}/{self.total} tasks done']
        if self.failed:
            parts.append(f'{self.failed} failed')
        if self.executed:
            rate = self.executed / elapsed
            parts.append(f'{rate:.1f} tasks/s' if rate >= 1 else f'{1 / rate:.1f} s/task')
            left = max(self.total - self.done - self.failed, 0)
            parts.append(f'ETA {_duration(left / rate)}')
        else:
            parts.append(f'{_duration(elapsed)} elapsed')
        if self.running:
            parts.append(f'running {self.running}')
        return ', '.join(parts)


def _duration(seconds: float) -> str:
    """``0:05``, ``12:30``, ``3:02:07``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f'{hours}:{minutes:02d}:{seconds:02d}' if hours else f'{minutes}:{seconds:02d}'


def combine(snapshots: list, started: float | None = None) -> Counts:
    """The counts of a whole ``-j`` run (started at `started`, ``time.monotonic()``)
    from its workers' snapshots (dicts).

    Each worker counts what it ran and what it found done; what one ran, the others
    find done later, so the tasks done are at least the most any worker saw and at
    least what they all ran.
    """
    counts = Counts(started=started)
    counts.total = max((s.get('total', 0) for s in snapshots), default=0)
    counts.executed = sum(s.get('executed', 0) for s in snapshots)
    seen = max((s.get('done', 0) for s in snapshots), default=0)
    counts.done = min(max(seen, counts.executed), counts.total or seen)
    # a task failed in one worker is "failed elsewhere" in the others: count it once
    counts.failed = max(sum(s.get('failed_here', 0) for s in snapshots),
                        max((s.get('failed', 0) for s in snapshots), default=0))
    running = [s['running'] for s in snapshots if s.get('running')]
    counts.running = running[0] + (f' (+{len(running) - 1} more)' if len(running) > 1 else '') \
        if running else None
    return counts


class Progress:
    """Counts the progress of one ``jug execute`` run and shows it on `display`.

    Usage: ``progress = Progress(display, state); ...; progress.close()``
    """

    def __init__(self, display: Any, state: ExecutionState) -> None:
        self.display = display
        self.state = state
        self.counts = Counts()
        self.pass_seen = state.passes
        self._hooks = [('execute.task-loadable', self._done),
                       ('execute.task-executed1', self._executed),
                       ('execute.task-pre-execute', self._starts)]
        for name, f in self._hooks:
            register_hook(name, f)

    def _refresh(self) -> Counts:
        counts, state = self.counts, self.state
        counts.total = state.pass_tasks
        counts.failed_here = len(state.failed)
        counts.failed = counts.failed_here + len(state.failed_elsewhere)
        return counts

    def _done(self, t: Task) -> None:
        if self.state.passes != self.pass_seen:  # a new pass (after a barrier) counts
            self.pass_seen = self.state.passes   # its tasks afresh
            self.counts.done = 0
        self.counts.done += 1
        self.display.show(self._refresh())

    def _executed(self, t: Task) -> None:
        self.counts.executed += 1  # (what ran stays shown until the next task starts)
        self._done(t)

    def _starts(self, t: Task) -> None:
        self.counts.running = t.name
        self.display.show(self._refresh())

    def close(self) -> None:
        """Stop counting, and end the display (the summary follows)."""
        for name, f in self._hooks:
            unregister_hook(name, f)
        self._hooks = []
        self.counts.running = None
        self.display.close(self._refresh())


class _Pace:
    """Lets something through at most once per `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last = 0.0

    def due(self, force: bool = False) -> bool:
        """Whether it may happen now (always if `force`); if so, it counts as done."""
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.last = now
            return True
        return False

    def quiet_for(self, seconds: float) -> bool:
        """Whether nothing was let through for `seconds`."""
        return time.monotonic() - self.last >= seconds


class LineDisplay:
    """One line on a terminal, redrawn in place (see the module docstring)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.lock = threading.RLock()
        self.counts: Counts | None = None
        self.drawn = False
        self.pace = _Pace(LINE_MIN_INTERVAL)
        self.stopped = threading.Event()
        self.filter = _ClearFirst(self)
        logging.getLogger().addFilter(self.filter)  # jug logs on the root logger
        self.outputs = [_AboveTheLine(self, name) for name in ('stdout', 'stderr')
                        if _is_terminal(getattr(sys, name))]
        self.thread = threading.Thread(target=self._tick, name='jug-progress', daemon=True)
        self.thread.start()

    def show(self, counts: Counts, force: bool = False) -> None:
        with self.lock:
            self.counts = counts
            if self.pace.due(force):
                self._draw()

    def _draw(self) -> None:
        assert self.counts is not None
        width = _columns(self.stream) - 1
        text = 'jug: ' + self.counts.describe()
        if len(text) > width:
            text = text[:max(width - 3, 0)] + '...'
        self.stream.write(_CLEAR + text)
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        """Erase the line (before something else is written)."""
        with self.lock:
            if self.drawn:
                self.stream.write(_CLEAR)
                self.stream.flush()
                self.drawn = False

    def write_above(self, write: Callable[[], Any]) -> None:
        """Clear the line, call `write` (which writes whole lines), draw the line again."""
        with self.lock:
            self.clear()
            write()
            if self.counts is not None:
                self._draw()

    def _tick(self) -> None:
        while not self.stopped.wait(LINE_MAX_INTERVAL):
            with self.lock:
                if self.counts is not None and self.pace.quiet_for(LINE_MAX_INTERVAL):
                    self.show(self.counts, force=True)

    def close(self, counts: Counts) -> None:
        """Draw the final counts (a redraw may have been skipped as too soon after the
        last one), then clear the line for the summary."""
        self.stopped.set()
        self.thread.join()
        logging.getLogger().removeFilter(self.filter)
        self.show(counts, force=True)
        self.clear()
        self.counts = None  # (not drawn again)
        for output in self.outputs:
            output.restore()


class _AboveTheLine:
    """Stands for ``sys.stdout`` or ``sys.stderr`` (a terminal) while a
    :class:`LineDisplay` is shown: whole lines written to it go above the line, a
    partial line waits for its end (or for :meth:`restore`)."""

    def __init__(self, display: LineDisplay, name: str) -> None:
        self._display = display
        self._name = name
        self._stream = getattr(sys, name)
        self._partial = ''
        setattr(sys, name, self)

    def write(self, text: str) -> int:
        lines, newline, self._partial = (self._partial + text).rpartition('\n')
        if newline:
            self._display.write_above(lambda: self._write(lines + newline))
        return len(text)

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def restore(self) -> None:
        """Put the stream back (writing what is left of a partial line)."""
        if getattr(sys, self._name) is self:
            setattr(sys, self._name, self._stream)
        if self._partial:
            self._display.write_above(lambda: self._write(self._partial))
            self._partial = ''

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _ClearFirst(logging.Filter):
    """Clears the progress line before a log message is written (passes everything)."""

    def __init__(self, display: LineDisplay) -> None:
        super().__init__()
        self.display = display

    def filter(self, record: logging.LogRecord) -> bool:
        self.display.clear()
        return True


def _columns(stream: Any) -> int:
    """The width of the terminal of `stream` (80 if it does not say)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return columns if columns >= 20 else 80


class PlainDisplay:
    """Timestamped lines (``--progress`` off a terminal), one per
    :data:`PLAIN_INTERVAL` at most, and one at the end."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.pace = _Pace(PLAIN_INTERVAL)
        self.said = ''

    def show(self, counts: Counts) -> None:
        if self.pace.due():
            self._say(counts)

    def _say(self, counts: Counts) -> None:
        text = counts.describe()
        if text != self.said:
            self.said = text
            self.stream.write(f'{time.strftime("%Y-%m-%d %H:%M:%S")} jug: {text}\n')
            self.stream.flush()

    def close(self, counts: Counts) -> None:
        self._say(counts)


class SnapshotDisplay:
    """A worker of ``-j`` writes its counts to `path` (JSON, replaced atomically) for
    the parent to combine."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pace = _Pace(SNAPSHOT_INTERVAL)

    def show(self, counts: Counts) -> None:
        if self.pace.due():
            self.write(counts)

    def write(self, counts: Counts) -> None:
        temp = f'{self.path}.{os.getpid()}.new'
        try:
            with open(temp, 'w', encoding='utf-8') as f:
                json.dump(counts.to_dict(), f)
            os.replace(temp, self.path)
        except OSError:
            pass  # informative only

    def close(self, counts: Counts) -> None:
        self.write(counts)


def snapshot_path(report: str) -> str:
    """Where the worker of ``-j`` whose summary goes to `report` writes its counts."""
    return report + '.progress'


def read_snapshot(path: str) -> dict | None:
    """The counts a worker of ``-j`` wrote to `path` (None if none yet)."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def choose_display(plain_asked: bool, stream: TextIO | None = None) -> Any:
    """The display of a worker: the live line on a terminal, plain lines if asked
    (``--progress``), else None (nothing)."""
    stream = sys.stderr if stream is None else stream
    if shows_line(stream):
        return LineDisplay(stream)
    return PlainDisplay(stream) if plain_asked else None


def shows_line(stream: TextIO | None = None) -> bool:
    """Whether :func:`choose_display` gives the live line for `stream` (standard error)."""
    return _is_terminal(sys.stderr if stream is None else stream)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get('TERM') != 'dumb'
    except (AttributeError, ValueError):
        return False
