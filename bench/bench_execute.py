#!/usr/bin/env python3
"""Per-task cost of ``jug execute`` on the default file store.

Writes a jugfile of N trivial tasks (default 10,000: ``f(i)`` returning ``i``) in a
temporary directory and times, as whole commands:

1. ``jug execute`` with nothing computed yet (runs N tasks, one process);
2. the same command again, everything now computed (the baseline: start-up,
   running the jugfile, hashing, and checking that each result exists).

The per-task cost is (1 - 2) / N. ``../shared/bench/floor.py``, run in the same
temporary directory, gives this machine's floor for one durable task commit;
the ratio to it is printed. Prints figures only; asserts nothing about time.

Usage: python bench/bench_execute.py [--n N] [--keep]
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import floor, jug, write_jugfile  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=10_000, help='number of tasks')
    parser.add_argument('--keep', action='store_true', help='keep the temporary directory')
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix='jug-bench-execute-')
    try:
        write_jugfile(tmp, args.n)
        run_s, proc = jug(['execute', 'jugfile.py', '--will-cite'], tmp)
        # A quick sanity check that the tasks ran (the table lists them as executed).
        if str(args.n) not in proc.stdout:
            print('warning: execute output does not mention', args.n, 'tasks:')
            print(proc.stdout[-1000:])
        base_s, _ = jug(['execute', 'jugfile.py', '--will-cite'], tmp)
        per_task_us = (run_s - base_s) / args.n * 1e6
        print(f'tasks                      {args.n}')
        print(f'execute, all to run        {run_s:8.2f} s')
        print(f'execute, all done (base)   {base_s:8.2f} s')
        print(f'per task                   {per_task_us:8.0f} us   (= (run - base) / n)')
        print(f'per task, whole command    {run_s / args.n * 1e6:8.0f} us')
        fl = floor(tmp)
        if fl:
            print(f'floor (durable commit)     {fl["durable"]:8.0f} us')
            print(f'floor (no fsync)           {fl["nofsync"]:8.0f} us')
            print(f'ratio to durable floor     {per_task_us / fl["durable"]:8.2f}')
        print(f'(temporary directory: {tmp}{"" if args.keep else ", removed"})')
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
