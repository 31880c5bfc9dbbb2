"""``jug invalidate``: forget the results of some tasks and of everything downstream.

Layer 5 (docs/subcommands.rst).  The downstream walk is ``jug.task.downstream``, shared with
the shell's ``invalidate``.  ``--code-changed`` selects the tasks whose result another
version of their function's code computed (``jug.codeversions``); ``--dry-run`` says
what would be forgotten and forgets nothing.
"""
from __future__ import annotations

from collections import defaultdict

from .. import task as _task_module
from ..backends.memoize_store import memoize_store
from ..codeversions import changed_results, task_fingerprint
from ..errors import MissingOptionError
from ..io import print_task_summary_table
from ..options import add_flag
from ..task import downstream
from ..utils import add_task_selection_options, prepare_matcher_from_options
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, Callable

    from ..optionchain import Options
    from ..task import Task


def _code_changed(store: Any, options: Options,
                  matcher: Callable[[str], object] | None) -> set:
    """The hashes of the selected tasks whose result another version of their code
    computed; says how many results of each function have no fingerprint."""
    listed = memoize_store(store, list_base=True)
    finished: defaultdict[str, list] = defaultdict(list)
    for t in _task_module.alltasks:
        if (matcher is None or matcher(t.name)) and listed.can_load(t.hash()):
            finished[t.name].append(t)
    changed, unknown = changed_results(listed, finished)
    for name, count in sorted(unknown.items()):
        results = '1 result of' if count == 1 else f'{count} results of'
        options.print_out(f'{results} {name} {"has" if count == 1 else "have"} no code '
                          'fingerprint (computed by Jug 2.7, or before fingerprints were '
                          'kept): left alone.')
    return {t.hash() for t in changed}


def _forget_old_versions(store: Any, invalid: list) -> None:
    """After ``--code-changed``: the other versions of the functions whose results were
    forgotten have no result left."""
    seen = set()
    for t in invalid:
        current = task_fingerprint(t)
        if current is None or t.name in seen:
            continue
        seen.add(t.name)
        for version in store.code_versions(t.name) - {current}:
            store.forget_code_version(t.name, version)


class InvalidateCommand(SubCommand):
    """Forget results (and everything computed from them)

    invalidate: remove the stored results of the tasks selected by --name, --pattern
    or --code-changed and of every task that depends on them.
    """

    name = 'invalidate'

    def run(self, store: Any, options: Options, *args: Any, **kwargs: Any) -> None:
        matcher = prepare_matcher_from_options(name=options.invalid_name,
                                               pattern=options.invalid_pattern)
        is_root: Callable[[Task], object]
        if options.invalid_code_changed:
            roots = _code_changed(store, options, matcher)
            is_root = lambda t: t.hash() in roots  # noqa: E731
        elif matcher is None:
            raise MissingOptionError('jug invalidate needs --name, --pattern or '
                                     '--code-changed (which tasks to forget)')
        else:
            selected = matcher
            is_root = lambda t: selected(t.name)  # noqa: E731
        invalid = downstream(_task_module.alltasks, is_root)
        if not invalid:
            options.print_out('No results invalidated.')
            return
        name_of = {t.hash(): t.name for t in invalid}
        if options.invalid_dry_run:
            _print_counts(options, 'Would remove', name_of,
                          [key for key in name_of if store.can_load(key)])
            return
        removed = store.remove_many(list(name_of))
        if options.invalid_code_changed:
            _forget_old_versions(store, invalid)
        if not removed:
            options.print_out('Tasks invalidated, but no results removed')
            return
        _print_counts(options, 'Invalidated', name_of, removed)

    def check_arguments(self, parsed: argparse.Namespace) -> str | None:
        """One of --name, --pattern and --code-changed is needed (the first two exclude
        each other; --code-changed goes with either)."""
        if parsed.invalid_name is None and parsed.invalid_pattern is None \
                and not parsed.invalid_code_changed:
            return 'one of the arguments --name --pattern --code-changed is required'
        return None

    def parse(self, parser: argparse._ActionsContainer) -> None:
        add_task_selection_options(parser, 'invalid_name', 'invalid_pattern', False,
                                   'invalidate')
        add_flag(parser, '--code-changed', 'invalid_code_changed',
                 'Select the tasks whose result was computed by another version of their '
                 "function's code (with --name or --pattern: only among those)")
        add_flag(parser, '--dry-run', 'invalid_dry_run',
                 'Only say how many results would be removed')

    def parse_defaults(self) -> dict[str, Any]:
        return {'invalid_name': None, 'invalid_pattern': None, 'invalid_code_changed': False,
                'invalid_dry_run': False}


def _print_counts(options: Options, title: str, name_of: dict, keys: Any) -> None:
    counts: defaultdict[str, int] = defaultdict(int)
    for key in keys:
        counts[name_of[key]] += 1
    print_task_summary_table(options, [(title, counts)])


invalidate = InvalidateCommand()
