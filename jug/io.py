"""Input/output: writing task results to files, and the commands' summary table.

Owns ``NoLoad`` (pass a task without loading its value), the ``write_task_out`` and
``write_metadata`` tasks (docs/utilities.rst), and ``print_task_summary_table`` /
``get_terminal_size`` (docs/subcommands.rst), whose output goes through ``options.print_out``
(docs/architecture.rst).

Layer 3: may import ``jug.task``, ``jug.hash`` and ``jug.backends``; never
``jug.jug``, ``jug.options`` or ``jug.subcommands``.  numpy, yaml and json are imported
where they are used, to keep ``import jug`` cheap.
"""
from __future__ import annotations

import pickle
import sys
import textwrap
import warnings

from .task import Tasklet, TaskGenerator, describe

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import terminal_size
    from typing import IO, Any, Iterable, Mapping, NoReturn, Sequence

    from .task import Task

__all__ = ['NoLoad', 'write_task_out', 'write_metadata']

#: The operation of a NoLoad Tasklet.  It is hashed (as the pickle of this string) and
#: ``jug.barrier`` recognises NoLoad objects by it (docs/hashing.rst), so it must not change.
_NOLOAD_OPERATION = 'NoLoad'


class NoLoad(Tasklet):
    """Pass a task to another task without loading its value.

    Usage: ``summarise(NoLoad(big_task))``; inside, ``value(x.base)`` loads it if needed.

    The receiving function gets this NoLoad object itself, not the value.  ``base``
    is still a dependency: the receiving task runs only once ``base`` has a result.
    Useful when a task needs the identity or the metadata of another one, or wants to
    decide itself whether to load a large result.

    Parameters
    ----------
    base : Task
        The task (or any object) to wrap.

    Attributes
    ----------
    base : Task
        The wrapped task; ``value(x.base)`` loads its value.
    """

    __slots__ = ()
    _jug_no_load = True  # marker read by jug.barrier (which does not import this module)

    def __init__(self, base: Any) -> None:
        super().__init__(base, _NOLOAD_OPERATION)

    def __jug_value__(self) -> NoLoad:
        return self

    def __getitem__(self, index: Any) -> NoReturn:
        raise NotImplementedError('jug.io.NoLoad cannot be indexed; index the task '
                                  'before wrapping it: NoLoad(t[i])')

    @property
    def t(self) -> Any:
        """The wrapped task (deprecated: use ``base``)."""
        warnings.warn('NoLoad.t is deprecated; use NoLoad.base', DeprecationWarning,
                      stacklevel=2)
        return self.base


def _dump_yaml(data: Any, stream: IO[str]) -> None:
    import yaml  # optional package, imported only when used
    yaml.dump(data, stream)


def _dump_json(data: Any, stream: IO[str]) -> None:
    import json
    json.dump(data, stream)


#: Writers of metadata files, by lower-case format name.
_METADATA_WRITERS = {
    'yaml': _dump_yaml,
    'json': _dump_json,
}


def _write_result(result: Any, oname: str) -> None:
    """Write ``result`` to ``oname``: a NumPy array as ``.npy``, anything else pickled."""
    # No array can be here unless numpy was imported already, so do not import it.
    numpy = sys.modules.get('numpy')
    with open(oname, 'wb') as output:
        if numpy is not None and isinstance(result, numpy.ndarray):
            # A file object, not a name: np.save adds no '.npy' suffix to it.
            numpy.save(output, result)
        else:
            pickle.dump(result, output)


@TaskGenerator
def _do_write_task_out(result: Any, result_task: NoLoad, oname: str | None,
                       metadata_fname: str | None, metadata_format: str) -> None:
    """Write ``result`` to ``oname`` and/or the description of its task to a file.

    Usage: not called directly; see ``write_task_out`` and ``write_metadata``.

    Parameters
    ----------
    result : object
        The value to write.
    result_task : NoLoad
        Wraps whatever produced ``result``; ``describe(result_task.base)`` is the
        metadata.
    oname : str or None
        Output file (nothing is written if empty).
    metadata_fname : str or None
        Metadata file (nothing is written if empty).
    metadata_format : str
        ``'yaml'`` or ``'json'`` (any case).

    Raises
    ------
    ValueError
        If metadata is requested in an unknown format.
    """
    if metadata_fname:
        writer = _METADATA_WRITERS.get(metadata_format.lower())
        if writer is None:
            raise ValueError(f'jug.io: unknown metadata format {metadata_format!r} '
                             f'(known: {", ".join(sorted(_METADATA_WRITERS))})')
        with open(metadata_fname, 'w') as output:
            writer(describe(result_task.base), output)
    if oname:
        _write_result(result, oname)


def write_task_out(result: Any, oname: str, metadata_fname: str | None = None,
                   metadata_format: str = 'yaml') -> Task:
    """Return a task that writes the value of ``result`` to a file.

    Usage: ``write_task_out(features, 'features.npy', metadata_fname='features.yaml')``

    NumPy arrays are written in ``.npy`` format (``numpy.load`` reads them back),
    anything else is pickled.  The file name is used as given.

    Parameters
    ----------
    result : Task or object
        The task whose value to write (or a plain value).
    oname : str
        Output file.
    metadata_fname : str, optional
        If given, also write there a description of how ``result`` was computed
        (``jug.task.describe``: task names, arguments, completion time).
    metadata_format : str, optional
        ``'yaml'`` (default, needs PyYAML) or ``'json'``.

    Returns
    -------
    task : Task
        A task named ``jug.io._do_write_task_out``, whose value is None.
    """
    return _do_write_task_out(result, NoLoad(result), oname, metadata_fname, metadata_format)


def write_metadata(result: Any, metadata_fname: str, metadata_format: str = 'yaml') -> Task:
    """Return a task that writes a description of how ``result`` was computed.

    Usage: ``write_metadata(final, 'final.json', metadata_format='json')``

    The description is ``jug.task.describe(result)``: the task name, its arguments
    (described recursively) and, with a file store, when its result was completed.

    Parameters
    ----------
    result : Task
        The task to describe.
    metadata_fname : str
        Output file.
    metadata_format : str, optional
        ``'yaml'`` (default, needs PyYAML) or ``'json'``.

    Returns
    -------
    task : Task
        A task named ``jug.io._do_write_task_out``, whose value is None.
    """
    return _do_write_task_out(result, NoLoad(result), None, metadata_fname, metadata_format)

#: Width of one count column of the summary table.
_CELL_WIDTH = 12
#: Spaces between the last count column and the task name.
_GAP = '  '
#: Name column width used when the terminal is too narrow for a useful one.
_FALLBACK_NAME_WIDTH = 12
#: Indentation of the continuation lines of a wrapped task name.
_WRAP_INDENT = '    '


def get_terminal_size() -> terminal_size:
    """Return the terminal size, ``(80, 25)`` when it cannot be found.

    Usage: ``columns = get_terminal_size().columns``

    The ``COLUMNS`` and ``LINES`` environment variables take precedence (see
    ``shutil.get_terminal_size``).

    Returns
    -------
    size : os.terminal_size
        A named tuple ``(columns, lines)``.
    """
    import shutil  # lazy: it is slow to import, and only tables need it
    return shutil.get_terminal_size((80, 25))


def print_task_summary_table(options: Any,
                             groups: Sequence[tuple[str, Mapping[Any, int]]]) -> None:
    """Print a table of task counts per task name, one column per group.

    Usage: ``print_task_summary_table(options, [('Executed', executed), ('Loaded', loaded)])``

    With ``options.short``, print only one total line per group and a grand total.
    Otherwise print a header, one row per task name (sorted) and a ``Total`` row, sized
    to the terminal.  On a terminal, long names are wrapped onto indented continuation
    lines (as Jug 2.7 does); when standard output is not a terminal (a pipe, a file)
    they are not, so that each name stays on one line for the programs that read it.

    Parameters
    ----------
    options : jug options
        Uses ``options.short`` and writes every line with ``options.print_out``.
    groups : list of (str, dict)
        ``(title, counts)`` pairs, where ``counts`` maps task names to numbers.
        A name missing from a group counts as 0.
    """
    print_out = options.print_out
    if options.short:
        grand_total = 0
        for title, counts in groups:
            total = sum(counts.values())
            grand_total += total
            print_out(f'{title}:  {total} tasks')
        print_out(f'** Total: {grand_total} tasks.')
        return

    width = get_terminal_size().columns - _CELL_WIDTH * len(groups) - 2
    if width <= 8:
        width = _FALLBACK_NAME_WIDTH

    def line(cells: Iterable[Any], name: str) -> str:
        return ''.join(f'{cell!s:>{_CELL_WIDTH}}' for cell in cells) + _GAP + name.ljust(width)

    rule_length = _CELL_WIDTH * len(groups) + len(_GAP) + width
    blank_cells = [''] * len(groups)
    print_out(line([title for title, _ in groups], 'Task name'))
    print_out('-' * rule_length)
    names = sorted(set().union(*(counts.keys() for _, counts in groups)))
    wrap = sys.stdout.isatty()
    for name in names:
        first, *rest = (textwrap.wrap(name, width - len(_WRAP_INDENT)) if wrap else [name]) \
            or ['']
        print_out(line([counts.get(name, 0) for _, counts in groups], first))
        for piece in rest:
            print_out(line(blank_cells, _WRAP_INDENT + piece))
    print_out('.' * rule_length)
    print_out(line([sum(counts.values()) for _, counts in groups], 'Total'))
    print_out()
