"""A small chain and fan-in: ten squares, their sum, and a chain of increments."""
from jug import TaskGenerator


@TaskGenerator
def square(x):
    return x * x


@TaskGenerator
def total(xs):
    return sum(xs)


@TaskGenerator
def inc(x):
    return x + 1


squares = [square(i) for i in range(10)]
result = total(squares)
chain = inc(inc(inc(result)))
