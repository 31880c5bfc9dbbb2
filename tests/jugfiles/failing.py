"""20 tasks: some_fail(x) raises for 2, 5, 8; plus1 of each (see docs/parallel.rst)."""
from jug import TaskGenerator


@TaskGenerator
def some_fail(x):
    if x in (2, 5, 8):
        raise ValueError(f'failing on purpose for {x}')
    return x


@TaskGenerator
def plus1(x):
    return x + 1


values = [some_fail(x) for x in range(10)]
plus = [plus1(v) for v in values]
