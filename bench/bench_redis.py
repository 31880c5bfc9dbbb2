#!/usr/bin/env python3
"""Per-task cost of ``jug execute`` through a redis server, next to the file store's.

Starts a private ``redis-server`` (no persistence) on 127.0.0.1 and a free port, writes
a jugfile of N trivial tasks (default 5,000) and times, as whole commands, ``jug
execute`` with nothing computed and again with everything computed, once with
``--jugdir redis://127.0.0.1:PORT/`` and once on the default file store.  The per-task
cost is the difference divided by N.  Prints figures only; asserts nothing about time.

Usage: python bench/bench_redis.py [--n N]
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import jug, write_jugfile  # noqa: E402


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_redis(workdir):
    """Start redis-server; return (process, url).  Raises SystemExit if it is missing."""
    program = os.environ.get('REDIS_SERVER') or shutil.which('redis-server') \
        or '/usr/bin/redis-server'
    if not os.path.exists(program):
        raise SystemExit('redis-server is not installed (apt-get install redis-server)')
    port = _free_port()
    server = subprocess.Popen([program, '--port', str(port), '--bind', '127.0.0.1',
                               '--save', '', '--appendonly', 'no', '--dir', workdir],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1) as s:
                s.sendall(b'PING\r\n')
                if s.recv(16).startswith(b'+PONG'):
                    return server, f'redis://127.0.0.1:{port}/'
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit('redis-server did not start')


def per_task(n, workdir, *jugdir):
    run_s, _ = jug(['execute', 'jugfile.py', '--will-cite', *jugdir], workdir)
    base_s, _ = jug(['execute', 'jugfile.py', '--will-cite', *jugdir], workdir)
    return (run_s - base_s) / n * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=5_000, help='number of tasks')
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='jug-bench-redis-')
    server = None
    try:
        server, url = start_redis(tmp)
        write_jugfile(tmp, args.n)
        redis_us = per_task(args.n, tmp, '--jugdir', url)
        file_us = per_task(args.n, tmp)
        print(f'tasks                      {args.n}')
        print(f'per task, redis (local)    {redis_us:8.0f} us')
        print(f'per task, file store       {file_us:8.0f} us')
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
