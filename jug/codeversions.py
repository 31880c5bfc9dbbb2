"""Code fingerprints: which version of a task's function computed a stored result.

Layer 3 (``docs/failures.rst``, "Code changes").  A result is keyed by the hash of
the task's function *name* and arguments, never by its code: after a function is
edited, its old results still count as done.  To make that visible, ``jug execute``
puts in each run record the *fingerprint* of the function's code (:func:`fingerprint`:
a digest of its source text, or of its compiled code when there is no source), and
tells the store which fingerprints computed results (``store.note_code_version``),
so that ``jug status`` learns in one look per function whether any result may be
out of date (:func:`code_change_notes`), and ``jug invalidate --code-changed`` finds
exactly those results (:func:`changed_results`).  Nothing is ever invalidated
automatically.  Results without a fingerprint (computed by Jug 2.7, or before this
existed) are *unknown*.

Only the task's own function is fingerprinted, not the functions it calls.

Imports only the standard library; tasks and stores are used through their methods.
"""
from __future__ import annotations

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

__all__ = ['fingerprint', 'task_fingerprint', 'note_version', 'changed_results',
           'code_change_notes']

#: Hex digits of a fingerprint.
FINGERPRINT_LENGTH = 16

_fingerprints: dict = {}  # function -> fingerprint (or None): computed once per process


def fingerprint(function: Any) -> str | None:
    """Return the fingerprint of `function`'s code, or None if it has no code (a
    builtin, a callable object).

    Usage: ``fingerprint(jugfile.process)``

    A digest of the function's source text (so that a new Python version, which
    compiles differently, changes nothing); of its compiled code when the source
    cannot be found (a function typed at an interactive prompt).
    """
    try:
        return _fingerprints[function]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable
        return _compute(function)
    value = _fingerprints[function] = _compute(function)
    return value


def _compute(function: Any) -> str | None:
    import hashlib
    import inspect
    try:
        data = inspect.getsource(function).encode('utf-8')
    except (OSError, TypeError):
        code = getattr(function, '__code__', None)
        if code is None:
            return None
        import marshal
        data = marshal.dumps(code)
    return hashlib.sha1(data).hexdigest()[:FINGERPRINT_LENGTH]


def task_fingerprint(t: Any) -> str | None:
    """The fingerprint of the function a task runs (None for what runs no function)."""
    function = getattr(t, 'f', None)
    return None if function is None else fingerprint(function)


def note_version(store: Any, record: dict) -> None:
    """Tell `store` the code version of a run record about to run (once per process,
    store and version; a store that cannot note it only warns, once)."""
    code = record.get('code')
    if code is None:
        return
    noted = store.__dict__.setdefault('_noted_code_versions', set())
    if (record['name'], code) in noted:
        return
    noted.add((record['name'], code))
    try:
        store.note_code_version(record['name'], code)
    except Exception as e:
        import logging
        logging.warning(f'Could not note the code version of {record["name"]}: {e}')


def _with_fingerprints(finished: dict) -> Iterator[tuple]:
    """``(name, fingerprint now, tasks)`` of the function groups of `finished` (name →
    finished tasks) whose function has a fingerprint (from the group's first task)."""
    for name, tasks in finished.items():
        current = task_fingerprint(tasks[0]) if tasks else None
        if current is not None:
            yield name, current, tasks


def changed_results(store: Any, finished: dict) -> tuple[list, dict]:
    """Find the finished tasks whose result another version of their code computed.

    Usage: ``changed, unknown = changed_results(store, {'jugfile.f': [t1, t2]})``

    Parameters
    ----------
    store : store
    finished : dict
        Function (task) name → the finished tasks of that name.

    Returns
    -------
    changed : list of Task
        Those whose run record names another fingerprint than their code's now.
    unknown : dict
        Function name → how many results have no fingerprint (no record, or a record
        without one).
    """
    changed: list = []
    unknown: dict = {}
    for name, current, tasks in _with_fingerprints(finished):
        for t in tasks:
            record = store.load_record(t.hash())
            code = record.get('code') if isinstance(record, dict) else None
            if code is None:
                unknown[name] = unknown.get(name, 0) + 1
            elif code != current:
                changed.append(t)
    return changed, unknown


def code_change_notes(store: Any, finished: dict) -> list:
    """What ``jug status`` says about code changes: one line per function some of whose
    results another version of its code computed (none if there is nothing to say).

    Usage: ``for line in code_change_notes(store, finished): print_out(line)``

    One look at the store's code versions per function (`finished`: name → finished
    tasks); the run records are read only for functions with another version.
    """
    notes = []
    for name, current, tasks in _with_fingerprints(finished):
        if not store.code_versions(name) - {current}:
            continue
        changed, _ = changed_results(store, {name: tasks})
        if changed:
            results = '1 result' if len(changed) == 1 else f'{len(changed)} results'
            notes.append(f'{results} of {name} computed by another version of its code '
                         f'(`jug invalidate --code-changed --name {name}` forgets them, '
                         'and what depends on them).')
    return notes
