"""Slices and elements of a map result, passed to further tasks."""
from jug import TaskGenerator
from jug.mapreduce import map as jmap


def square(x):
    return x * x


@TaskGenerator
def total(xs):
    return sum(xs)


squares = jmap(square, list(range(23)), map_step=4)
middle = squares[5:10]
inner = squares[2:8][1:3]
last = squares[-1]
middle_total = total(middle)
from_parts = total([squares[0], squares[22], inner[1]])
