"""Helpers for the store tests: Jug 2.7 data directories and a fake redis client."""
import json
import os

from jugtest import DATA, extract_data

# interop.py creates its tasks in this order; expected.json names hashes "<task name>#<index>".
# Each entry: variable (or variable[index]) whose value in expected.json["values"] the
# task's result has.
INTEROP_TASK_VALUES = {
    'interop.square#0': ('squares', 0),
    'interop.square#1': ('squares', 1),
    'interop.square#2': ('squares', 2),
    'interop.square#3': ('squares', 3),
    'interop.square#4': ('squares', 4),
    'interop.square#5': ('squares', 5),
    'interop.nothing#6': ('none', None),
    'interop.arange#7': ('ints', None),
    'interop.arange#8': ('floats', None),
    'interop.stats#9': ('summary', None),
    'interop.add#11': ('chained', None),
    'interop.objects#12': ('objs', None),
    'identity#13': ('ident', None),
    'jug.mapreduce._jug_reduce#20': ('total', None),
    'builtins.sorted#24': ('kw', None),
}


def load_expected():
    with open(os.path.join(DATA, 'expected.json')) as f:
        return json.load(f)


def expected_value(spec):
    """Turn a JSON value of expected.json into the Python object jug stored."""
    if isinstance(spec, dict) and 'ndarray' in spec:
        import numpy as np
        return np.array(spec['ndarray'], dtype=spec['dtype'])
    return spec


def extract(dest, archive):
    """Extract a tests/data tarball into `dest`; return the path of interop.jugdata."""
    return str(extract_data(archive, dest) / 'interop.jugdata')


class FakeRedis:
    """A few commands of redis-py's client, in memory: enough for tests that only
    construct a redis_store (e.g. ``select``).  Everything else runs on a real server
    (the ``redis_url`` fixture): redis_store also needs SCAN, pipelines and scripts."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.data = {}
        self.closed = False

    @staticmethod
    def _key(k):
        return k if isinstance(k, bytes) else str(k).encode()

    def set(self, name, value, nx=False, xx=False):
        k = self._key(name)
        if (nx and k in self.data) or (xx and k not in self.data):
            return None
        self.data[k] = self._key(value)
        return True

    def get(self, name):
        return self.data.get(self._key(name))

    def exists(self, *names):
        return sum(self._key(n) in self.data for n in names)

    def delete(self, *names):
        return sum(self.data.pop(self._key(n), None) is not None for n in names)

    def keys(self, pattern=b'*'):
        pattern = self._key(pattern)
        assert pattern.endswith(b'*') and b'*' not in pattern[:-1]
        return [k for k in self.data if k.startswith(pattern[:-1])]

    def close(self):
        self.closed = True


#: Keys used by the store tests (40 hex characters, like task hashes).
H1 = b'0123456789abcdef0123456789abcdef01234567'
H2 = b'fedcba9876543210fedcba9876543210fedcba98'
H3 = b'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
H_PACKED = b'9999999999999999999999999999999999999999'


class FakeTask:
    """What stores know of a task: an object with hash()."""

    def __init__(self, h):
        self.h = h

    def hash(self):
        return self.h


def packed_file_store(tmp_path):
    """A file store whose pack already holds an unrelated result (key H_PACKED), so that
    every operation goes through the pack-aware code paths."""
    from jug.backends.file_store import file_store
    s = file_store(str(tmp_path / 'packed.jugdata'))
    s.dump('in the pack', H_PACKED)
    assert s.update_pack() == 1
    s = file_store(str(tmp_path / 'packed.jugdata'))
    assert s.packed == {H_PACKED: 'in the pack'}
    return s
