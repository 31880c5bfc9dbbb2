#!/usr/bin/env python3
"""Time and peak memory of ``jug status`` on large jugfiles whose tasks never ran.

For each N (default 100,000 and 1,000,000) writes a jugfile of N independent tasks
and one task taking the list of all of them (a final reduction), with an empty
jugdir, and runs whole commands: ``jug status`` and ``jug status --short`` (each
exits 1, as not every task is complete), best of R runs, with the peak resident
memory of that run.  ``jug --version`` gives the start-up reference.  Figures from
Jug 2.7 (measured elsewhere) are printed beside them for orientation.  Prints figures
only; asserts nothing about time.

Usage: python bench/bench_status.py [--n N [N ...]] [--repeat R]
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import jug_measured  # noqa: E402

JUGFILE = """from jug import TaskGenerator


@TaskGenerator
def f(i):
    return i


@TaskGenerator
def total(values):
    return sum(values)


results = [f(i) for i in range(N)]
everything = total(results)
"""

#: ``jug status --short`` of Jug 2.7 on such a jugfile of 10^6 tasks, as reported when
#: this benchmark was written (another machine; for orientation only).
JUG27_SHORT_1M = '39.1 s, 1.23 GB'


def best_of(repeat, args, cwd):
    """(seconds, peak bytes) of the fastest of `repeat` runs."""
    runs = [jug_measured(args, cwd) for _ in range(repeat)]
    return min(runs)[:2], [r[0] for r in runs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, nargs='+', default=[100_000, 1_000_000],
                        help='numbers of tasks')
    parser.add_argument('--repeat', type=int, default=3, help='runs per command (best shown)')
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='jug-bench-status-')
    try:
        (start, _), _ = best_of(args.repeat, ['--version'], tmp)
        print(f'jug --version                      {start:8.3f} s')
        for n in args.n:
            with open(os.path.join(tmp, 'jugfile.py'), 'w') as f:
                f.write(JUGFILE.replace('range(N)', f'range({n})'))
            for command in (['status'], ['status', '--short']):
                (seconds, peak), runs = best_of(args.repeat, [*command, 'jugfile.py'], tmp)
                label = f'jug {" ".join(command)}, {n} tasks'
                reference = ('   Jug 2.7: ' + JUG27_SHORT_1M
                             if n == 1_000_000 and command[-1] == '--short' else '')
                print(f'{label:34} {seconds:8.3f} s {peak / 2**20:8.0f} MiB   '
                      f'({seconds / n * 1e6:.1f} us/task; runs: '
                      f'{", ".join(f"{t:.2f}" for t in runs)}){reference}')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
