#!/usr/bin/env python3
"""Time of ``jug status`` on a large jugfile whose tasks never ran.

Writes a jugfile of N independent tasks (default 100,000) in a temporary
directory, with an empty jugdir, and times whole commands: ``jug status`` and
``jug status --short`` (each exits 1, as not every task is complete). For
reference it also times ``jug --version`` (interpreter and jug start-up).
Prints figures only; asserts nothing about time.

Usage: python bench/bench_status.py [--n N] [--repeat R]
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import jug, write_jugfile  # noqa: E402


def best_of(repeat, args, cwd, codes):
    times = [jug(args, cwd, codes)[0] for _ in range(repeat)]
    return min(times), times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=100_000, help='number of tasks')
    parser.add_argument('--repeat', type=int, default=3, help='runs per command (best shown)')
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix='jug-bench-status-')
    try:
        write_jugfile(tmp, args.n)
        start, _ = best_of(args.repeat, ['--version'], tmp, (0,))
        full, full_all = best_of(args.repeat, ['status', 'jugfile.py'], tmp, (1,))
        short, short_all = best_of(args.repeat, ['status', '--short', 'jugfile.py'], tmp, (1,))
        print(f'tasks                      {args.n}')
        print(f'jug --version              {start:8.3f} s')
        print(f'jug status                 {full:8.3f} s   ({full / args.n * 1e6:.1f} us/task)'
              f'   runs: {", ".join(f"{t:.3f}" for t in full_all)}')
        print(f'jug status --short         {short:8.3f} s   ({short / args.n * 1e6:.1f} us/task)'
              f'   runs: {", ".join(f"{t:.3f}" for t in short_all)}')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
