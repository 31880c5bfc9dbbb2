"""``jug graph``: draw the task graph (one node per task name) with graphviz.

Layer 5 (docs/subcommands.rst).  The ``.dot`` text is written by this module; the
picture is drawn by graphviz's ``dot`` program, run as a subprocess.  The counts are
the status view of ``jug status`` (``jug.statusview``).  A missing or failing ``dot``
is an error (exit 1) whose message says how to install graphviz; Jug 2.7 only
printed a hint and exited 0.
"""
from __future__ import annotations

import html
import os
import shutil
import subprocess

from .. import task as _task_module
from ..errors import GraphvizError
from ..options import add_flag
from ..statusview import view_of_tasks
from ..task import base_task
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, Iterable

    from ..optionchain import Options
    from ..statusview import StatusView
    from ..task import Task

#: How to get the ``dot`` program, shown when it is missing.
GRAPHVIZ_HINT = ('Install graphviz, which provides it: e.g. `sudo apt-get install graphviz` '
                 '(Debian/Ubuntu), `brew install graphviz` (macOS) or '
                 '`conda install graphviz`; see https://graphviz.org/download/')


#: Jug 2.7's name of ``jug.task.base_task`` here.
handle_tasklet = base_task


def _quote(name: str) -> str:
    """A graphviz quoted identifier."""
    return '"' + name.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _label(name: str, ts: StatusView) -> str:
    """The HTML-like label: the name, then the counts of each state (stale ones,
    ``S``, only when there are some)."""
    counts = (f'{ts.failed[name]}F {ts.waiting[name]}W {ts.ready[name]}R '
              f'{ts.running[name]}A {ts.finished[name]}C')
    if ts.stale[name]:
        counts += f' {ts.stale[name]}S'
    return (f'<<table border="0" cellborder="0">'
            f'<tr><td><b>{html.escape(name)}</b></td></tr>'
            f'<tr><td>{counts}</td></tr></table>>')


def dot_text(tasks: Iterable[Task], ts: StatusView | None = None) -> str:
    """Return the ``.dot`` text for ``tasks``; ``ts`` (a ``StatusView``) adds counts.

    One node per distinct task name, in first-seen order, each followed by the
    (deduplicated) edges from the names of its dependencies.
    """
    names = []
    edges: dict[str, list[str]] = {}
    for t in tasks:
        if t.name not in edges:
            names.append(t.name)
            edges[t.name] = []
        into = edges[t.name]
        for dep in t.dependencies():
            dep_name = handle_tasklet(dep).name
            if dep_name not in into:
                into.append(dep_name)
    lines = ['digraph {']
    for name in names:
        if ts is None:
            lines.append(f'    {_quote(name)}')
        else:
            lines.append(f'    {_quote(name)} [label={_label(name, ts)}]')
        for dep_name in edges[name]:
            lines.append(f'    {_quote(dep_name)} -> {_quote(name)}')
    lines.append('}')
    return '\n'.join(lines) + '\n'


def _run_dot(dotfile: str, fmt: str, output: str) -> None:
    dot = shutil.which('dot')
    if dot is None:
        raise GraphvizError(f'wrote {dotfile}, but drawing it needs the `dot` '
                            f'program of graphviz, which was not found. {GRAPHVIZ_HINT}')
    try:
        proc = subprocess.run([dot, dotfile, f'-T{fmt}', '-o', output],
                              capture_output=True, text=True)
    except OSError as e:
        raise GraphvizError(f'could not run graphviz\'s {dot}: {e}')
    if proc.returncode != 0:
        detail = proc.stderr.strip() or f'exit code {proc.returncode}'
        raise GraphvizError(f'graphviz\'s `dot` failed to draw {dotfile} as {fmt!r}: {detail}')


class GraphCommand(SubCommand):
    """Draw the task graph with its states (graphviz)

    graph: write <jugfile>.dot (one node per task name, with counts of failed, waiting,
    ready, active and complete tasks) and draw it with graphviz's `dot` as
    <jugfile>.<format>.
    """

    name = 'graph'

    def run(self, store: Any, options: Options, *args: Any, **kwargs: Any) -> int:
        tasks = _task_module.alltasks
        ts = None if options.graph_no_status else view_of_tasks(tasks, store)
        base = os.path.splitext(options.jugfile)[0]
        dotfile = base + '.dot'
        with open(dotfile, 'w', encoding='utf-8') as f:
            f.write(dot_text(tasks, ts))
        fmt = options.graph_format
        output = f'{base}.{fmt}'
        _run_dot(dotfile, fmt, output)
        options.print_out(f'Wrote {dotfile} and {output}')
        return 0

    def parse(self, parser: argparse._ActionsContainer) -> None:
        add_flag(parser, '--no-status', dest='graph_no_status',
                 help='Do not show the counts of tasks in each state')
        parser.add_argument('--file-format', dest='graph_format', metavar='FMT',
                            help="Format of the picture, any that dot knows (default 'png')")

    def parse_defaults(self) -> dict[str, Any]:
        return {'graph_no_status': False, 'graph_format': 'png'}


graph = GraphCommand()
