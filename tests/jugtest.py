"""Helpers for tests that run the real ``jug`` command in subprocesses."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The scenario jugfiles.
JUGFILES = os.path.join(ROOT, 'tests', 'jugfiles')


#: The data directories written by Jug 2.7.0, and what they hold.
DATA = os.path.join(ROOT, 'tests', 'data')


def extract_data(archive, dest):
    """Extract the tarball tests/data/`archive` into the directory `dest`; return `dest`.

    With the ``'data'`` filter: no absolute paths, links out of `dest` or devices (and
    no DeprecationWarning on Python 3.12+, whose default changes in 3.14).
    """
    import tarfile
    with tarfile.open(os.path.join(DATA, archive)) as tar:
        tar.extractall(dest, filter='data')
    return dest


class Output(list):
    """A print_out sink that records lines (and the empty line of tables)."""

    def __call__(self, line=''):
        self.append(line)


def jug_command(*args):
    """The argv that runs the ``jug`` command of this checkout with this interpreter."""
    return [sys.executable, '-m', 'jug', *args]


def jug_env(**extra):
    """Environment for jug subprocesses: this checkout first on the path, no JUG_* limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('JUG_')}
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env['COLUMNS'] = '200'
    env.update(extra)
    return env



def files_in(path):
    """The names of the files in directory `path`, sorted ([] if it does not exist)."""
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


#: uid and gid of ``nobody``: forked children drop to it so that permissions apply.
NOBODY = 65534


def fork_main_unprivileged(argv, cwd):
    """Start ``jug.jug.main(argv)`` in a forked child running as an unprivileged user.

    Root ignores permissions (CI runs as root), so the child drops to ``nobody`` (and
    to no supplementary groups).  The child does not exec, so the interpreter need not
    be readable by that user; the subcommand modules are loaded before forking for the
    same reason.  The child's stdout and stderr go to ``stdout.txt`` and ``stderr.txt``
    in `cwd` (which must be writable by everyone).

    Returns the child's pid, to be passed to :func:`wait_main_unprivileged`.
    """
    import jug.jug
    import jug.task
    from jug.subcommands import cmdapi
    cmdapi.load_builtin_commands()
    outputs = []
    for name in ('stdout.txt', 'stderr.txt'):
        path = os.path.join(cwd, name)
        open(path, 'w').close()
        os.chmod(path, 0o666)
        outputs.append(path)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.chdir(cwd)
            # start like a new jug process: no tasks loaded by the test before forking
            del jug.task.alltasks[:]
            jug.task.Task.store = None
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            sys.stdout = open(outputs[0], 'w')
            sys.stderr = open(outputs[1], 'w')
            try:
                jug.jug.main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                import traceback
                traceback.print_exc()
                code = 98
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    return pid


def wait_main_unprivileged(pid, cwd, timeout=60.0):
    """Wait for the child started by :func:`fork_main_unprivileged` in `cwd`.

    Returns ``(exit_code, stderr_text)``.  A child still running after `timeout`
    seconds is killed (SIGKILL) and the test fails.
    """
    import signal
    import time
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f'jug (pid {pid}) still running after {timeout} s: killed')
        time.sleep(0.01)
    with open(os.path.join(cwd, 'stderr.txt')) as f:
        return os.waitstatus_to_exitcode(status), f.read()


def main_unprivileged(argv, cwd, timeout=60.0):
    """Run ``jug.jug.main(argv)`` in `cwd` as an unprivileged user (see
    :func:`fork_main_unprivileged`); return ``(exit_code, stderr_text)``."""
    return wait_main_unprivileged(fork_main_unprivileged(argv, cwd), cwd, timeout)


def require_program(program, package):
    """Return the path of `program`; skip the test without it (fail it under CI=true).

    The test scripts (.ci/test) install the Debian `package` when they can.
    """
    import shutil

    import pytest
    path = shutil.which(program)
    if path is None:
        message = f'{program} is not installed (apt-get install {package})'
        if os.environ.get('CI') == 'true':
            pytest.fail(f'{message}: CI must run every test', pytrace=False)
        pytest.skip(message)
    return path


def run_some_squares(options):
    """On tests/jugfiles/simple.py: run squares 0-4, lock square 5 (as a running worker
    would) and mark square 6 failed; return the store."""
    import jug.task
    from jug.jug import init
    store, _ = init(options.jugfile, options.jugdir)
    squares = jug.task.alltasks[:10]
    for t in squares[:5]:
        t.run()
    squares[5].lock()
    squares[6].lock()
    squares[6].fail()
    return store


def dead_pid():
    """A pid that belonged to a process of this host which has exited."""
    import subprocess
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def jug27_lock_text(pid, host):
    """The two lines of a lock file as Jug 2.7 writes them."""
    return f'PID {pid} on HOSTNAME {host}\nLock created on 2026-11-27 (10h00.00)\n'


def race_in_processes(target, args, n=6):
    """Run ``target(*args, barrier, results)`` in `n` forked processes started together
    (they wait on `barrier`); return what each put in `results` (one item each)."""
    import multiprocessing
    context = multiprocessing.get_context('fork')
    barrier = context.Barrier(n)
    results = context.Queue()
    workers = [context.Process(target=target, args=(*args, barrier, results))
               for _ in range(n)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=30) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    return outcomes
