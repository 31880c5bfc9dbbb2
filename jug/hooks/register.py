"""The hook registry: named extension points that execute fires (docs/utilities.rst, "Hooks").

``_hooks`` and ``_registered`` are module state kept for compatibility with Jug 2.7;
``reset_all_hooks`` empties them.  Imports nothing from jug.
"""
from __future__ import annotations

import functools

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Hashable, Iterable

#: The hook names execute fires, with the arguments each receives.  Registering any
#: other name is an error, so a typo cannot silently disable a hook.
_known_hooks = (
    'execute.task-loadable',        # (task) a task found already computed
    'execute.task-pre-execute',     # (task) just before a task runs
    'execute.task-executed1',       # (task) after a task ran successfully
    'execute.finished_pre_status',  # () execute is done, before the summary table
    'execute.finished_post_status',  # () after the summary table
)

_hooks: dict[str, list[Callable[..., Any]]] = {name: [] for name in _known_hooks}
_registered: set[tuple[str, Hashable]] = set()


def _check_name(name: str) -> None:
    if name not in _hooks:
        raise ValueError(f'jug.hooks: unknown hook {name!r} '
                         f'(known hooks: {", ".join(_known_hooks)})')


def register_hook(name: str, f: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """Call ``f`` whenever the hook ``name`` fires (registering twice calls it twice).

    Usage: ``register_hook('execute.task-executed1', f)`` or as a decorator,
    ``@register_hook('execute.task-executed1')``.
    """
    _check_name(name)
    if f is None:
        return functools.partial(register_hook, name)
    _hooks[name].append(f)
    return f


def register_hook_once(name: str, code: Hashable, f: Callable[..., Any] | None
                       ) -> Callable[..., Any] | None:
    """Register ``f`` on ``name`` only the first time the pair ``(name, code)`` is seen.

    Usage: ``register_hook_once('execute.task-executed1', 'my-counter', f)``; with
    ``f=None`` (first time only) it returns a decorator.
    """
    _check_name(name)
    key = (name, code)
    if key in _registered:
        if f is None:
            raise NotImplementedError('register_hook_once: a repeated registration '
                                      'cannot be used as a decorator')
        return None
    _registered.add(key)
    return register_hook(name, f)


def unregister_hook(name: str, f: Callable[..., Any]) -> None:
    """Remove one registration of ``f`` from the hook ``name`` (no error if absent).

    Usage: ``unregister_hook('execute.task-executed1', f)``
    """
    _check_name(name)
    subscribers = _hooks[name]
    if f in subscribers:
        subscribers.remove(f)


def jug_hook(name: str, args: Iterable[Any] = (), kwargs: dict[str, Any] | None = None
             ) -> list[Any]:
    """Fire the hook ``name``; return the list of the registered functions' results.

    Usage: ``jug_hook('execute.task-executed1', (task,))``
    """
    _check_name(name)
    if kwargs is None:
        kwargs = {}
    return [f(*args, **kwargs) for f in _hooks[name]]


def reset_all_hooks() -> None:
    """Remove every registered hook, and forget which ``register_hook_once`` calls ran."""
    for functions in _hooks.values():
        functions.clear()
    _registered.clear()
