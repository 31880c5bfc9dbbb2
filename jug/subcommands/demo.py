"""``jug demo``: create a small example project, ``jug-demo/primes.py``, to try jug on.

Layer 5 (docs/subcommands.rst).  Like Jug 2.7's, this command talks to the person at the
terminal with ``print`` rather than ``options.print_out``.
"""
from __future__ import annotations

import os

from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEMO_DIR = 'jug-demo'
DEMO_FILE = 'primes.py'

EXPLANATION = '''\
Jug demo
========

Jug runs a Python script (the "jugfile") as a set of tasks. Each task's result is
saved, so that several processes, even on different machines sharing a
directory, can work on the same script at once, and an interrupted run goes on
where it stopped.

The demo jugfile, jug-demo/primes.py, checks which numbers from 2 to 100 are
prime. Each check sleeps for one second to pretend it is hard work. Try:

    cd jug-demo
    jug status primes.py      # 99 tasks ready, 2 waiting for them
    jug execute primes.py &   # start one worker in the background...
    jug execute primes.py &   # ...and another: they share the tasks
    jug status primes.py      # watch the counts change
    jug check primes.py       # exit code 0 once everything is done

The results are kept in jug-demo/primes.jugdata/; the last task writes the list
of primes to jug-demo/output.txt. Running `jug execute primes.py` again does
nothing: every result is already stored.
'''

PRIMES_JUGFILE = '''\
"""A jug demo: which numbers from 2 to 100 are prime?

Each call of a function decorated with @TaskGenerator becomes a task. Jug stores
every task's result, so any number of `jug execute primes.py` processes can share
the work.
"""
from time import sleep

from jug import TaskGenerator


@TaskGenerator
def is_prime(n):
    sleep(1.)  # pretend this is an expensive computation
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n ** .5) + 1))


@TaskGenerator
def count_primes(flags):
    return sum(flags)


@TaskGenerator
def write_output(numbers, flags, total):
    with open('output.txt', 'w') as output:
        output.write(f'{total} primes between {numbers[0]} and {numbers[-1]}:\\n')
        for n, flag in zip(numbers, flags):
            if flag:
                output.write(f'{n}\\n')


numbers = list(range(2, 101))
flags = [is_prime(n) for n in numbers]
total = count_primes(flags)
write_output(numbers, flags, total)
'''


class DemoCommand(SubCommand):
    """Create a small example jugfile in jug-demo/

    demo: explain what jug does and write jug-demo/primes.py, a small jugfile to try
    the other commands on (nothing is written if jug-demo/ exists).
    """

    name = 'demo'
    loads_jugfile_itself = True

    def run(self, *args: Any, **kwargs: Any) -> int:
        print(EXPLANATION)
        if os.path.exists(DEMO_DIR):
            print(f'The directory {DEMO_DIR}/ exists: the demo was previously created '
                  '(remove it to create the demo again).')
            return 0
        os.mkdir(DEMO_DIR)
        with open(os.path.join(DEMO_DIR, DEMO_FILE), 'w', encoding='utf-8') as f:
            f.write(PRIMES_JUGFILE)
        print(f'Created {os.path.join(DEMO_DIR, DEMO_FILE)}.')
        return 0


demo = DemoCommand()
