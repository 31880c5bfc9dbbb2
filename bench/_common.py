"""Helpers shared by the benchmarks in bench/ (not a benchmark itself).

Every benchmark runs the jug of this checkout (the repository root goes first on
PYTHONPATH) with the running interpreter, in a temporary directory.
"""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOOR = os.path.join(ROOT, os.pardir, 'shared', 'bench', 'floor.py')


def env():
    """Return an environment that imports jug from this checkout, with no jug limits."""
    e = dict(os.environ)
    e['PYTHONPATH'] = ROOT + (os.pathsep + e['PYTHONPATH'] if e.get('PYTHONPATH') else '')
    for var in ('JUG_MAX_TASKS', 'JUG_MAX_HOURS', 'JUG_MAX_MINUTES', 'JUG_MAX_SECONDS',
                'JUG_EXIT_IF_FILE_EXISTS'):
        e.pop(var, None)
    return e


def jug(args, cwd, check_codes=(0,)):
    """Run ``python -m jug.jug ARGS`` in ``cwd``; return (seconds, completed process)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, '-m', 'jug.jug', *args], cwd=cwd, env=env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if check_codes is not None and proc.returncode not in check_codes:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f'jug {" ".join(args)} exited with {proc.returncode}')
    return elapsed, proc


def write_jugfile(dirname, n, name='jugfile.py'):
    """Write a jugfile of ``n`` independent trivial tasks; return its path."""
    path = os.path.join(dirname, name)
    with open(path, 'w') as f:
        f.write('from jug import TaskGenerator\n\n\n'
                '@TaskGenerator\n'
                'def f(i):\n'
                '    return i\n\n\n'
                f'results = [f(i) for i in range({n})]\n')
    return path


def floor(dirname):
    """Run ../shared/bench/floor.py in ``dirname``.

    Returns {'durable': us, 'nofsync': us}, or None without that script.
    """
    if not os.path.exists(FLOOR):
        print(f'(no {os.path.normpath(FLOOR)}: floor not measured)')
        return None
    proc = subprocess.run([sys.executable, FLOOR, dirname], stdout=subprocess.PIPE, text=True)
    m = re.search(r'durable=(\d+(?:\.\d+)?)\s+nofsync=(\d+(?:\.\d+)?)', proc.stdout)
    if proc.returncode != 0 or m is None:
        print(f'(floor.py failed: {proc.stdout.strip()!r})')
        return None
    return {'durable': float(m.group(1)), 'nofsync': float(m.group(2))}


_MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(elapsed, peak * (1 if sys.platform == 'darwin' else 1024), code)
"""


def jug_measured(args, cwd):
    """Run ``python -m jug ARGS`` in ``cwd``; return (seconds, peak RSS in bytes, exit code).

    The command runs under a fresh intermediate process, so that its peak memory
    (``RUSAGE_CHILDREN``) is that of this command alone.
    """
    out = subprocess.run([sys.executable, '-c', _MEASURE, cwd, sys.executable, '-m', 'jug',
                          *args], env=env(), stdout=subprocess.PIPE, text=True, check=True)
    elapsed, peak, code = out.stdout.split()
    return float(elapsed), int(peak), int(code)
