"""jug.backends.encode: the result encoding and the zlib stream adaptors
(docs/backends.rst)."""
import io
import os
import pickle
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

from jug.backends import encode as encode_module
from jug.backends.encode import (compress_stream, decode, decode_from, decompress_stream,
                                 encode, encode_to)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_python(code):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_none_is_empty():
    assert encode(None) == b''
    out = io.BytesIO()
    encode_to(None, out)
    assert out.getvalue() == b''
    assert decode(b'') is None


@pytest.mark.parametrize('value', [0, 'x', [1, {2: 3}], b'\x00' * 10, (None,), 1.5])
def test_pickle_payload(value):
    data = encode(value)
    assert data[:2] == b'\x78\x9c'  # zlib, default compression level
    raw = zlib.decompress(data)
    assert raw[:1] == b'P'
    assert raw[1:] == pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    assert decode(data) == value


def test_numpy_payload():
    arr = np.arange(12, dtype=np.int16).reshape(3, 4)
    data = encode(arr)
    assert data[:2] == b'\x78\x9c'
    raw = zlib.decompress(data)
    assert raw[:1] == b'N'
    npy = io.BytesIO()
    np.save(npy, arr)
    assert raw[1:] == npy.getvalue()
    back = decode(data)
    assert back.dtype == arr.dtype and np.array_equal(back, arr)


class MyArray(np.ndarray):
    pass


@pytest.mark.parametrize('arr', [
    np.array([1, None], dtype=object),
    np.array([(1, None)], dtype=[('a', 'i4'), ('b', 'O')]),
    np.arange(3).view(MyArray),
], ids=['object', 'structured-object', 'subclass'])
def test_pickled_arrays(arr):
    data = encode(arr)
    assert zlib.decompress(data)[:1] == b'P'
    back = decode(data)
    assert type(back) is type(arr)
    assert back.dtype == arr.dtype
    assert back.tolist() == arr.tolist()


def test_unknown_prefix():
    with pytest.raises(OSError, match='unknown prefix'):
        decode(zlib.compress(b'Xabc'))


def test_encode_does_not_import_numpy():
    out = run_python(
        'import sys\n'
        'from jug.backends.encode import encode, decode\n'
        'assert decode(encode({"a": [1, 2]})) == {"a": [1, 2]}\n'
        'print("numpy" in sys.modules)\n')
    assert out == 'False'


def test_decoding_an_array_imports_numpy():
    data = encode(np.arange(3))
    out = run_python(
        'import sys\n'
        'from jug.backends.encode import decode\n'
        f'a = decode({data!r})\n'
        'print("numpy" in sys.modules, a.tolist())\n')
    assert out == 'True [0, 1, 2]'


def test_compress_stream_splits_large_writes(monkeypatch):
    monkeypatch.setattr(encode_module, '_MAX_WRITE', 7)
    out = io.BytesIO()
    cs = compress_stream(out)
    payload = bytes(range(256)) * 3
    cs.write(payload)
    cs.write(memoryview(np.arange(50, dtype=np.int64)))
    cs.flush()
    assert zlib.decompress(out.getvalue()) == payload + np.arange(50, dtype=np.int64).tobytes()


def test_compress_stream_is_write_only():
    cs = compress_stream(io.BytesIO())
    with pytest.raises(NotImplementedError):
        cs.read(1)
    with pytest.raises(NotImplementedError):
        cs.readinto(bytearray(1))


def dstream(data, block=8192):
    return decompress_stream(io.BytesIO(zlib.compress(data)), block=block)


def test_read_sizes():
    data = bytes(range(256)) * 1000
    ds = dstream(data, block=100)
    assert ds.read(0) == b''
    assert ds.read(1) == data[:1]
    assert ds.read(1000) == data[1:1001]
    assert ds.tell() == 1001
    assert ds.read(10 ** 9) == data[1001:]  # short only at the end
    assert ds.read(10) == b''
    assert ds.read() == b''


def test_read_all():
    data = os.urandom(100_000)
    ds = dstream(data, block=333)
    assert ds.read(5) == data[:5]
    assert ds.read() == data[5:]
    assert dstream(b'').read(1) == b''


def test_seek_backwards_and_forwards():
    data = bytes(range(200))
    ds = dstream(data, block=7)
    assert ds.read(6) == data[:6]
    assert ds.seek(-6, 1) == 0
    assert ds.read(8) == data[:8]
    ds.seek(-3, 1)
    assert ds.read(3) == data[5:8]
    ds.seek(10, 1)
    assert ds.read(2) == data[18:20]
    with pytest.raises(ValueError):
        ds.seek(-3, 1)  # the last read returned only 2 bytes
    assert ds.read(2) == data[20:22]
    with pytest.raises(NotImplementedError):
        ds.seek(0)
    with pytest.raises(NotImplementedError):
        ds.seek(0, 2)


def test_seek_after_queue_read_keeps_rest_of_queue():
    data = bytes(range(256)) * 100
    ds = dstream(data)
    assert ds.read(10) == data[:10]      # fills the queue with much more than 10 bytes
    assert ds.read(5) == data[10:15]     # served from the queue
    ds.seek(-5, 1)
    assert ds.read(100) == data[10:110]
    assert ds.read() == data[110:]


def test_seek_twice_backwards():
    data = b'abcdefghij'
    ds = dstream(data)
    assert ds.read(6) == b'abcdef'
    ds.seek(-2, 1)
    ds.seek(-2, 1)
    assert ds.read(4) == b'cdef'


def test_readline():
    data = b'first\nsecond line\n\nno newline at end'
    ds = dstream(data, block=3)
    assert ds.readline() == b'first\n'
    assert ds.readline() == b'second line\n'
    assert ds.readline() == b'\n'
    assert ds.readline() == b'no newline at end'
    assert ds.readline() == b''
    ds = dstream(data)
    assert ds.read(2) == b'fi'
    assert ds.readline() == b'rst\n'
    ds.seek(-2, 1)
    assert ds.readline() == b't\n'


def test_readinto():
    data = os.urandom(5000)
    ds = dstream(data)
    buf = bytearray(3000)
    assert ds.readinto(buf) == 3000
    assert bytes(buf) == data[:3000]
    assert ds.readinto(buf) == 2000
    assert bytes(buf[:2000]) == data[3000:]


def test_trailing_garbage_after_zlib_stream_is_ignored():
    ds = decompress_stream(io.BytesIO(zlib.compress(b'hello') + b'junk'))
    assert ds.read() == b'hello'


def test_decode_from_file_object(tmp_path):
    p = tmp_path / 'x'
    with open(p, 'wb') as f:
        encode_to({'k': np.arange(4)}, f)
    with open(p, 'rb') as f:
        back = decode_from(f)
    assert list(back) == ['k'] and back['k'].tolist() == [0, 1, 2, 3]


def test_decompress_linear_time():
    # 64 MiB through small reads and readline must take well under 10 s (linear time)
    line = b'0123456789' * 10 + b'\n'
    data = line * (64 * 1024 * 1024 // len(line))
    compressed = zlib.compress(data)
    start = time.perf_counter()
    ds = decompress_stream(io.BytesIO(compressed))
    total = 0
    while True:
        chunk = ds.read(4096)
        if not chunk:
            break
        total += len(chunk)
    assert total == len(data)
    ds = decompress_stream(io.BytesIO(compressed))
    lines = 0
    while ds.readline():
        lines += 1
    assert lines == len(data) // len(line)
    elapsed = time.perf_counter() - start
    assert elapsed < 10


def test_large_array_roundtrip():
    arr = np.arange(1024 * 1024, dtype=np.float64)  # 8 MiB: np.load through many reads
    back = decode(encode(arr))
    assert back.dtype == arr.dtype
    assert np.array_equal(back, arr)
