"""A barrier: the second half of the pipeline depends on the value of the first."""
from jug import TaskGenerator, barrier, value


@TaskGenerator
def make_sizes():
    return [3, 1, 2]


@TaskGenerator
def build(n):
    return list(range(n))


@TaskGenerator
def total(lists):
    return sum(sum(xs) for xs in lists)


sizes = make_sizes()
barrier()
built = [build(n) for n in value(sizes)]
result = total(built)
