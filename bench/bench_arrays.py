#!/usr/bin/env python3
"""Large numpy results: ``jug execute`` beside the least the same writes cost.

A jugfile of K tasks (default 8) each returning a float64 array of M elements
(default 3,000,000: 24 MB), and one task summing them, which loads them back from
disk in a second ``jug execute``.  Timed as whole commands (median of R runs):

1. ``jug execute --name make``: computes and stores the K arrays (each written as a
   plain ``.npy`` file: temp file, fsync, rename, directory fsync);
2. ``jug execute``: loads the K arrays and runs the sum.

Beside them, a direct script doing only the same work (create the arrays, write them
with numpy, fsync, rename, fsync the directory; then read them back), timed as a
whole command too (Python and numpy start-up included), gives the floor: the
difference is what jug adds.  Before each timed command the disk is synced, so that
no deletion of a previous run is still being written.
Figures from Jug 2.7 (measured elsewhere) are printed for orientation.  Prints
figures only; asserts nothing about time.

Usage: python bench/bench_arrays.py [--arrays K] [--size M] [--repeat R]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import env  # noqa: E402

JUGFILE = """
import numpy as np
from jug import TaskGenerator


@TaskGenerator
def make(i):
    return np.full(SIZE, float(i))


@TaskGenerator
def total(arrays):
    return float(sum(a.sum() for a in arrays))


arrays = [make(i) for i in range(ARRAYS)]
result = total(arrays)
"""

DIRECT = """
import os, sys, time
import numpy as np
size, arrays, where = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(os.path.join(where, 'tmp'), exist_ok=True)
start = time.perf_counter()
for i in range(arrays):
    a = np.full(size, float(i))
    temp = os.path.join(where, 'tmp', str(i))
    with open(temp, 'xb') as f:
        np.lib.format.write_array(f, a)
        f.flush()
        os.fsync(f.fileno())
    os.rename(temp, os.path.join(where, f'r{i}'))
    fd = os.open(where, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
write = time.perf_counter() - start
start = time.perf_counter()
loaded = []
for i in range(arrays):
    with open(os.path.join(where, f'r{i}'), 'rb') as f:
        loaded.append(np.lib.format.read_array(f))
total = float(sum(a.sum() for a in loaded))
print(write, time.perf_counter() - start)
"""

#: Jug 2.7 storing 8 results of 24 MB (fsync), as reported when this benchmark was
#: written (another machine; for orientation only).
JUG27_WRITE = '0.60 s'


def timed(command, cwd):
    """Wall time of `command` (after a sync), and its standard output."""
    os.sync()
    start = time.perf_counter()
    out = subprocess.run(command, cwd=cwd, env=env(), check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return time.perf_counter() - start, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arrays', type=int, default=8, help='number of arrays')
    parser.add_argument('--size', type=int, default=3_000_000, help='elements per array')
    parser.add_argument('--repeat', type=int, default=5, help='runs per figure (median)')
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='jug-bench-arrays-')
    jug = [sys.executable, '-m', 'jug', 'execute', 'jugfile.py', '--will-cite']
    try:
        with open(os.path.join(tmp, 'jugfile.py'), 'w') as f:
            f.write(JUGFILE.replace('SIZE', str(args.size)).replace('ARRAYS', str(args.arrays)))
        writes, loads, direct = [], [], []
        for _ in range(args.repeat):
            shutil.rmtree(os.path.join(tmp, 'jugfile.jugdata'), ignore_errors=True)
            writes.append(timed(jug + ['--name', 'make'], tmp)[0])
            loads.append(timed(jug, tmp)[0])
            where = os.path.join(tmp, 'direct')
            shutil.rmtree(where, ignore_errors=True)
            whole, out = timed([sys.executable, '-c', DIRECT, str(args.size),
                                str(args.arrays), where], tmp)
            write, read = (float(x) for x in out.split())
            direct.append((whole - read, read))  # a whole command's share of each
        mb = args.size * 8 / 1e6
        print(f'{args.arrays} arrays of {mb:.0f} MB; median of {args.repeat} runs')
        print(f'jug execute, store them      {statistics.median(writes):6.3f} s  '
              f'(whole command; Jug 2.7 elsewhere: {JUG27_WRITE})')
        print(f'direct writes (the floor)    {statistics.median(d[0] for d in direct):6.3f} s  '
              '(whole command, numpy imported)')
        print(f'jug execute, load and sum    {statistics.median(loads):6.3f} s  (whole command)')
        print(f'direct reads (the floor)     {statistics.median(d[1] for d in direct):6.3f} s  '
              '(reads and sum only)')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
