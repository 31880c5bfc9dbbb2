#!/usr/bin/env python3
"""Cost of ``import jug``, and which heavy optional modules it pulls in.

Runs fresh interpreters (this checkout first on PYTHONPATH):

* ``python -X importtime -c "import jug"``: the cumulative import time of the
  ``jug`` package, from Python's own report;
* wall time of ``python -c "import jug"`` against ``python -c pass`` (best of R);
* ``import jug`` then a look at ``sys.modules``: prints which of numpy, redis,
  IPython, bottle, sqlite3 and yaml got imported (DESIGN.md, habit 10: none
  should be).

Prints figures only; asserts nothing.

Usage: python bench/bench_import.py [--repeat R]
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import env  # noqa: E402

HEAVY = ('numpy', 'redis', 'IPython', 'bottle', 'sqlite3', 'yaml')


def run(code, *flags):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *flags, '-c', code], env=env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f'python -c {code!r} exited with {proc.returncode}')
    return elapsed, proc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5, help='runs per measurement (best shown)')
    args = parser.parse_args()

    _, proc = run('import jug', '-X', 'importtime')
    # Lines look like: "import time:  self [us] | cumulative | imported package".
    cumulative = None
    for line in proc.stderr.splitlines():
        m = re.match(r'import time:\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\S+)\s*$', line)
        if m and m.group(3) == 'jug':
            cumulative = int(m.group(2))
    if cumulative is not None:
        print(f'import jug (-X importtime, cumulative)  {cumulative / 1000:8.1f} ms')

    bare = min(run('pass')[0] for _ in range(args.repeat))
    with_jug = min(run('import jug')[0] for _ in range(args.repeat))
    print(f'python -c pass                          {bare * 1000:8.1f} ms')
    print(f'python -c "import jug"                  {with_jug * 1000:8.1f} ms')
    print(f'difference                              {(with_jug - bare) * 1000:8.1f} ms')

    check = ('import sys, jug; '
             f'print(" ".join(m for m in {HEAVY!r} if m in sys.modules))')
    _, proc = run(check)
    imported = proc.stdout.split()
    for mod in HEAVY:
        print(f'{mod:10} {"IMPORTED by import jug" if mod in imported else "not imported"}')
    print(f'heavy modules imported: {", ".join(imported) if imported else "none"}')


if __name__ == '__main__':
    main()
