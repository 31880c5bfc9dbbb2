"""mapreduce and map over generators (consumed into lists) and over a range."""
from jug import TaskGenerator
from jug.mapreduce import map as jmap
from jug.mapreduce import mapreduce


def add(a, b):
    return a + b


@TaskGenerator
def square(x):
    return x * x


total = mapreduce(add, square, (i for i in range(10)), map_step=3, reduce_step=2)
squares = jmap(square, (i for i in range(7)), map_step=2)
from_range = mapreduce(add, square, range(5))
