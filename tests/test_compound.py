"""CompoundTask and CompoundTaskGenerator (docs/compound.rst)."""
import pytest

import jug.task
from jug import CompoundTask, CompoundTaskGenerator, TaskGenerator, value
from jug.backends.dict_store import dict_store
from jug.task import Task


@TaskGenerator
def double(x):
    return 2 * x


@TaskGenerator
def total(xs):
    return sum(xs)


def pipeline(n):
    return total([double(i) for i in range(n)])


@pytest.fixture
def store():
    s = dict_store()
    Task.store = s
    return s


def test_hash_vector_and_name(store):
    t = CompoundTask(sorted, [3, 1, 2])
    assert t.name == 'jug.compound.compound_task_execute'
    assert t.hash() == b'da37c7f240181e50ca0a351f3babde8fac20f0cc'
    assert t.hash() == Task(sorted, [3, 1, 2]).hash()


def _run_all():
    for t in list(jug.task.alltasks):
        if not t.can_load():
            t.run()


def test_stored_once_then_reused_without_inner_tasks(store):
    final = CompoundTask(pipeline, 4)
    assert [t.name for t in jug.task.alltasks].count(double.f.__module__ + '.double') == 4
    assert jug.task.alltasks[-1] is final
    _run_all()
    assert value(final) == 12
    key = final.hash()
    assert store.counts[b'dump::' + key] == 1
    jug.task.alltasks = []
    again = CompoundTask(pipeline, 4)
    assert [t.name for t in jug.task.alltasks] == [pipeline.__module__ + '.pipeline']
    assert again.hash() == key and value(again) == 12


def test_generator_wraps_and_keeps_f(store):
    generator = CompoundTaskGenerator(pipeline)
    assert generator.f is pipeline
    assert generator.__name__ == 'pipeline'
    t = generator(3)
    _run_all()
    assert value(t) == 6


def test_debug_mode_does_not_reject_the_overridden_hash(store):
    final = CompoundTask(pipeline, 2)
    for t in jug.task.alltasks[:-1]:
        t.run()
    final.run(debug_mode=True)
    assert value(final) == 2
