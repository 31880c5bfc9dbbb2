"""The summary of a ``jug execute`` run: what ran, what was found done, what failed and
what was left undone and why.

Layer 4 (runtime).  A worker builds its :class:`RunSummary` from the counts of its
``TaskStats`` and its :class:`jug.scheduler.ExecutionState`; ``jug execute -j N``
merges the summaries its workers send as JSON (:meth:`RunSummary.merge`) and prints
one.  Imports only ``jug.io`` (the summary table).
"""
from __future__ import annotations

from collections import defaultdict

from .io import print_task_summary_table

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

    from .scheduler import ExecutionState

__all__ = ['RunSummary']

#: How many failed tasks the summary lists one by one (``jug status --failed``: all).
MAX_FAILED_LISTED = 10
#: How many task names a summary line lists before "...".
MAX_NAMES_LISTED = 5
#: Characters of a task hash shown to people.
SHORT_HASH = 12


def _text(key: Any) -> str:
    return key.decode('utf-8', 'replace') if isinstance(key, bytes) else str(key)


class RunSummary:
    """What one run of ``jug execute`` (one worker, or all the workers of ``-j``) did.

    Attributes
    ----------
    executed, loaded : dict
        Task name → how many tasks of that name this run executed, or found done.
    executed_keys, loaded_keys : dict or None
        Task name → list of their hashes (only when the summary is to be merged).
    failed : list of [name, key, why]
        Failed tasks (here, elsewhere, or with a failed lock), with the error.
    blocked, waiting, unavailable : list of [name, key]
        Tasks left undone: depending on failed tasks; held by other processes (or
        depending on such); depending on tasks nobody runs (see ``jug.scheduler.Undone``).
    gave_up : bool
        Whether waiting for other processes timed out.
    raised : bool
        Whether a task raised in this run (only possible with ``--keep-going``).
    stopped : str or None
        Why the run stopped before the end (``--stop-after``, a ``JUG_MAX_*`` limit,
        the stop file), if it did: what it left is for the next run, not undone.
    """

    def __init__(self) -> None:
        self.executed: dict = {}
        self.loaded: dict = {}
        self.executed_keys: dict | None = None
        self.loaded_keys: dict | None = None
        self.failed: list = []
        self.blocked: list = []
        self.waiting: list = []
        self.unavailable: list = []
        self.gave_up = False
        self.raised = False
        self.stopped: str | None = None

    @classmethod
    def of_worker(cls, stats: Any, state: ExecutionState, raised: bool,
                  stopped: str | None = None) -> RunSummary:
        """Build the summary of this worker's run from its ``TaskStats`` and state
        (`stopped`: why it stopped before the end, if it did)."""
        summary = cls()
        summary.executed = dict(stats.executed)
        summary.loaded = dict(stats.loaded)
        if stats.keys is not None:
            summary.executed_keys = {name: [_text(k) for k in keys]
                                     for name, keys in stats.keys['executed'].items()}
            summary.loaded_keys = {name: [_text(k) for k in keys]
                                   for name, keys in stats.keys['loaded'].items()}
        undone = None if stopped is not None else state.undone
        if undone is not None:
            summary.failed = [[name, _text(key), why] for name, key, why in undone.failed]
            for field in ('blocked', 'waiting', 'unavailable'):
                setattr(summary, field, [[name, _text(key)]
                                         for name, key in getattr(undone, field)])
            summary.gave_up = undone.gave_up
        summary.raised = raised
        summary.stopped = stopped
        return summary

    # --- passing between processes -------------------------------------------------------
    def to_json(self) -> str:
        """Return the summary as JSON (what a ``-j`` worker sends to its parent)."""
        import json  # lazy: only workers of -j need it
        return json.dumps(vars(self))

    @classmethod
    def from_json(cls, text: str) -> RunSummary:
        """Rebuild a summary from :meth:`to_json`'s output."""
        import json  # lazy: only -j needs it
        summary = cls()
        for field, value in json.loads(text).items():
            if hasattr(summary, field):
                setattr(summary, field, value)
        return summary

    @classmethod
    def merge(cls, summaries: list) -> RunSummary:
        """Combine the summaries of workers that ran the same jugfile at the same time.

        Each task is counted once: executed by whichever worker ran it, loaded only if
        no worker of the run executed it; a task left undone by one worker but done
        by another is not undone.
        """
        merged = cls()
        done: set = set()
        for name, keys in _union(s.executed_keys for s in summaries).items():
            merged.executed[name] = len(keys)
            done.update(keys)
        for name, keys in _union(s.loaded_keys for s in summaries).items():
            keys -= done
            if keys:
                merged.loaded[name] = len(keys)
        for s in summaries:
            done.update(k for keys in (s.loaded_keys or {}).values() for k in keys)
        failed: dict = {}
        for s in summaries:
            for name, key, why in s.failed:
                if key not in done and (key not in failed or s.raised):
                    failed[key] = [name, key, why]  # the worker that ran it knows best
        merged.failed = list(failed.values())
        seen = set(failed)
        for field in ('blocked', 'waiting', 'unavailable'):
            entries = []
            for s in summaries:
                for name, key in getattr(s, field):
                    if key not in done and key not in seen:
                        seen.add(key)
                        entries.append([name, key])
            setattr(merged, field, entries)
        merged.gave_up = any(s.gave_up for s in summaries)
        merged.raised = any(s.raised for s in summaries)
        merged.stopped = next((s.stopped for s in summaries if s.stopped), None)
        return merged

    # --- for people ----------------------------------------------------------------------
    def exit_code(self) -> int:
        """1 if a task raised, or tasks are left undone because tasks failed; else 0."""
        return 1 if self.raised or self.failed or self.blocked else 0

    def print(self, options: Any) -> None:
        """Print the Executed/Loaded table, then what failed or was left undone."""
        print_task_summary_table(options, [('Executed', _counts(self.executed)),
                                           ('Loaded', _counts(self.loaded))])
        for line in self.report_lines():
            options.print_out(line)

    def report_lines(self) -> list:
        """Lines saying what failed and what was left undone, and why (none if nothing)."""
        lines = []
        if self.failed:
            lines.append(f'{_tasks(len(self.failed))} failed:')
            for name, key, why in self.failed[:MAX_FAILED_LISTED]:
                lines.append(f'    {name} {key[:SHORT_HASH]}: {why}')
            if len(self.failed) > MAX_FAILED_LISTED:
                lines.append(f'    ... and {len(self.failed) - MAX_FAILED_LISTED} more '
                             '(jug status --failed lists them all)')
        if self.blocked:
            one = len(self.blocked) == 1
            lines.append(f'{_tasks(len(self.blocked))} {"depends" if one else "depend"} on '
                         f'failed tasks and {"was" if one else "were"} not run: '
                         f'{_by_name(self.blocked)}.')
        if self.waiting:
            start = 'Gave up waiting for' if self.gave_up else 'Left to other processes:'
            lines.append(f'{start} {_tasks(len(self.waiting))} held by other processes, or '
                         f'depending on such: {_by_name(self.waiting)}.')
        if self.unavailable:
            lines.append(f'{_tasks(len(self.unavailable))} could not run: waiting for tasks '
                         'not selected to run here (--name/--pattern) that nobody is running, '
                         f'or for each other: {_by_name(self.unavailable)}.')
        if self.stopped:
            lines.append(f'Stopped before the end ({self.stopped}): the next jug execute '
                         'goes on.')
        return lines


def _union(mappings: Iterable[dict | None]) -> dict:
    """Name → set of keys, over several name → list-of-keys mappings (None skipped)."""
    union: dict = {}
    for mapping in mappings:
        for name, keys in (mapping or {}).items():
            union.setdefault(name, set()).update(keys)
    return union


def _counts(counts: dict) -> defaultdict[Any, int]:
    return defaultdict(int, counts)  # the table reads missing names as 0


def _tasks(n: int) -> str:
    return '1 task' if n == 1 else f'{n} tasks'


def _by_name(entries: list) -> str:
    """``'mod.f (3), mod.g (1)'`` for ``[[name, key], ...]``, the most frequent first."""
    counts: dict = {}
    for name, *_ in entries:
        counts[name] = counts.get(name, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    text = ', '.join(f'{name} ({n})' for name, n in ranked[:MAX_NAMES_LISTED])
    return text + (', ...' if len(ranked) > MAX_NAMES_LISTED else '')
