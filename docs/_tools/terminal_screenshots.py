#!/usr/bin/env python3
"""Take the terminal screenshots of the docs from real runs of this checkout's jug.

Usage: python docs/_tools/terminal_screenshots.py   (writes docs/_static/*.png)

Runs, on a pseudo-terminal of 92x14 characters, ``jug execute -j 2`` on a small
jugfile (``progress.png``: the frame when about half the tasks are done, with the
progress line), and ``jug status --watch`` while two workers run (``status-watch.png``).
The terminal's screen is reproduced by ``pyte`` (a terminal emulator written in Python)
and drawn as HTML, which headless ``chromium`` turns into a PNG.  Needs ``pip install
pyte`` and chromium; it is a maintainer's tool, not part of the tests.
"""
import html
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATIC = os.path.join(ROOT, 'docs', '_static')
COLUMNS, LINES = 92, 14

JUGFILE = '''
import time
from jug import TaskGenerator


@TaskGenerator
def measure(sample):
    time.sleep(0.15)
    if sample == 7:
        raise ValueError(f'sample {sample} has no readings')
    return sample * 1.5


@TaskGenerator
def summarise(values):
    return sum(values)


values = [measure(i) for i in range(60)]
total = summarise(values)
'''


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT, COLUMNS=str(COLUMNS), LINES=str(LINES),
               TERM='xterm')
    return {k: v for k, v in env.items() if not k.startswith('JUG_')}


def _run_on_terminal(args, cwd, wanted):
    """Run ``jug args`` on a pseudo-terminal until its screen is ``wanted(screen)``;
    return that screen (a list of lines), or None and the last screen if it never was.
    The run is stopped (SIGINT, as Ctrl-C would) once the screen has been taken."""
    import fcntl
    import signal
    import struct
    import termios

    import pyte
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', LINES, COLUMNS, 0, 0))
    process = subprocess.Popen([sys.executable, '-m', 'jug', *args], cwd=cwd, env=_env(),
                               stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    taken = None
    try:
        while taken is None:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            stream.feed(data)
            if wanted(screen.display):
                taken = list(screen.display)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        os.close(master)
    return taken, list(screen.display)


def _html(lines, title):
    rows = '\n'.join(html.escape(line.rstrip()) for line in lines)
    return f'''<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #1e1e1e; }}
.bar {{ background: #3a3a3a; color: #ccc; font: 13px sans-serif; padding: 6px 12px; }}
pre {{ margin: 0; padding: 10px 12px; color: #e6e6e6; font: 14px/1.35 "DejaVu Sans Mono",
      monospace; }}
</style></head><body><div class="bar">{html.escape(title)}</div><pre>{rows}</pre>
</body></html>'''


def _screenshot(lines, title, name):
    """Draw `lines` as a terminal window and save it as docs/_static/`name`."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    work = tempfile.mkdtemp(prefix='jug-shot-')
    try:
        page = os.path.join(work, 'page.html')
        with open(page, 'w', encoding='utf-8') as f:
            f.write(_html(lines, title))
        height = 40 + 20 * len(lines)
        subprocess.run(['chromium', '--headless', '--no-sandbox', '--disable-gpu',
                        '--disable-background-networking', '--hide-scrollbars',
                        f'--screenshot={os.path.join(STATIC, name)}',
                        f'--window-size={9 * COLUMNS + 30},{height}', f'file://{page}'],
                       check=True, capture_output=True, timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('wrote', os.path.join(STATIC, name))


def _half_done(display):
    match = re.search(r'jug: (\d+)/(\d+) tasks done', '\n'.join(display))
    return bool(match) and int(match.group(1)) * 2 >= int(match.group(2))


def progress_shot(work):
    """``jug execute -j 2``: the frame when about half the tasks are done."""
    with open(os.path.join(work, 'jugfile.py'), 'w') as f:
        f.write(JUGFILE)
    taken, last = _run_on_terminal(['execute', 'jugfile.py', '-j', '2', '--keep-going',
                                    '--will-cite'], work, _half_done)
    if taken is None:
        sys.exit('no frame with half the tasks done; the last screen was:\n' + '\n'.join(last))
    frame = ['$ jug execute jugfile.py -j 2 --keep-going'] + taken[:LINES - 1]
    _screenshot(frame, 'jug execute -j 2', 'progress.png')


def watch_shot(work):
    """``jug status --watch 1`` while two workers run."""
    shutil.rmtree(os.path.join(work, 'jugfile.jugdata'), ignore_errors=True)
    workers = [subprocess.Popen([sys.executable, '-m', 'jug', 'execute', 'jugfile.py',
                                 '--keep-going', '--will-cite'], cwd=work, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    time.sleep(2)  # (a screenshot of a moment: let the workers get going)
    try:
        seen = []

        def third_frame(display):
            text = '\n'.join(display)
            if 'Ctrl-C stops' in text and text not in seen:
                seen.append(text)
            return len(seen) == 3
        taken, last = _run_on_terminal(['status', 'jugfile.py', '--watch', '1'], work,
                                       third_frame)
    finally:
        for worker in workers:
            worker.wait(timeout=120)
    if taken is None:
        sys.exit('no third frame of jug status --watch; the last screen was:\n'
                 + '\n'.join(last))
    _screenshot(['$ jug status jugfile.py --watch 1'] + taken[:LINES - 1],
                'jug status --watch', 'status-watch.png')


def main():
    work = tempfile.mkdtemp(prefix='jug-shots-')
    try:
        progress_shot(work)
        watch_shot(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
