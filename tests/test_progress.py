"""What users see while jug runs: the live progress line of ``jug execute`` on a terminal
(one worker and ``-j``), plain ``--progress`` lines off one, nothing new otherwise,
``jug status --watch``, and the URL ``jug webstatus`` serves."""
import os
import pty
import re
import select
import socket
import subprocess
import time

import pytest

from jug.progress import Counts, combine
from jugtest import jug_command, jug_env

DEADLINE = 60

JUGFILE = '''
import time
from jug import TaskGenerator


@TaskGenerator
def slow(x):
    time.sleep(0.05)
    if x == 3:
        raise ValueError('three is bad')
    return x


values = [slow(i) for i in range(12)]
'''

#: The live line: erase the line, then "jug: <counts>".
LIVE = re.compile(r'\r\x1b\[Kjug: (\d+)/(\d+) tasks done')


def _on_a_terminal(args, cwd):
    """Run ``jug *args`` with a pseudo-terminal as stdout and stderr; return
    ``(exit code, everything it wrote)``."""
    master, slave = pty.openpty()
    process = subprocess.Popen(jug_command(*args), cwd=cwd, env=jug_env(COLUMNS='120'),
                               stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + DEADLINE
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=DEADLINE)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, b''.join(chunks).decode('utf-8', 'replace')


def _write(tmp_path):
    (tmp_path / 'jf.py').write_text(JUGFILE)


def test_a_live_line_on_a_terminal_that_ends_as_the_summary(tmp_path):
    _write(tmp_path)
    code, out = _on_a_terminal(['execute', 'jf.py', '--will-cite', '--keep-going'], tmp_path)
    assert code == 1  # a task failed
    counts = [(int(done), int(total)) for done, total in LIVE.findall(out)]
    assert counts, out
    assert all(total == 12 for _, total in counts)
    assert counts[-1][0] == 11  # 11 done, the 12th failed
    assert '1 failed' in out and 'running jf.slow' in out and 'ETA' in out
    # the line is erased before the summary table, which follows as usual
    tail = out[out.rindex('\r\x1b[K') + len('\r\x1b[K'):]
    assert tail.lstrip().startswith('Executed'), tail[:200]
    assert '1 task failed:' in tail
    # a log message never shares the line with the progress
    assert re.search(r'(^|\r\x1b\[K|\n)CRITICAL:root:Exception while running jf\.slow', out)


def test_workers_of_j_show_one_combined_line(tmp_path):
    _write(tmp_path)
    code, out = _on_a_terminal(['execute', 'jf.py', '--will-cite', '--keep-going', '-j', '2'],
                               tmp_path)
    assert code == 1
    counts = [(int(done), int(total)) for done, total in LIVE.findall(out)]
    assert counts and all(total == 12 for _, total in counts)
    assert 'Executed' in out


PRINTING = """
import sys
import time
from jug import TaskGenerator


@TaskGenerator
def noisy(x):
    time.sleep(0.05)
    print(f'printed {x}')
    print(f'partial {x}', end='', file=sys.stderr)
    print(' ended', file=sys.stderr)
    if x == 3:
        raise ValueError('three is bad')
    return x


values = [noisy(i) for i in range(12)]
"""


def _screen_lines(out):
    """The lines a terminal shows after `out`, where ``\\r\\x1b[K`` erases a line."""
    lines = ['']
    for piece in re.split(r'(\r\x1b\[K|\r?\n)', out):
        if piece == '\r\x1b[K':
            lines[-1] = ''
        elif piece in ('\n', '\r\n'):
            lines.append('')
        else:
            lines[-1] += piece
    return lines


@pytest.mark.parametrize('jobs', [[], ['-j', '2']], ids=['one worker', 'two workers'])
def test_what_tasks_print_goes_above_the_line(tmp_path, jobs):
    (tmp_path / 'jf.py').write_text(PRINTING)
    code, out = _on_a_terminal(['execute', 'jf.py', '--will-cite', '--keep-going', *jobs],
                               tmp_path)
    assert code == 1
    assert LIVE.search(out), out
    lines = _screen_lines(out)
    for x in range(12):
        assert f'printed {x}' in lines and f'partial {x} ended' in lines, out
    critical = [line for line in lines if 'CRITICAL' in line]
    assert critical and all(line.startswith('CRITICAL:root:') for line in critical), critical
    assert 'Executed' in out


def test_nothing_new_off_a_terminal(tmp_path):
    _write(tmp_path)
    run = subprocess.run(jug_command('execute', 'jf.py', '--will-cite', '--keep-going'),
                         cwd=tmp_path, env=jug_env(), capture_output=True, text=True,
                         timeout=DEADLINE)
    assert 'tasks done' not in run.stderr + run.stdout
    assert '\x1b' not in run.stderr + run.stdout


def test_progress_option_prints_timestamped_lines_off_a_terminal(tmp_path):
    _write(tmp_path)
    run = subprocess.run(jug_command('execute', 'jf.py', '--will-cite', '--keep-going',
                                     '--progress'),
                         cwd=tmp_path, env=jug_env(), capture_output=True, text=True,
                         timeout=DEADLINE)
    lines = [line for line in run.stderr.splitlines() if 'tasks done' in line]
    assert lines, run.stderr
    assert all(re.match(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d jug: \d+/12 tasks done', line)
               for line in lines)
    assert lines[-1].split(' jug: ')[1].startswith('11/12 tasks done, 1 failed')
    assert '\x1b' not in run.stderr


def test_counts_describe_what_is_going_on():
    counts = Counts(done=45, executed=40, failed=3, total=101, running='mod.f',
                    started=time.monotonic() - 4)
    text = counts.describe()
    assert text.startswith('45/101 tasks done, 3 failed, 10.0 tasks/s, ETA 0:05')
    assert text.endswith('running mod.f')
    assert Counts(total=5, started=time.monotonic()).describe().startswith(
        '0/5 tasks done, 0:00 elapsed')


def test_combined_counts_count_a_failure_once():
    """Worker 1 ran the failing task; worker 2 learned that it failed there."""
    one = {'done': 6, 'executed': 5, 'failed': 1, 'failed_here': 1, 'total': 12,
           'running': 'mod.f'}
    two = {'done': 9, 'executed': 4, 'failed': 1, 'failed_here': 0, 'total': 12,
           'running': None}
    counts = combine([one, two])
    assert (counts.done, counts.executed, counts.failed, counts.total) == (9, 9, 1, 12)
    assert counts.running == 'mod.f'
    assert combine([one, dict(one, running='mod.g')]).running == 'mod.f (+1 more)'


WAITS = '''
import os
import time
from jug import TaskGenerator


@TaskGenerator
def waits(x):
    while not os.path.exists('go'):
        time.sleep(0.01)
    return x


values = [waits(i) for i in range(3)]
'''


@pytest.mark.parametrize('terminal', [False, True], ids=['pipe', 'terminal'])
def test_status_watch_redraws_until_every_task_is_done(tmp_path, terminal):
    (tmp_path / 'jf.py').write_text(WAITS)
    worker = subprocess.Popen(jug_command('execute', 'jf.py', '--will-cite'), cwd=tmp_path,
                              env=jug_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        args = ['status', 'jf.py', '--short', '--watch', '0.1']
        if terminal:
            (tmp_path / 'go').touch()  # done soon: the watch ends by itself
            code, out = _on_a_terminal(args, tmp_path)
        else:
            watch = subprocess.Popen(jug_command(*args), cwd=tmp_path, env=jug_env(),
                                     stdout=subprocess.PIPE, text=True)
            first = watch.stdout.readline()
            assert first.startswith('3 tasks waiting to be run') or 'active' in first
            (tmp_path / 'go').touch()
            out = first + watch.stdout.read()
            code = watch.wait(timeout=DEADLINE)
            watch.stdout.close()
    finally:
        worker.wait(timeout=DEADLINE)
    assert code == 0
    assert ('\x1b[H\x1b[2J' in out) == terminal  # redrawn in place on a terminal
    frames = out.replace('\x1b[H\x1b[2J', '')
    assert frames.rstrip().splitlines()[-2] == 'All tasks complete (3 tasks).'
    assert frames.count('every 0.1 s until all tasks are done') >= (1 if terminal else 2)


def test_webstatus_says_where_it_serves(tmp_path):
    (tmp_path / 'jf.py').write_text(JUGFILE)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(jug_command('webstatus', 'jf.py', '--port', str(port)),
                              cwd=tmp_path, env=jug_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
    finally:
        server.terminate()
        server.wait(timeout=DEADLINE)
        server.stdout.close()
    assert line == f'jug webstatus: serving http://127.0.0.1:{port}/ (Ctrl-C stops it)\n'
