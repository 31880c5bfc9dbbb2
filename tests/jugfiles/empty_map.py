"""map, currymap and mapreduce over nothing."""
from jug.mapreduce import currymap, map as jmap, mapreduce


def add(a, b):
    return a + b


def square(x):
    return x * x


mapped = jmap(square, [], map_step=2)
curried = currymap(add, [], map_step=2)
reduced = mapreduce(add, square, [])
