"""A barrier inside a compound task: its inner tasks depend on an inner result."""
from jug import CompoundTaskGenerator, TaskGenerator, barrier, value


@TaskGenerator
def numbers(k):
    return list(range(k))


@TaskGenerator
def double(x):
    return 2 * x


@TaskGenerator
def total(xs):
    return sum(xs)


@CompoundTaskGenerator
def pipeline(k):
    base = numbers(k)
    barrier()
    return total([double(x) for x in value(base)])


result = pipeline(4)
