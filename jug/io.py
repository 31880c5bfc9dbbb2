"""Output helpers for jug's commands: the per-task-name summary table (SPEC.md §4.4).

Owns ``print_task_summary_table`` and ``get_terminal_size``.  (``NoLoad``,
``write_task_out`` and ``write_metadata`` of SPEC.md §5.6 belong here too and come in a
later change.)  All output goes through ``options.print_out`` (DESIGN.md, habit 6).

Layer 3: may import ``jug.task``, ``jug.hash`` and ``jug.backends``; never
``jug.jug``, ``jug.options`` or ``jug.subcommands``.
"""
import shutil
import textwrap

#: Width of one count column of the summary table.
_CELL_WIDTH = 12
#: Spaces between the last count column and the task name.
_GAP = '  '
#: Name column width used when the terminal is too narrow for a useful one.
_FALLBACK_NAME_WIDTH = 12
#: Indentation of the continuation lines of a wrapped task name.
_WRAP_INDENT = '    '


def get_terminal_size():
    """Return the terminal size, ``(80, 25)`` when it cannot be found.

    Usage: ``columns = get_terminal_size().columns``

    The ``COLUMNS`` and ``LINES`` environment variables take precedence (see
    ``shutil.get_terminal_size``).

    Returns
    -------
    size : os.terminal_size
        A named tuple ``(columns, lines)``.
    """
    return shutil.get_terminal_size((80, 25))


def print_task_summary_table(options, groups):
    """Print a table of task counts per task name, one column per group.

    Usage: ``print_task_summary_table(options, [('Executed', executed), ('Loaded', loaded)])``

    With ``options.short``, print only one total line per group and a grand total.
    Otherwise print a header, one row per task name (sorted; long names are wrapped
    onto indented continuation lines) and a ``Total`` row, sized to the terminal.

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

    def line(cells, name: str) -> str:
        return ''.join(f'{cell!s:>{_CELL_WIDTH}}' for cell in cells) + _GAP + name.ljust(width)

    rule_length = _CELL_WIDTH * len(groups) + len(_GAP) + width
    blank_cells = [''] * len(groups)
    print_out(line([title for title, _ in groups], 'Task name'))
    print_out('-' * rule_length)
    names = sorted(set().union(*(counts.keys() for _, counts in groups)))
    for name in names:
        first, *rest = textwrap.wrap(name, width - len(_WRAP_INDENT)) or ['']
        print_out(line([counts.get(name, 0) for _, counts in groups], first))
        for piece in rest:
            print_out(line(blank_cells, _WRAP_INDENT + piece))
    print_out('.' * rule_length)
    print_out(line([sum(counts.values()) for _, counts in groups], 'Total'))
    print_out()
