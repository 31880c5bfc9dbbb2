"""``jug webstatus``: the page, its helpers, and the server over HTTP."""
import json
import subprocess
import sys
import time
import urllib.request

import pytest

from jug.subcommands.webstatus import _format_counts, _render_page, counts_json
from jug.subcommands.status import TaskStatus
from jugtest import jug_command, jug_env


def _ts():
    ts = TaskStatus()
    ts.finished['mod.<b>'] = 2
    ts.ready['mod.f'] = 3
    ts.failed = {'mod.f': 1}  # a plain dict lacking names must work too
    return ts


def test_table_cells_and_escaping():
    rows = _format_counts(_ts())
    assert rows.count('<td>') == 20  # 2 names, an empty row, the total: 5 cells each
    assert '<td></td>' in rows
    assert 'mod.&lt;b&gt;' in rows and 'mod.<b>' not in rows
    total = rows.splitlines()[-1]
    assert total == ('<tr><th class="task-name">Total</th><td>1</td><td>0</td><td>3</td>'
                     '<td>2</td><td>0</td></tr>')


def test_page_refresh_and_title():
    page = _render_page('a<b>.py', 7, _ts())
    assert '<meta http-equiv="refresh" content="7">' in page
    assert 'a&lt;b&gt;.py' in page
    assert '<progress value="2" max="2">' in page


def test_json_counts():
    data = json.loads(counts_json(_ts()))
    assert data['totals']['ready'] == 3 and data['tasks']['finished'] == {'mod.<b>': 2}


JUGFILE = '''
from jug import TaskGenerator

@TaskGenerator
def square(x):
    return x * x

@TaskGenerator
def fails():
    raise ValueError('broken on purpose')

squares = [square(i) for i in range(4)]
bad = fails()
'''


def _get(url, deadline):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode('utf-8')
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def test_served_page_matches_jug_status(tmp_path):
    import socket
    (tmp_path / 'web.py').write_text(JUGFILE)
    subprocess.run(jug_command('execute', 'web.py', '--keep-going', '--will-cite'),
                   cwd=tmp_path, env=jug_env(), capture_output=True, timeout=60)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(jug_command('webstatus', 'web.py', '--port', str(port)),
                              cwd=tmp_path, env=jug_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        base = f'http://127.0.0.1:{port}/'
        deadline = time.time() + 30
        page = _get(base + '?refresh=5', deadline)
        data = json.loads(_get(base + 'status.json', deadline))
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert '<meta http-equiv="refresh" content="5">' in page
    assert 'ValueError: broken on purpose' in page
    status = subprocess.run(jug_command('status', 'web.py', '--short'), cwd=tmp_path,
                            env=jug_env(), capture_output=True, text=True)
    assert status.stdout.strip() == '1 tasks waiting to be run, 0 failed, 4 complete, (none active).'
    assert data['totals']['finished'] == 4 and data['totals']['ready'] == 1
    assert [f['name'] for f in data['failures']] == ['web.fails']


def test_missing_bottle_is_one_clear_error(tmp_path, monkeypatch):
    from jug.errors import MissingPackageError
    from jug.subcommands.webstatus import webstatus
    monkeypatch.setitem(sys.modules, 'bottle', None)
    with pytest.raises(MissingPackageError, match='pip install'):
        webstatus.run(options=None)
