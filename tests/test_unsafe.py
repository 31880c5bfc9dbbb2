"""Tests of jug.unsafe.NoHash (docs/utilities.rst, docs/hashing.rst)."""
import pytest

import jug.task
from jug.hash import hash_one
from jug.task import Task, value
from jug.unsafe import NoHash


@pytest.fixture
def dict_store():
    from jug.backends.dict_store import dict_store
    jug.task.Task.store = dict_store()
    return jug.task.Task.store


def test_nohash_vectors():
    assert hash_one(NoHash(3)) == b'8108e47ad6fe745de511256a0188157368d9e736'
    assert hash_one([1, 2, NoHash(3)]) == b'2cf8bac115b1935d5144cc968258b40d9cdc7b79'
    assert hash_one([1, 2, NoHash(7)]) == b'2cf8bac115b1935d5144cc968258b40d9cdc7b79'


def test_nohash_hash_is_constant():
    assert NoHash(3).__jug_hash__() == b'nohash'
    assert NoHash(Task(sum, [1, 2])).__jug_hash__() == b'nohash'


def test_tasks_differing_only_in_nohash_collide():
    # This is what makes NoHash unsafe: the wrapped value is not part of the identity.
    assert Task(max, [1, 2], NoHash(3)).hash() == Task(max, [1, 2], NoHash(70)).hash()
    assert Task(max, [1, 2], NoHash(3)).hash() != Task(max, [1, 2], 3).hash()


def test_nohash_value(dict_store):
    assert value(NoHash(5)) == 5
    assert value([NoHash('a'), 1]) == ['a', 1]
    assert Task(max, 1, NoHash(5)).run() == 5
    assert 'NoHash(5)' in repr(Task(max, 1, NoHash(5)))


def test_nohash_task_is_a_dependency_and_passes_its_value(dict_store):
    inner = Task(sum, [1, 2])
    outer = Task(abs, NoHash(inner))
    assert list(outer.dependencies()) == [inner]
    assert not outer.can_run()
    assert outer.hash() == Task(abs, NoHash(Task(sum, [5]))).hash()
    inner.run()
    assert outer.run() == 3


def test_nohash_dependencies():
    t = Task(sum, [1, 2])
    assert NoHash(t).__jug_dependencies__() == [t]
    assert NoHash(3).__jug_dependencies__() == [3]
