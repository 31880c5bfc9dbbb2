"""A task fails before a barrier: what comes after the barrier can never run."""
import os

from jug import TaskGenerator, barrier, value


@TaskGenerator
def square(x):
    return x * x


@TaskGenerator
def fails():
    with open('fails.log', 'a') as log:
        log.write(f'{os.getpid()}\n')
    raise RuntimeError('this task always fails')


ok = square(3)
bad = fails()
barrier()
after = square(value(bad))
