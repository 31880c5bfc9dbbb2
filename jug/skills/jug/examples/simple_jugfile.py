"""A complete small jugfile: square some numbers, sum them, then use the sum.

Run it with::

    jug execute simple_jugfile.py    # start several of these to share the work
    jug status simple_jugfile.py
"""
from jug import TaskGenerator, barrier, value


@TaskGenerator
def square(x):
    return x * x


@TaskGenerator
def add_all(values):
    return sum(values)


@TaskGenerator
def scale(values, factor):
    return [v * factor for v in values]


squares = [square(i) for i in range(20)]   # 20 independent tasks
total = add_all(squares)                   # waits for all of them

barrier()                                  # below here, results can be read
scaled = scale(value(squares), 1.0 / value(total))
