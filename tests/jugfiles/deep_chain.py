"""A chain of 3,000 tasks (deeper than Python's recursion limit), then a barrier."""
from jug import TaskGenerator, barrier, bvalue


@TaskGenerator
def inc(x):
    return x + 1


t = inc(0)
for _ in range(2999):
    t = inc(t)
last = t
barrier()
final = inc(bvalue(last))
