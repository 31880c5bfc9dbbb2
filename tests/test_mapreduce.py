"""Tests of jug.mapreduce (docs/mapreduce.rst; their hashes: docs/hashing.rst)."""
import operator
import pickle
import sys
import types

import pytest

import jug.task
from jug import mapreduce
from jug.hash import hash_one
from jug.mapreduce import (_break_up, _get_function, _jug_map, _jug_map_curry,
                           _jug_map_reduce, _jug_reduce, block_access, block_access_slice)
from jug.task import Task, Tasklet, value
from jug.utils import identity

JUGFILE_SOURCE = '''
from jug.task import TaskGenerator


def plain(x, y=0):
    return x + y


@TaskGenerator
def double(x):
    return 2 * x


@TaskGenerator
def tg_add(a, b):
    return a + b


def as_list(x):
    return [x]


def concat(a, b):
    return a + b


def product(a, b):
    return a * b
'''


@pytest.fixture
def jugfile():
    """A module named ``jugfile`` (as ``jug execute`` creates), removed afterwards."""
    saved = sys.modules.get('jugfile')
    module = types.ModuleType('jugfile')
    sys.modules['jugfile'] = module
    exec(compile(JUGFILE_SOURCE, 'jugfile.py', 'exec'), module.__dict__)
    yield module
    if saved is None:
        del sys.modules['jugfile']
    else:
        sys.modules['jugfile'] = saved


@pytest.fixture
def dict_store():
    from jug.backends.dict_store import dict_store
    jug.task.Task.store = dict_store()
    return jug.task.Task.store


def run_all():
    """Run every task created so far, dependencies first."""
    tasks = list(jug.task.alltasks)
    jug.task.topological_sort(tasks)
    for t in tasks:
        t.run()


def test_all():
    assert mapreduce.__all__ == ['mapreduce', 'map', 'currymap', 'reduce']


# ---------------------------------------------------------------------- hash vectors

def test_map_hash_vectors(jugfile):
    ts = mapreduce.map(jugfile.plain, list(range(6)), map_step=4)
    assert isinstance(ts, block_access)
    assert [b.name for b in ts.blocks] == ['jug.mapreduce._jug_map'] * 2
    assert ts.blocks[0].hash() == b'4d0b6f7110763c100fc7fcd582a1efe7a77a1495'
    assert ts.blocks[1].hash() == b'4695431c386ecc75045ba2c197d221d2a5560bcf'
    assert ts.__jug_hash__() == b'324e4a24776483d950ba1b616409c6c10b088ea6'
    assert ts[1:5].__jug_hash__() == b'74b36914652f6e8bfd610469e07c6933bdadcb59'
    assert isinstance(ts[5], Tasklet)
    assert ts[5].__jug_hash__() == b'9c056528997096a40b89286b9e22dbefcc5e24ac'


def test_map_hashes_as_task_argument(jugfile):
    ts = mapreduce.map(jugfile.plain, list(range(6)), map_step=4)
    t = Task(sum, ts)
    t_direct = Task(sum, HashedAs(b'324e4a24776483d950ba1b616409c6c10b088ea6'))
    assert t.hash() == t_direct.hash()


def test_mapreduce_hash_vector(jugfile):
    top = mapreduce.mapreduce(jugfile.plain, jugfile.plain, list(range(5)))
    assert top.name == 'jug.mapreduce._jug_reduce'
    assert top.hash() == b'a932a791b1d4906372b4ed0e7f6adc924421750f'


class HashedAs:
    """Stands for an object whose hash is given."""

    def __init__(self, h):
        self.h = h

    def __jug_hash__(self):
        return self.h


# ---------------------------------------------------------------------- _get_function

def test_get_function_unwraps_generator_and_sets_hash(jugfile):
    generator = jugfile.double
    assert not hasattr(generator.f, '__jug_hash__')
    f = _get_function(generator)
    assert f is generator.f
    assert f.__jug_hash__() == hash_one(generator)
    assert f.__jug_hash__() == b'742ea2747b19d3778a3f11ecb812dcad7e4cb546'


def test_get_function_leaves_other_callables(jugfile):
    assert _get_function(jugfile.plain) is jugfile.plain
    assert not hasattr(jugfile.plain, '__jug_hash__')
    assert _get_function(None) is None
    assert _get_function(operator.add) is operator.add


def test_get_function_side_effect_changes_hash_of_plain_function(jugfile):
    # Before: the function behind a generator cannot even be pickled by reference
    # (jugfile.double is the generator), so it cannot be hashed.
    with pytest.raises(pickle.PicklingError):
        Task(len, [jugfile.double.f]).hash()
    _get_function(jugfile.double)
    after = Task(len, [jugfile.double.f]).hash()
    assert after == Task(len, [HashedAs(hash_one(jugfile.double))]).hash()


def test_map_step_1_generator_same_as_plain_function(jugfile):
    via_generator = mapreduce.map(jugfile.double, [1, 2, 3], map_step=1)
    via_function = mapreduce.map(jugfile.double.f, [1, 2, 3], map_step=1)
    assert type(via_generator) is list
    assert [t.name for t in via_generator] == ['jugfile.double'] * 3
    assert [t.hash() for t in via_generator] == [t.hash() for t in via_function]
    assert via_generator[1].hash() == jugfile.double(2).hash()


def test_map_over_generator_uses_generator_hash(jugfile):
    ts = mapreduce.map(jugfile.double, [1, 2, 3])
    block = ts.blocks[0]
    assert block.args[0] is jugfile.double.f
    expected = Task(_jug_map, HashedAs(hash_one(jugfile.double)), [1, 2, 3])
    assert block.hash() == expected.hash()


def test_mapreduce_keeps_generators_in_task_arguments(jugfile, dict_store):
    top = mapreduce.mapreduce(jugfile.tg_add, jugfile.double, [1, 2, 3])
    assert top.name == 'jug.mapreduce._jug_map_reduce'
    assert top.args[0] is jugfile.tg_add
    assert top.args[1] is jugfile.double
    # built without _get_function: the plain functions are not touched yet
    assert not hasattr(jugfile.double.f, '__jug_hash__')
    run_all()
    assert value(top) == 12
    assert jug.task.alltasks == [top]  # running created no tasks


# ---------------------------------------------------------------------- _break_up

def test_break_up():
    assert list(_break_up([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(_break_up([1, 2, 3, 4], 2)) == [[1, 2], [3, 4]]
    assert list(_break_up([1, 2], 5)) == [[1, 2]]
    assert list(_break_up([], 3)) == []
    assert list(_break_up(range(5), 3)) == [range(0, 3), range(3, 5)]


def test_break_up_numpy():
    np = pytest.importorskip('numpy')
    pieces = list(_break_up(np.arange(10), 4))
    assert [p.tolist() for p in pieces] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


# ---------------------------------------------------------------------- task bodies

def test_task_bodies(jugfile):
    assert _jug_map(jugfile.plain, [1, 2]) == [1, 2]
    assert _jug_map(jugfile.double, [1, 2]) == [2, 4]
    assert _jug_map_curry(jugfile.plain, [(1, 2), (3, 4)]) == [3, 7]
    assert _jug_map_curry(jugfile.tg_add, [(1, 2)]) == [3]
    assert _jug_map_reduce(operator.add, jugfile.double, [1, 2, 3]) == 12
    assert _jug_map_reduce(jugfile.tg_add, None, [1, 2, 3]) == 6
    assert _jug_reduce(jugfile.tg_add, [1, 2, 3]) == 6
    assert jug.task.alltasks == []


# ---------------------------------------------------------------------- values

def test_map_values(jugfile, dict_store):
    ts = mapreduce.map(jugfile.double, list(range(10)), map_step=3)
    assert len(ts.blocks) == 4
    assert len(jug.task.alltasks) == 4
    assert not ts.can_load()
    run_all()
    assert ts.can_load()
    assert value(ts) == [2 * x for x in range(10)]
    assert [value(ts[i]) for i in range(10)] == [2 * x for x in range(10)]


def test_map_over_numpy_array(jugfile, dict_store):
    np = pytest.importorskip('numpy')
    ts = mapreduce.map(jugfile.plain, np.arange(9), map_step=4)
    assert len(ts) == 9
    run_all()
    assert [int(v) for v in value(ts)] == list(range(9))


def test_map_with_task_inputs(jugfile, dict_store):
    inputs = [jugfile.double(i) for i in range(5)]
    ts = mapreduce.map(jugfile.double, inputs, map_step=2)
    assert list(ts.blocks[0].dependencies()) == inputs[:2]
    run_all()
    assert value(ts) == [4 * i for i in range(5)]


def test_map_step_1_values(jugfile, dict_store):
    ts = mapreduce.map(jugfile.double, [1, 2, 3], map_step=1)
    run_all()
    assert value(ts) == [2, 4, 6]


def test_currymap(jugfile, dict_store):
    args = [(i, 10 * i) for i in range(7)]
    ts = mapreduce.currymap(jugfile.plain, args, map_step=3)
    assert type(ts) is list
    assert len(ts) == 7
    assert all(isinstance(t, Tasklet) for t in ts)
    blocks = jug.task.alltasks
    assert [b.name for b in blocks] == ['jug.mapreduce._jug_map_curry'] * 3
    assert ts[4].base is blocks[1]
    run_all()
    assert value(ts) == [11 * i for i in range(7)]


def test_currymap_generator_and_step_1(jugfile, dict_store):
    ts = mapreduce.currymap(jugfile.tg_add, [(1, 2), (3, 4)], map_step=1)
    assert [t.name for t in ts] == ['jugfile.tg_add'] * 2
    assert ts[1].hash() == jugfile.tg_add(3, 4).hash()
    run_all()
    assert value(ts) == [3, 7]


def test_mapreduce_values_and_tree(jugfile, dict_store):
    top = mapreduce.mapreduce(jugfile.concat, jugfile.as_list, list(range(100)),
                              map_step=2, reduce_step=3)
    names = [t.name for t in jug.task.alltasks]
    # 50 map-reduce tasks, then 17, 6, 2 and 1 reduce tasks
    assert names.count('jug.mapreduce._jug_map_reduce') == 50
    assert names.count('jug.mapreduce._jug_reduce') == 17 + 6 + 2 + 1
    assert top is jug.task.alltasks[-1]
    run_all()
    assert value(top) == list(range(100))  # the order is kept


def test_mapreduce_default_steps(jugfile, dict_store):
    top = mapreduce.mapreduce(jugfile.plain, jugfile.double, list(range(40)))
    # 10 blocks of 4, reduced 8 at a time: 2 tasks, then 1
    assert len(jug.task.alltasks) == 10 + 2 + 1
    assert [len(t.args[1]) for t in jug.task.alltasks[10:12]] == [8, 2]
    run_all()
    assert value(top) == 2 * sum(range(40))


def test_mapreduce_single_block(jugfile, dict_store):
    top = mapreduce.mapreduce(jugfile.product, None, [1, 2, 3, 4])
    assert top.name == 'jug.mapreduce._jug_map_reduce'
    assert jug.task.alltasks == [top]
    run_all()
    assert value(top) == 24


def test_reduce(jugfile, dict_store):
    top = mapreduce.reduce(jugfile.concat, [[i] for i in range(30)], reduce_step=2)
    assert top.hash() == mapreduce.mapreduce(jugfile.concat, None, [[i] for i in range(30)],
                                             reduce_step=2).hash()
    run_all()
    assert value(top) == list(range(30))


def test_empty_inputs(jugfile, dict_store):
    ts = mapreduce.map(jugfile.double, [])
    assert len(ts) == 0
    assert ts.blocks == []
    assert ts.__jug_dependencies__() == []
    assert value(ts) == []
    assert mapreduce.map(jugfile.double, [], map_step=1) == []
    assert mapreduce.currymap(jugfile.plain, []) == []
    total = Task(sum, ts)
    assert list(total.dependencies()) == []
    top = mapreduce.mapreduce(jugfile.plain, jugfile.plain, [])
    assert top.name == 'identity'
    assert top.hash() == identity([]).hash()
    reduced = mapreduce.reduce(jugfile.plain, [])
    run_all()
    assert value(total) == 0
    assert value(top) == []
    assert value(reduced) == []


# ---------------------------------------------------------------------- block_access

@pytest.fixture
def ts23(jugfile):
    return mapreduce.map(jugfile.double, range(23), map_step=4)


def test_block_access_indexing(ts23):
    assert len(ts23) == 23
    assert len(ts23.blocks) == 6
    t = ts23[9]
    assert isinstance(t, Tasklet)
    assert t.base is ts23.blocks[2]
    assert t.__jug_hash__() == ts23.blocks[2][1].__jug_hash__()
    assert ts23[-1].__jug_hash__() == ts23[22].__jug_hash__()
    assert ts23[-23].__jug_hash__() == ts23[0].__jug_hash__()
    assert ts23[True].__jug_hash__() == ts23[1].__jug_hash__()
    for bad in (23, 100, -24):
        with pytest.raises(IndexError):
            ts23[bad]


def test_block_access_numpy_index(ts23):
    np = pytest.importorskip('numpy')
    assert ts23[np.int64(5)].__jug_hash__() == ts23[5].__jug_hash__()


@pytest.mark.parametrize('bad', ['a', 1.5, None, (1, 2)])
def test_block_access_bad_index(ts23, bad):
    with pytest.raises(TypeError):
        ts23[bad]


def test_block_access_cannot_be_iterated(ts23):
    with pytest.raises(NotImplementedError):
        iter(ts23)
    with pytest.raises(NotImplementedError):
        iter(ts23[1:3])


def test_block_access_dependencies(ts23):
    assert ts23.__jug_dependencies__() == ts23.blocks
    t = Task(sum, ts23)
    assert list(t.dependencies()) == ts23.blocks


def test_block_access_as_task_argument(ts23, dict_store):
    total = Task(sum, ts23)
    assert not total.can_run()
    run_all()
    assert value(total) == 2 * sum(range(23))


def test_block_access_hash_depends_on_contents(jugfile):
    a = mapreduce.map(jugfile.double, list(range(8)), map_step=4)
    b = mapreduce.map(jugfile.double, list(range(8)), map_step=4)
    c = mapreduce.map(jugfile.double, list(range(8)), map_step=2)
    d = mapreduce.map(jugfile.plain, list(range(8)), map_step=4)
    assert a.__jug_hash__() == b.__jug_hash__()
    assert len({a.__jug_hash__(), c.__jug_hash__(), d.__jug_hash__()}) == 3


# ---------------------------------------------------------------------- block_access_slice

def test_slices_compose(ts23):
    composed = ts23[2:8][1:3]
    assert isinstance(composed, block_access_slice)
    assert composed.base is ts23
    assert composed.__jug_hash__() == block_access_slice(ts23, (3, 5, 1)).__jug_hash__()
    assert composed.__jug_hash__() == ts23[3:5].__jug_hash__()
    assert composed.__jug_hash__() != ts23[2:8].__jug_hash__()
    assert ts23[::2][1:4].__jug_hash__() == ts23[2:8:2].__jug_hash__()
    assert ts23[:].__jug_hash__() == block_access_slice(ts23, (0, 23, 1)).__jug_hash__()


def test_slice_dependencies(ts23):
    assert ts23[5:10].__jug_dependencies__() == ts23.blocks[1:3]
    assert ts23[::-1].__jug_dependencies__() == ts23.blocks
    assert ts23[1:23:8].__jug_dependencies__() == [ts23.blocks[0], ts23.blocks[2],
                                                   ts23.blocks[4]]
    assert ts23[4:4].__jug_dependencies__() == []
    t = Task(sum, ts23[5:10])
    assert list(t.dependencies()) == ts23.blocks[1:3]


def test_slice_dependencies_ascending_for_large_block_numbers(jugfile):
    ts = mapreduce.map(jugfile.double, list(range(70)), map_step=2)
    backwards = ts[::-32]               # elements 69, 37, 5: blocks 34, 18, 2
    assert backwards.__jug_dependencies__() == [ts.blocks[2], ts.blocks[18], ts.blocks[34]]


def test_slice_indexing(ts23):
    s = ts23[5:15:3]            # 5, 8, 11, 14
    assert len(s) == 4
    assert s[1].__jug_hash__() == ts23[8].__jug_hash__()
    assert s[-1].__jug_hash__() == ts23[14].__jug_hash__()
    with pytest.raises(IndexError):
        s[4]
    with pytest.raises(TypeError):
        s['x']
    assert len(ts23[100:200]) == 0
    assert len(ts23[-3:]) == 3


def test_slice_values(ts23, dict_store):
    doubled = [2 * x for x in range(23)]
    s = ts23[5:15:3]
    assert not s.can_load()
    run_all()
    assert s.can_load()
    assert value(s) == doubled[5:15:3]
    assert value(ts23[2:8][1:3]) == doubled[3:5]
    assert value(ts23[::-1]) == doubled[::-1]
    assert value(ts23[-5:][::-2]) == doubled[-5:][::-2]
    assert value(ts23[20:4:-3][1:]) == doubled[20:4:-3][1:]
    assert value(s[2]) == doubled[11]
    total = Task(sum, ts23[5:10])
    total.run()
    assert value(total) == sum(doubled[5:10])


def test_slice_can_load_needs_all_blocks(ts23, dict_store):
    for block in ts23.blocks[1:3]:
        block.run()
    assert not ts23[5:10].can_load()  # as in Jug 2.7: delegated to the whole map
    for block in ts23.blocks:
        block.run()
    assert ts23[5:10].can_load()
