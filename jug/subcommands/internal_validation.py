"""``jug test-jug``: check that the installed jug works, end to end.

Layer 5.  In a temporary directory it writes a small jugfile (a fan-out, a fan-in and
a barrier), runs two ``jug execute`` workers on it at the same time, then asks ``jug
check`` and reads the results back in a fresh interpreter.  Every step runs jug as a
subprocess (``python -m jug``) with ``PYTHONPATH`` pointing at this very package, so
what is checked is this installation, not whatever ``jug`` is first on ``PATH``.

Jug 2.7 ran its own unit tests with pytest here; those tests are not installed with
the package, so this command checks behaviour instead and needs no pytest.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

#: Seconds any one step may take before the check counts as failed.
STEP_TIMEOUT = 120

JUGFILE = '''\
"""The jugfile of ``jug test-jug``: 14 tasks, a fan-out, a fan-in and a barrier."""
import time

from jug import TaskGenerator, barrier, value


@TaskGenerator
def double(x):
    time.sleep(0.05)  # long enough that both workers get some of the tasks
    return 2 * x


@TaskGenerator
def add(a, b):
    return a + b


@TaskGenerator
def total(xs):
    return sum(xs)


doubled = [double(i) for i in range(8)]
pairs = [add(doubled[i], doubled[i + 1]) for i in range(0, 8, 2)]
first = total(pairs)
barrier()
final = add(value(first), 1)
'''

READER = '''\
import json
import jug.task
from jug import value
from jug.jug import init

store, space = init('validation.py', 'validation.jugdata')
print(json.dumps({
    'tasks': len(jug.task.alltasks),
    'doubled': value(space['doubled']),
    'pairs': value(space['pairs']),
    'first': value(space['first']),
    'final': value(space['final']),
}))
'''

EXPECTED = {
    'tasks': 14,
    'doubled': [2 * i for i in range(8)],
    'pairs': [2, 10, 18, 26],
    'first': 56,
    'final': 57,
}


def _environment() -> dict[str, str]:
    """The environment of the subprocesses: this jug package first on the path."""
    import jug
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(jug.__file__)))
    env = dict(os.environ)
    rest = env.get('PYTHONPATH')
    env['PYTHONPATH'] = package_parent + (os.pathsep + rest if rest else '')
    return env


def _jug(*args: str) -> list[str]:
    return [sys.executable, '-m', 'jug', *args, 'validation.py', '--will-cite']


class _Failed(Exception):
    pass


def _run(command: list[str], directory: str, env: dict[str, str], expected_code: int = 0) -> str:
    try:
        proc = subprocess.run(command, cwd=directory, env=env, capture_output=True,
                              text=True, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise _Failed(f'`{" ".join(command[2:])}` took more than {STEP_TIMEOUT} s')
    if proc.returncode != expected_code:
        raise _Failed(f'`{" ".join(command[2:])}` exited with {proc.returncode} '
                      f'(expected {expected_code}):\n{proc.stdout}{proc.stderr}')
    return proc.stdout


def _two_workers(directory: str, env: dict[str, str]) -> None:
    command = _jug('execute', '--wait-cycle-time', '0.1', '--nr-wait-cycles', '600')
    workers = [subprocess.Popen(command, cwd=directory, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    problems = []
    for i, worker in enumerate(workers):
        try:
            output, _ = worker.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
            problems.append(f'worker {i + 1} took more than {STEP_TIMEOUT} s')
            continue
        if worker.returncode != 0:
            problems.append(f'worker {i + 1} exited with {worker.returncode}:\n{output}')
    if problems:
        raise _Failed('\n'.join(problems))


def validate(print_out: Callable[..., Any] = print) -> int:
    """Run the self-check, reporting each step through ``print_out``; return 0 or 1."""
    env = _environment()
    steps = [
        ('jug check before running (expects exit code 1)',
         lambda d: _run(_jug('check'), d, env, expected_code=1)),
        ('two `jug execute` workers at once', lambda d: _two_workers(d, env)),
        ('jug check after running (expects exit code 0)', lambda d: _run(_jug('check'), d, env)),
        ('results read back in a new process', lambda d: _check_values(d, env)),
    ]
    print_out(f'Checking jug in {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))} '
              f'with {sys.executable}')
    with tempfile.TemporaryDirectory(prefix='jug-test-') as directory:
        with open(os.path.join(directory, 'validation.py'), 'w', encoding='utf-8') as f:
            f.write(JUGFILE)
        for title, step in steps:
            try:
                step(directory)
            except _Failed as e:
                print_out(f'  FAILED  {title}')
                for line in str(e).splitlines():
                    print_out(f'          {line}')
                print_out('jug test-jug: the check failed.')
                return 1
            print_out(f'  ok      {title}')
    print_out('jug test-jug: all checks passed.')
    return 0


def _check_values(directory: str, env: dict[str, str]) -> None:
    output = _run([sys.executable, '-c', READER], directory, env)
    try:
        found = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise _Failed(f'could not read the results:\n{output}')
    if found != EXPECTED:
        raise _Failed(f'wrong results: expected {EXPECTED}, found {found}')


class InternalValidationCommand(SubCommand):
    """Check that this installation of jug works

    test-jug: run a small jugfile with two workers in a temporary directory and check
    the results (exit code 0 if all is well, 1 otherwise).
    """

    name = 'test-jug'
    loads_jugfile_itself = True

    def run(self, *args: Any, options: Any = None, **kwargs: Any) -> int:
        print_out = options.print_out if options is not None else print
        return validate(print_out)


internal_validation = InternalValidationCommand()
