"""``jug webstatus``: a web page (and a JSON endpoint) with the status of a run.

Layer 5.  The jugfile is loaded once, at start; every request recomputes the states
with the cached status algorithm of ``jug.subcommands.status`` (``update_status``,
which classifies through ``jug.taskstate.classify``): one listing of the store per
request, read-only, so refreshing the page never blocks a worker.  bottle is imported
only when the command runs.
"""
from __future__ import annotations

import html
import json
import sys

from ..backends import memoize_store
from ..backends.select import select
from ..errors import MissingPackageError
from ..records import find_failed, local_time
from ..statusview import COLUMNS, TITLES, view_of_rows, workers_of_rows
from ..taskstate import FINISHED, STALE, STATES
from ..workersview import remarks
from . import SubCommand
from .status import load_jugfile, update_status

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, Iterable

    from ..optionchain import Options
    from ..statusview import StatusView
    from ..workersview import WorkersView

#: Seconds between automatic reloads of the page when ``?refresh=`` is not given.
DEFAULT_REFRESH = 3

template = '''<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{refresh}">
<title>jug status: {jugfile}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 0.2em 0.8em; text-align: right; }}
th.task-name {{ text-align: left; font-family: monospace; }}
th.text, td.text {{ text-align: left; }}
tr:nth-child(even) {{ background: #f2f2f2; }}
progress {{ width: 20em; }}
.error {{ font-family: monospace; white-space: pre-wrap; color: #a00; }}
</style>
</head>
<body>
<h1>jug status: {jugfile}</h1>
<table>
<tr><th class="task-name">Task name</th>{titles}</tr>
{rows}
</table>
<h2>Progress</h2>
{progress}
{failures}
{workers}
<p>This page reloads every {refresh} s. The same counts, for scripts: \
<a href="status.json">status.json</a>.</p>
</body>
</html>
'''


def _columns(ts: Any) -> tuple[str, ...]:
    """The states shown: the view's columns (Jug 2.7's five, then stale when some
    are), read with ``getattr`` so that any object with those five dicts will do."""
    stale = getattr(ts, STALE, {})
    return COLUMNS + ((STALE,) if stale and sum(stale.values()) else ())


def _names(ts: Any) -> list[str]:
    names = set()
    for state in _columns(ts):
        names.update(getattr(ts, state))
    return sorted(names)


def _format_counts(ts: Any) -> str:
    """Return the table rows (HTML) of a status view: one per name, an empty one, Total.

    The groups of `ts` may be plain dicts that lack some names.
    """
    columns = _columns(ts)
    rows = []
    totals = [0] * len(columns)
    for name in _names(ts):
        counts = [getattr(ts, state).get(name, 0) for state in columns]
        totals = [t + c for t, c in zip(totals, counts)]
        rows.append(_row(html.escape(name), counts))
    rows.append(_row('', [''] * len(columns)))
    rows.append(_row('Total', totals))
    return '\n'.join(rows)


def _row(name: str, cells: Iterable[Any]) -> str:
    return (f'<tr><th class="task-name">{name}</th>'
            + ''.join(f'<td>{cell}</td>' for cell in cells) + '</tr>')


def _format_progress(ts: Any) -> str:
    lines = []
    for name in _names(ts):
        done = ts.finished.get(name, 0)
        total = sum(getattr(ts, state).get(name, 0) for state in _columns(ts))
        lines.append(f'<div><progress value="{done}" max="{total}"></progress> '
                     f'{done}/{total} <span class="task-name">{html.escape(name)}</span>'
                     '</div>')
    return '\n'.join(lines)


def _format_failures(failures: list | None) -> str:
    if not failures:
        return ''
    items = []
    for name, key, record in failures:
        error = (record or {}).get('error') or {}
        what = f"{error.get('type', 'failed')}: {error.get('message', '')}" if error \
            else 'failed (no run record of the failure)'
        items.append(f'<li><span class="task-name">{html.escape(name)}</span> '
                     f'{html.escape(key.decode("ascii", "replace")[:12])}: '
                     f'<span class="error">{html.escape(what)}</span></li>')
    return f'<h2>Failed tasks ({len(failures)})</h2>\n<ul>\n' + '\n'.join(items) + '\n</ul>'


def _format_workers(view: WorkersView | None) -> str:
    if view is None:
        return ''
    rows = [f'<tr><td class="text">{html.escape(str(w.host or "?"))}</td>'
            f'<td>{w.pid or "?"}</td><td class="text">{html.escape(local_time(w.since))}</td>'
            f'<td class="text">{html.escape(w.state)}</td><td class="text">'
            + ', '.join(f'<span class="task-name">{html.escape(name)}</span> '
                        f'{html.escape(key[:12])}' for name, key in w.tasks)
            + '</td></tr>' for w in view.workers]
    table = ('<table>\n<tr><th class="text">Host</th><th>PID</th><th class="text">Since</th>'
             '<th class="text">State</th><th class="text">Task</th></tr>\n'
             + '\n'.join(rows) + '\n</table>') if rows else \
        '<p>No worker is running a task now (a worker waiting for others holds no lock).</p>'
    notes = ''.join(f'\n<p>{html.escape(line)}</p>' for line in remarks(view))
    return f'<h2>Workers ({len(view.workers)})</h2>\n{table}{notes}'


def _render_page(jugfile: str, refresh: int, ts: Any) -> str:
    """Return the HTML page for the status view `ts`."""
    titles = ''.join(f'<th>{TITLES[state]}</th>' for state in _columns(ts))
    return template.format(jugfile=html.escape(jugfile), titles=titles,
                           refresh=html.escape(str(refresh), quote=True),
                           rows=_format_counts(ts), progress=_format_progress(ts),
                           failures=_format_failures(getattr(ts, 'failures', None)),
                           workers=_format_workers(getattr(ts, 'workers', None)))


def _refresh_seconds(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_REFRESH


class _Status:
    """The tasks of the jugfile (loaded once) and their current states."""

    def __init__(self, options: Options) -> None:
        self.jugdir = options.jugdir
        store, self.ht, self.deps = load_jugfile(options)
        store.close()

    def compute(self) -> StatusView:
        """Recompute every state from one listing of the store; return a StatusView."""
        store = select(self.jugdir)
        try:
            listed = memoize_store(store, list_base=True)
            update_status(listed, self.ht, self.deps)
            failures = find_failed(listed, [(name, key) for _, name, key, state in self.ht
                                            if state != FINISHED])
            workers = workers_of_rows(store, self.ht)
        finally:
            store.close()
        view = view_of_rows(self.ht, failures)
        view.workers = workers
        return view


def counts_json(ts: Any) -> str:
    """Return the counts of `ts` as the JSON document of ``/status.json``."""
    groups = {state: dict(getattr(ts, state)) for state in STATES}
    totals = {attribute: sum(counts.values()) for attribute, counts in groups.items()}
    workers = getattr(ts, 'workers', None)
    return json.dumps({'tasks': groups, 'totals': totals,
                       'failures': [{'name': name, 'hash': key.decode('ascii', 'replace')}
                                    for name, key, _ in (ts.failures or [])],
                       'workers': [w.to_dict() for w in workers.workers] if workers else [],
                       'stale_locks': workers.stale if workers else 0})


def make_app(options: Options) -> Any:
    """Return the bottle application serving the status of ``options.jugfile``."""
    import bottle  # optional package, needed only here
    status = _Status(options)
    app = bottle.Bottle()

    @app.route('/')
    def page() -> str:
        return _render_page(options.jugfile, _refresh_seconds(bottle.request.query.refresh),
                            status.compute())

    @app.route('/status.json')
    def counts() -> str:
        bottle.response.content_type = 'application/json'
        return counts_json(status.compute())

    return app


class WebStatusCommand(SubCommand):
    """Serve a web page with the status of the tasks

    webstatus: serve a page (http://127.0.0.1:8080/ by default) showing the status of
    the tasks, refreshed every few seconds, and the same counts as JSON at
    /status.json.
    """

    name = 'webstatus'
    loads_jugfile_itself = True

    def run(self, options: Options, *args: Any, **kwargs: Any) -> None:
        try:
            import bottle
        except ImportError:
            raise MissingPackageError('bottle', 'jug webstatus', 'web') from None
        app = make_app(options)
        host = options.webstatus_ip
        shown = f'[{host}]' if ':' in host else host  # an IPv6 address in a URL
        options.print_out(f'jug webstatus: serving http://{shown}:{options.webstatus_port}/ '
                          '(Ctrl-C stops it)')
        sys.stdout.flush()  # seen at once, also through a pipe
        bottle.run(app, port=int(options.webstatus_port), host=host, quiet=True)

    def parse(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument('--port', dest='webstatus_port', help='Port to serve on '
                            '(default: 8080)')
        parser.add_argument('--ip', dest='webstatus_ip', help='Address to serve on '
                            '(default: 127.0.0.1, this machine only)')

    def parse_defaults(self) -> dict[str, Any]:
        return {'webstatus_port': '8080', 'webstatus_ip': '127.0.0.1'}


webstatus = WebStatusCommand()
