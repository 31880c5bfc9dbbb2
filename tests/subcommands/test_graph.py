"""``jug graph``: the .dot text (with and without counts) and how `dot` is run."""
import os
import shutil
import stat

import pytest

import jug.task
from jugtest import JUGFILES, run_some_squares
from jug.jug import init
from jug.subcommands import graph as graph_module
from jug.subcommands.graph import GraphvizError, graph, handle_tasklet



def _label(name, counts):
    return (f'<<table border="0" cellborder="0"><tr><td><b>{name}</b></td></tr>'
            f'<tr><td>{counts}</td></tr></table>>')


EXPECTED_NO_STATUS = '''\
digraph {
    "simple.square"
    "simple.total"
    "simple.square" -> "simple.total"
    "simple.inc"
    "simple.total" -> "simple.inc"
    "simple.inc" -> "simple.inc"
}
'''

EXPECTED_STATUS = f'''\
digraph {{
    "simple.square" [label={_label('simple.square', '1F 0W 3R 1A 5C')}]
    "simple.total" [label={_label('simple.total', '0F 1W 0R 0A 0C')}]
    "simple.square" -> "simple.total"
    "simple.inc" [label={_label('simple.inc', '0F 3W 0R 0A 0C')}]
    "simple.total" -> "simple.inc"
    "simple.inc" -> "simple.inc"
}}
'''


@pytest.fixture
def no_dot(tmp_path, monkeypatch):
    empty = tmp_path / 'empty-bin'
    empty.mkdir()
    monkeypatch.setenv('PATH', str(empty))
    return empty


def _fake_dot(directory, script):
    directory.mkdir(exist_ok=True)
    path = directory / 'dot'
    path.write_text('#!/bin/sh\n' + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _partially_run(options):
    """Squares 0-4 done, square 5 locked (active), square 6 failed."""
    return run_some_squares(options)


def test_dot_text_no_status(jug_options, tmp_path, no_dot):
    options = jug_options('simple', graph_no_status=True)
    store, _ = init(options.jugfile, options.jugdir)
    with pytest.raises(GraphvizError, match='graphviz'):
        graph(store, options)
    assert (tmp_path / 'simple.dot').read_text() == EXPECTED_NO_STATUS


def test_dot_text_with_status(jug_options, tmp_path, no_dot):
    options = jug_options('simple')
    store = _partially_run(options)
    saved = jug.task.Task.store
    with pytest.raises(GraphvizError):
        graph(store, options)
    assert (tmp_path / 'simple.dot').read_text() == EXPECTED_STATUS
    assert jug.task.Task.store is saved  # the listing store was only borrowed


def test_dot_is_run(jug_options, tmp_path, monkeypatch):
    bindir = tmp_path / 'bin'
    _fake_dot(bindir, 'echo "$@" > args.txt\necho drawn > "$4"\n')
    monkeypatch.setenv('PATH', str(bindir))
    options = jug_options('simple', graph_format='svg')
    store, _ = init(options.jugfile, options.jugdir)
    assert graph(store, options) == 0
    assert (tmp_path / 'args.txt').read_text().split() == \
        ['simple.dot', '-Tsvg', '-o', 'simple.svg']
    assert (tmp_path / 'simple.svg').read_text() == 'drawn\n'
    assert options.print_out == ['Wrote simple.dot and simple.svg']


def test_dot_failure_is_an_error(jug_options, tmp_path, monkeypatch):
    bindir = tmp_path / 'bin'
    _fake_dot(bindir, 'echo "Format: \\"nope\\" not recognized" >&2\nexit 1\n')
    monkeypatch.setenv('PATH', str(bindir))
    options = jug_options('simple', graph_format='nope')
    store, _ = init(options.jugfile, options.jugdir)
    with pytest.raises(GraphvizError, match='not recognized'):
        graph(store, options)


def test_cli_without_dot_exits_1_with_install_hint(run_jug, tmp_path):
    shutil.copy(os.path.join(JUGFILES, 'simple.py'), tmp_path)
    empty = tmp_path / 'empty-bin'
    empty.mkdir()
    proc = run_jug('graph', 'simple.py', '--no-status', PATH=str(empty))
    assert proc.returncode == 1
    assert 'dot' in proc.stderr and 'install graphviz' in proc.stderr.lower()
    assert (tmp_path / 'simple.dot').read_text() == EXPECTED_NO_STATUS


def test_handle_tasklet(jug_options):
    options = jug_options('simple')
    init(options.jugfile, options.jugdir)
    t = jug.task.alltasks[0]
    assert handle_tasklet(t) is t
    assert handle_tasklet(t[0][1]) is t


def test_names_are_quoted_and_escaped():
    class Fake:
        def __init__(self, name, deps=()):
            self.name = name
            self._deps = deps

        def dependencies(self):
            return iter(self._deps)

    a = Fake('a"<b>')
    text = graph_module.dot_text([a, Fake('c', [a, a])])
    assert text == 'digraph {\n    "a\\"<b>"\n    "c"\n    "a\\"<b>" -> "c"\n}\n'


def test_graph_renders_a_png_with_graphviz(tmp_path):
    """With graphviz's dot installed (the test scripts install it), a real PNG."""
    import subprocess

    from jugtest import jug_command, jug_env, require_program
    require_program('dot', 'graphviz')
    shutil.copy(os.path.join(JUGFILES, "simple.py"), tmp_path)
    subprocess.run(jug_command('execute', 'simple.py', '--will-cite'), cwd=tmp_path,
                   env=jug_env(), capture_output=True, timeout=60)
    result = subprocess.run(jug_command('graph', 'simple.py'), cwd=tmp_path, env=jug_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    png = (tmp_path / 'simple.png').read_bytes()
    assert png.startswith(b'\x89PNG\r\n\x1a\n') and len(png) > 1000
    assert '"simple.square" -> "simple.total"' in (tmp_path / 'simple.dot').read_text()
