"""Many small computations in few tasks, with ``jug.mapreduce``.

A task has a fixed cost (a lock, a result file, a line in ``jug status``), so
ten thousand tasks of a millisecond each spend most of their time on
bookkeeping. ``jug.mapreduce`` groups the work into blocks: one task per block
of inputs. This jugfile shows its three tools on small numeric problems:

* ``mapreduce.map``: a Monte Carlo estimate of pi. Each of 16 random seeds
  throws darts at the unit square; ``map`` runs four seeds per task and
  returns a lazy sequence of the 16 hit counts. Indexing and slicing it
  (``hits[0]``, ``hits[:8]``, ``hits[::2]``) gives views that other tasks can
  take as arguments; a task given ``hits[:8]`` waits only for the blocks that
  hold those eight counts.
* ``mapreduce.mapreduce``: the sum of the squares of 1..10000, mapped 1000
  numbers per task and then reduced pairwise in a small tree of tasks.
* ``mapreduce.currymap``: sums of powers ``1**p + ... + n**p`` for several
  ``(n, p)`` pairs; each pair is unpacked into the function's arguments. The
  results are checked against the closed formulas.

Run it with one or more processes, then look at the results::

    jug execute mapreduce_example.py &
    jug execute mapreduce_example.py &
    wait
    jug status mapreduce_example.py

``jug status`` lists tasks named ``jug.mapreduce._jug_map``,
``jug.mapreduce._jug_map_curry``, ``jug.mapreduce._jug_map_reduce`` and
``jug.mapreduce._jug_reduce``: 4 + 3 + 10 + 4 block tasks for 16 + 9 + 10000
computations, plus the few ordinary tasks below.
"""
import functools
import operator
import random

from jug import TaskGenerator
from jug import mapreduce

#: Random seeds of the Monte Carlo runs (each run is repeatable).
SEEDS = list(range(16))
#: Darts thrown per seed.
POINTS = 20_000
#: The sum of squares runs over 1..N_SQUARES.
N_SQUARES = 10_000
#: The ``(n, p)`` pairs for which ``1**p + ... + n**p`` is computed.
POWER_SUMS = [(n, p) for p in (1, 2, 3) for n in (10, 100, 1000)]


# Functions given to map, mapreduce and currymap are plain functions (a
# TaskGenerator works as well). They must be defined at the top level of the
# jugfile so that jug can refer to them by name.

def count_inside(seed, points):
    """Throw ``points`` random darts at the unit square; count those in the quarter disc."""
    rng = random.Random(seed)
    inside = 0
    for _ in range(points):
        x = rng.random()
        y = rng.random()
        if x * x + y * y <= 1.0:
            inside += 1
    return inside


def square(x):
    """``x`` squared (the mapper of the sum of squares)."""
    return x * x


def power_sum(n, p):
    """``1**p + 2**p + ... + n**p``, added up term by term."""
    return sum(k ** p for k in range(1, n + 1))


@TaskGenerator
def estimate_pi(hits, points):
    """Estimate pi from hit counts of runs of ``points`` darts each."""
    return 4.0 * sum(hits) / (len(hits) * points)


@TaskGenerator
def check_power_sums(pairs, sums):
    """Compare each computed power sum with its closed formula; return the mismatches."""
    formulas = {
        1: lambda n: n * (n + 1) // 2,
        2: lambda n: n * (n + 1) * (2 * n + 1) // 6,
        3: lambda n: (n * (n + 1) // 2) ** 2,
    }
    return [(n, p, s) for (n, p), s in zip(pairs, sums) if formulas[p](n) != s]


@TaskGenerator
def summarise(pi_all, pi_halves, pi_even_seeds, first_hits, sum_of_squares, mismatches):
    """Collect the results in one dict (load it with ``jug.value``)."""
    return {
        'pi': pi_all,
        'pi_halves': pi_halves,
        'pi_even_seeds': pi_even_seeds,
        'hits_seed_0': first_hits,
        'sum_of_squares': sum_of_squares,
        'power_sum_mismatches': mismatches,
    }


# 1. map: 16 seeds, 4 per task. The number of darts is bound with
# functools.partial, so it is part of the tasks' hashes: change POINTS and the
# runs are recomputed.
hits = mapreduce.map(functools.partial(count_inside, points=POINTS), SEEDS, map_step=4)
pi_all = estimate_pi(hits, POINTS)
# Slices are lazy views: estimate_pi(hits[:8], ...) needs only the first two blocks.
pi_halves = [estimate_pi(hits[:8], POINTS), estimate_pi(hits[8:], POINTS)]
pi_even_seeds = estimate_pi(hits[::2], POINTS)

# 2. mapreduce: each of ten tasks squares 1000 numbers and adds them up; the
# ten partial sums are then added four at a time: 10 -> 3 -> 1 tasks.
sum_of_squares = mapreduce.mapreduce(operator.add, square, range(1, N_SQUARES + 1),
                                     map_step=1000, reduce_step=4)

# 3. currymap: each (n, p) pair becomes power_sum(n, p); three pairs per task.
power_sums = mapreduce.currymap(power_sum, POWER_SUMS, map_step=3)
mismatches = check_power_sums(POWER_SUMS, power_sums)

summary = summarise(pi_all, pi_halves, pi_even_seeds, hits[0], sum_of_squares, mismatches)
