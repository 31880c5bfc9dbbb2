"""Hash vectors (computed with Jug 2.7.0) for jug.hash and jug.task
(see docs/hashing.rst)."""
import pickle
import subprocess
import sys
import textwrap
from collections import namedtuple

import numpy as np
import pytest

from jug.hash import hash_one, hash_update, new_hash_object
from jug.task import Task, Tasklet, iteratetask
from jug.utils import identity


SCALARS = [
    (0, '64066e982e96eef562667c72f760f1a4364da4b5'),
    (1, '9d016a3f66964ffa7cb4a0f987187adcc1448985'),
    (-7, 'ea2d20ed40ec47a5e1ab6a307f4738f99d70aa87'),
    (2**70, '7c3646eba97c1197ab493214d9d6e906d65a2b60'),
    (1.5, '9869445f7c5a5cb5bc003c6758a2f67e2cac0112'),
    (None, 'c9ba563122f477474fe0f92f5227acf50b32af8b'),
    (True, 'a46443155ff917a89b3e10cbe7f74f1875857468'),
    ('hello', 'd52a35bf331e0bd62653601d03cf4b4032d5144c'),
    ('héllo', '57e4071b361f4437009dd909ce13698a0eec44ff'),
    (b'hello', '1b53fd93ea5ae8af798bb6ac6d27c43295987d4b'),
    (slice(1, 3), 'af213f56abd0d5d281cb3eb6d769a163598f5f12'),
    (np.float64(1.5), '78042731a9513c2a6b8e7062af6ee8741515301e'),
]

CONTAINERS = [
    ([], '479073d99e5c22b9cfff4617c3d5257fd36087d6'),
    ((), '744837d6edfb9271e0fbf95fc9219375074d26d3'),
    ([1, 2, 3], '50adb8d46589fe42523fe4792898d2ef16f5debc'),
    ((1, 2, 3), '5d04baac02776b476a736f5c11b8bc80d8eaedfd'),
    ([1, 'a', (2, 3)], '072067f4dcf1ed6f65eebc9ac81bb629179c0c9f'),
    ([[1, [2]], ('x', [None])], '0a0fb997be9cc764296a27de3bf9c9f7f32b0872'),
    ({}, '2dede28c98870a4f7a1210698d511e19cc40ed35'),
    ({'k': 1.5}, '2048fd3dccf8b1a8bdf8d55839918fff0a308a1c'),
    ({'b': [1, 2], 'a': {'x': None}, 3: 'three'}, 'cf253dd87faea8f8acdcddb8a8cac6e2ef1440e1'),
    ({1, 2, 3}, '1d705790982e464055df9948f51b7130c394fa28'),
    (frozenset({1, 2, 3}), 'a5f4af11e4a0978a48fc33128f8cb85545e543bd'),
    ({'a', 'b', 'c'}, 'a3c708616bd764ce9e8f6273555bf73759cabd4d'),
    (set(), '6fbd3dd07d4604bbc47dc886ea61831192f3725d'),
    ({2, 1}, '8d463927237c8a9230e0fe558a46c14e0acc0102'),
]

ARRAYS = [
    (lambda: np.arange(10, dtype=np.int64), '119f30df0514cbf105e1f5292869fba4ffc1ae0c'),
    (lambda: np.arange(6, dtype=np.float32).reshape(2, 3),
     'd62735c3c3269d2b1e83f7f5c0ba96da8817f55c'),
    (lambda: np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
     'd62735c3c3269d2b1e83f7f5c0ba96da8817f55c'),
    (lambda: np.arange(10, dtype=np.int64)[::2], '57707bf189e9c1ca134e958a962b62de2ae1dfa0'),
    (lambda: np.arange(0, 10, 2, dtype=np.int64), '57707bf189e9c1ca134e958a962b62de2ae1dfa0'),
    (lambda: np.array([1.0, 2.0]), '3d8e2c3ba137061bebacd08dbee2421a18523c77'),
    (lambda: np.array(['a', None, 3], dtype=object), '7a8c5f34e24a44323aa0254d597890ccade465c0'),
    (lambda: np.arange(3, dtype=np.int32), '0f57eac4ac190f3f71b753c91aa064a78c0a1d9f'),
    (lambda: np.arange(4, dtype='>i4'), '1bb11b6ea5add7d36bc8f268af746783ca709090'),
    (lambda: np.arange(4, dtype='<i4'), '5254212823753e08b68e69d46263e32722fea800'),
]


@pytest.mark.parametrize('obj,expected', SCALARS + CONTAINERS)
def test_hash_one_vectors(obj, expected):
    assert hash_one(obj) == expected.encode()


@pytest.mark.parametrize('make,expected', ARRAYS)
def test_numpy_vectors(make, expected):
    assert hash_one(make()) == expected.encode()


def test_hash_one_returns_bytes_and_update_returns_object():
    M = new_hash_object()
    assert hash_update(M, []) is M
    assert isinstance(hash_one(3), bytes)


def test_protocol_is_pinned(monkeypatch):
    before = hash_one([1, 'a', {'k': (2.5, None)}])
    monkeypatch.setattr(pickle, 'DEFAULT_PROTOCOL', 2)
    assert hash_one([1, 'a', {'k': (2.5, None)}]) == before


def test_set_trace_of_spec():
    """The exact bytes hashed for hash_one({2, 1}), following docs/hashing.rst."""
    chunks = []

    class Recorder:
        def update(self, data):
            chunks.append(bytes(data))

    hash_update(Recorder(), [('hash1', {2, 1})])
    def p4(x):
        return pickle.dumps(x, protocol=4)
    assert b''.join(chunks) == b''.join([p4('hash1'), b'set', p4(0),
                      p4(b'2ef6880978eebfe2f3c57ed41214b457de0ac997'), p4(1),
                      p4(b'9d016a3f66964ffa7cb4a0f987187adcc1448985')])


def test_task_byte_trace():
    chunks = []

    class Recorder:
        def update(self, data):
            chunks.append(bytes(data).hex())

    t = Task(sum, [1, 2])
    hash_update(Recorder(), [('name', t.name.encode()), ('args', t.args), ('kwargs', t.kwargs)])
    assert ''.join(chunks) == ''.join([
        '80049508000000000000008c046e616d65942e',
        '8004951000000000000000430c6275696c74696e732e73756d942e',
        '80049508000000000000008c0461726773942e',
        '3c636c61737320277475706c65273e', '80044b002e',
        '3c636c61737320276c697374273e',
        '80044b002e', '80044b012e', '80044b012e', '80044b022e',
        '8004950a000000000000008c066b7761726773942e', '64696374'])


def test_dict_hash_independent_of_hash_seed():
    code = ("from jug.hash import hash_one; "
            "print(hash_one({'b': [1, 2], 'a': {'x': None}, 3: 'three'}).decode(), "
            "hash_one({'a', 'b', 'c'}).decode())")
    outputs = set()
    for seed in ('1', '2', '3'):
        env = {'PYTHONHASHSEED': seed, 'PYTHONPATH': ':'.join(sys.path)}
        outputs.add(subprocess.check_output([sys.executable, '-c', code], env=env).strip())
    assert outputs == {b'cf253dd87faea8f8acdcddb8a8cac6e2ef1440e1 '
                       b'a3c708616bd764ce9e8f6273555bf73759cabd4d'}


Pair = namedtuple('Pair', 'a b')


def test_namedtuple_with_task_raises():
    with pytest.raises(TypeError):
        hash_one(Pair(Task(sum, [1]), 2))
    assert hash_one(Pair(1, 2)) == hash_one(Pair(1, 2))


TASKS = [
    (lambda: Task(sum, [1, 2]), '4b5c3a8ce3727c28c38044bde075cabb2cc12296'),
    (lambda: Task(sum, [1, 2, 3]), '4c9118dcca014082feaf99fc53af37cf44f3c0b0'),
    (lambda: Task(sum, [1, 2, 3], 10), 'bff82a06a74c963ab9354ff64a0b3dcb56cbe0c3'),
    (lambda: Task(sorted, [3, 1, 2]), 'da37c7f240181e50ca0a351f3babde8fac20f0cc'),
    (lambda: Task(sorted, [3, 1, 2], reverse=True), 'f0a89f4e5d5422b9e8a2f7da8f97c8f96a8ec929'),
    (lambda: Task(max), 'c1aa42e5ee35382b66e3566b1a4ceffe5e9227b7'),
    (lambda: Task(sum, [1, -5]), '1e15de8d3f46d07f40080f0e1c2e05a833aa15a2'),
    (lambda: Task(abs, Task(sum, [1, -5])), 'ed58862f39355212dd7725a40786fb71fcc0be42'),
    (lambda: Task(max, [Task(sum, [1, -5]), 2]), '751cbdc960770849295439db99977fa9179882e5'),
    (lambda: Task(sorted, [3], key=Task(sum, [1, -5])), '53b1c8461510da62625b4f12d5ddad1ee014c89f'),
    (lambda: Task(abs, -1), '9ca4610c8645cfbba6b6b851802b71c79f1a3b90'),
    (lambda: identity(5), '1cb257fe97fe30c1018923f7682027132c8080ff'),
    (lambda: identity([1, 2]), '68eed400c6440011b740bd947d526f9356e14759'),
    (lambda: Task(abs, Task(sum, [1, 2, 3])[0]), '396192afce9f36893245dc19498bbd2444533b8a'),
]


@pytest.mark.parametrize('make,expected', TASKS)
def test_task_vectors(make, expected):
    assert make().hash() == expected.encode()


TASKLETS = [
    (lambda: Task(sum, [1, 2, 3])[0], '7b06fedaadd80bb8390ff3f6fcaf1b246947e005'),
    (lambda: Task(sum, [1, 2, 3])[1:3], 'dd1f16c303d6bb65a49125635c7575d828d3d44c'),
    (lambda: Task(sum, [1, 2, 3])[0][1], '611be5e829f289d1b3ed206d342d76b687d88aea'),
    (lambda: Task(sum, [1, 2, 3])[Task(abs, -1)], '2570a49dd3b17fa36bb5f188b6bc6f9cba6b9e10'),
    (lambda: Task(abs, -1)[0], '89a2e42ad6fba3bb497d1178230d0b1bcdf0b904'),
    (lambda: Tasklet(Task(sum, [1, 2, 3]), abs), 'e46c7f90dff4d005c772675152d1936e2805d71e'),
    (lambda: iteratetask(Task(sum, [1, 2, 3]), 2)[1], 'cb3a2138a8a39430ba1bd18930f25973da2f1709'),
]


@pytest.mark.parametrize('make,expected', TASKLETS)
def test_tasklet_vectors(make, expected):
    assert make().__jug_hash__() == expected.encode()


JUGFILE_SOURCE = textwrap.dedent('''
    from jug import TaskGenerator, Task
    from jug.task import return_tuple

    @TaskGenerator
    def double(x):
        return 2 * x

    def plain(x, y=0):
        return x + y

    @return_tuple(2)
    @TaskGenerator
    def pair(x):
        return x, x + 1
''')


@pytest.fixture
def jugfile_module():
    """A module named ``jugfile`` holding the functions of the jugfile vectors below."""
    import types
    module = types.ModuleType('jugfile')
    sys.modules['jugfile'] = module
    exec(compile(JUGFILE_SOURCE, 'jugfile.py', 'exec'), module.__dict__)
    yield module
    del sys.modules['jugfile']


def test_jugfile_module_vectors(jugfile_module):
    m = jugfile_module
    assert m.double(3).name == 'jugfile.double'
    assert m.double(3).hash() == b'cf72f676495351fb232c6e7bdc1239e260220627'
    assert Task(m.double.f, x=3).hash() == b'b6f4a890ccb40c61e82dbaa553c6ffd58795daa9'
    assert m.double(m.double(3)).hash() == b'8db249b602208120347968476aa1267994914a9b'
    assert Task(m.plain, 1, y=2).hash() == b'3d75285594fc15b148d14d0201bbef73d60dd4f0'
    assert hash_one(m.double) == b'742ea2747b19d3778a3f11ecb812dcad7e4cb546'
    a, b = m.pair(1)
    assert a.__jug_hash__() == b'2394ff4d39f1a049a21919e3b71bfa4f4f7cf924'
    assert b.__jug_hash__() == b'ca6745b15c4fab31d7e20edf07e9c0bb1fb62431'
