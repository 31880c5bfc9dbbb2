#!/usr/bin/env python3
"""Scaling of ``jug execute`` with several workers, on the default file store.

Two jugfiles, each run from scratch (empty jugdir) with 1, 2 and 4 workers started
as separate ``jug execute`` processes, and with ``jug execute -j 2`` and ``-j 4``:

* ``cpu``: N CPU-bound tasks (default 400) of about 10 ms each (a pure-Python loop,
  calibrated here first), then one task summing their results;
* ``chain``: a chain of 3 tasks of 0.2 s beside 6 independent tasks of 0.2 s (each
  sleeps; 9 tasks over 2 workers cannot take less than 1.0 s).

Prints the median wall time of R runs (whole commands, from starting the first
worker to the end of the last), and each as a fraction of one worker's time.
Figures from Jug 2.7 (measured elsewhere) are printed beside them for reference.
Asserts nothing about time.

Usage: python bench/bench_parallel.py [--n N] [--repeat R]
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

CPU = """
from jug import TaskGenerator


@TaskGenerator
def work(i):
    x = 0
    for k in range(LOOPS):
        x += k * i
    return x % 7


@TaskGenerator
def total(values):
    return sum(values)


result = total([work(i) for i in range(N)])
"""

CHAIN = """
import time
from jug import TaskGenerator


@TaskGenerator
def step(x):
    time.sleep(0.2)
    return x + 1


@TaskGenerator
def indep(i):
    time.sleep(0.2)
    return i


chain = step(step(step(0)))
others = [indep(i) for i in range(6)]
"""

#: Jug 2.7's times on these jugfiles, as reported when this benchmark was written
#: (another machine; for orientation only): {(jugfile, workers): seconds}.
JUG27 = {('cpu', '1'): 6.9, ('cpu', '2'): 15.2, ('chain', '2'): 1.3}


def calibrate_loops(seconds=0.010):
    """Loop count of ``work`` taking about `seconds` in this interpreter."""
    loops = 100_000
    while True:
        start = time.perf_counter()
        x = 0
        for k in range(loops):
            x += k * 3
        took = time.perf_counter() - start
        if took > 0.05:
            return max(1, int(loops * seconds / took))
        loops *= 2


def run(tmp, jugfile, workers, jobs):
    """Run the workers from scratch; return the wall time in seconds."""
    shutil.rmtree(os.path.join(tmp, jugfile[:-3] + '.jugdata'), ignore_errors=True)
    command = [sys.executable, '-m', 'jug', 'execute', jugfile, '--will-cite']
    if jobs:
        command += ['-j', str(jobs)]
    start = time.perf_counter()
    procs = [subprocess.Popen(command, cwd=tmp, env=env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(workers)]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f'jug execute failed: {p.stderr.read().decode()[-2000:]}')
    elapsed = time.perf_counter() - start
    for p in procs:
        p.stderr.close()
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=400, help='CPU-bound tasks')
    parser.add_argument('--repeat', type=int, default=3, help='runs per figure (median)')
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='jug-bench-parallel-')
    try:
        loops = calibrate_loops()
        with open(os.path.join(tmp, 'cpu.py'), 'w') as f:
            f.write(CPU.replace('LOOPS', str(loops)).replace('N', str(args.n)))
        with open(os.path.join(tmp, 'chain.py'), 'w') as f:
            f.write(CHAIN)
        print(f'{os.cpu_count()} CPUs; cpu: {args.n} tasks of ~10 ms ({loops} loops) '
              f'+ 1 reduction; chain: 3 chained + 6 independent tasks of 0.2 s')
        print(f'{"jugfile":8} {"workers":>10} {"median s":>9} {"vs 1":>6}   runs'
              f'{"":22} Jug 2.7 (elsewhere)')
        for jugfile in ('cpu', 'chain'):
            one = None
            for label, workers, jobs in (('1', 1, 0), ('2', 2, 0), ('4', 4, 0),
                                         ('-j 2', 1, 2), ('-j 4', 1, 4)):
                times = [run(tmp, jugfile + '.py', workers, jobs) for _ in range(args.repeat)]
                median = statistics.median(times)
                one = one or median
                reference = JUG27.get((jugfile, label))
                print(f'{jugfile:8} {label:>10} {median:9.2f} {median / one:6.2f}   '
                      f'{", ".join(f"{t:.2f}" for t in times):26} '
                      f'{"" if reference is None else f"{reference:.1f} s"}')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
