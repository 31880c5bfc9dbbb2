"""A first jugfile: which numbers from 2 to 100 are prime?

Each ``is_prime(n)`` call below does not run the function: it creates a task.
``jug execute primes.py`` runs the tasks (start it several times, in several
terminals or on several machines sharing the directory, and the processes split
the work between them); ``jug status primes.py`` shows how far they got.

The results are kept in ``primes.jugdata/`` next to this file (the default
jugdir), so running ``jug execute`` again computes nothing new.
"""
import time

from jug import TaskGenerator


@TaskGenerator
def is_prime(n):
    """Return True when ``n`` is prime (slowly, so that parallelism shows)."""
    time.sleep(0.05)  # stands in for real work
    if n < 2:
        return False
    divisor = 2
    while divisor * divisor <= n:
        if n % divisor == 0:
            return False
        divisor += 1
    return True


@TaskGenerator
def count_primes(flags):
    """Return how many of ``flags`` are true.

    ``flags`` arrives as a plain list of booleans: jug passes the *results* of
    the ``is_prime`` tasks, not the tasks themselves.
    """
    return sum(1 for flag in flags if flag)


@TaskGenerator
def write_output(numbers, flags, total, fname):
    """Write the primes found and their number to the text file ``fname``."""
    with open(fname, 'w') as out:
        out.write(f'{total} primes between {numbers[0]} and {numbers[-1]}:\n')
        for n, flag in zip(numbers, flags):
            if flag:
                out.write(f'{n}\n')
    return fname


numbers = list(range(2, 101))
primes100 = [is_prime(n) for n in numbers]
n_primes = count_primes(primes100)
written = write_output(numbers, primes100, n_primes, 'output.txt')
