"""Two levels of bvalue: each stage's size depends on the previous stage's results."""
from jug import TaskGenerator, bvalue


@TaskGenerator
def count_to(n):
    return list(range(n))


@TaskGenerator
def square(x):
    return x * x


first = count_to(3)
second = [square(i) for i in range(len(bvalue(first)))]
third = square(sum(bvalue(second)))
