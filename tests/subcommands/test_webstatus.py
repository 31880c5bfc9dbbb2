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
    server, base = _serve(tmp_path)
    try:
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
    assert status.stdout.splitlines() == [
        '1 tasks waiting to be run, 0 failed, 4 complete, (none active).',
        '1 task failed in its last run (jug status --failed shows it, with its error).']
    assert data['totals']['finished'] == 4 and data['totals']['ready'] == 1
    assert [f['name'] for f in data['failures']] == ['web.fails']


def test_missing_bottle_is_one_clear_error(tmp_path, monkeypatch):
    from jug.errors import MissingPackageError
    from jug.subcommands.webstatus import webstatus
    monkeypatch.setitem(sys.modules, 'bottle', None)
    with pytest.raises(MissingPackageError, match='pip install'):
        webstatus.run(options=None)


def _serve(tmp_path):
    """Run the squares of web.py, start webstatus on it; return (server, url)."""
    import socket
    if not (tmp_path / 'web.py').exists():
        (tmp_path / 'web.py').write_text(JUGFILE)
    subprocess.run(jug_command('execute', 'web.py', '--keep-going', '--will-cite',
                               '--pattern', '/square|fails/'),
                   cwd=tmp_path, env=jug_env(), capture_output=True, timeout=60)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(jug_command('webstatus', 'web.py', '--port', str(port)),
                              cwd=tmp_path, env=jug_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}/'
    _get(url, time.time() + 30)
    return server, url


def _chromium(tmp_path, *args):
    from jugtest import require_program
    program = require_program('chromium', 'chromium')
    return subprocess.run(
        [program, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
         '--no-first-run', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', f'--user-data-dir={tmp_path / "chromium-profile"}', *args],
        capture_output=True, text=True, timeout=120)


SLOW = '''
import os
import time
from jug import TaskGenerator

@TaskGenerator
def waits_for_go():
    deadline = time.time() + 60
    while not os.path.exists('go') and time.time() < deadline:
        time.sleep(0.05)
    return 1
'''


def test_page_in_headless_chromium_while_a_worker_runs(tmp_path):
    """The page as a browser renders it, with a task running: counts, and a screenshot."""
    (tmp_path / 'web.py').write_text(JUGFILE + SLOW + 'slow = waits_for_go()\n')
    server, url = _serve(tmp_path)
    worker = subprocess.Popen(jug_command('execute', 'web.py', '--name', 'waits_for_go',
                                          '--will-cite'),
                              cwd=tmp_path, env=jug_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while not any((tmp_path / 'web.jugdata' / 'locks').glob('*.lock')):
            assert time.time() < deadline and worker.poll() is None
            time.sleep(0.02)
        dom = _chromium(tmp_path, '--dump-dom', url).stdout
        shot = tmp_path / 'webstatus.png'
        _chromium(tmp_path, f'--screenshot={shot}', '--window-size=900,600', url)
    finally:
        (tmp_path / 'go').write_text('')
        worker.wait(timeout=60)
        server.terminate()
        server.wait(timeout=10)
    assert '<th class="task-name">web.square</th><td>0</td><td>0</td><td>0</td><td>4</td>' \
        '<td>0</td>' in dom
    assert '<th class="task-name">web.waits_for_go</th><td>0</td><td>0</td><td>0</td>' \
        '<td>0</td><td>1</td>' in dom  # the running worker's task is Active
    assert 'broken on purpose' in dom
    png = shot.read_bytes()
    assert png.startswith(b'\x89PNG\r\n\x1a\n') and len(png) > 5000


def test_refresh_value_is_escaped():
    page = _render_page('x.py', '0"><script>alert(1)</script>', _ts())
    assert '<script>' not in page
    assert 'content="0&quot;&gt;&lt;script&gt;' in page
