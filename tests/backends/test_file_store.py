"""file_store specifics: on-disk bytes, atomic commits, locks, packs, Jug 2.7 data dirs."""
import io
import logging
import os
import pickle
import re
import socket
import sys
import threading
import time
import zlib

import numpy as np
import pytest

from jug.backends import file_pack
from jug.backends import file_store as fs_module
from jug.backends.encode import decode
from jug.backends.file_store import (MAX_FILESIZE_IN_PACK, file_based_lock, file_store,
                                     fsync_dir)
from jug.errors import StoreError

from store_helpers import INTEROP_TASK_VALUES, expected_value, load_expected

H1 = b'0123456789abcdef0123456789abcdef01234567'
H2 = b'fedcba9876543210fedcba9876543210fedcba98'
H3 = b'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'

NOBODY = 65534


def run_unprivileged(check):
    """Run ``check()`` in a forked child that, if we are root, first drops to an
    unprivileged user, so that directory permissions apply (CI runs as root)."""
    pid = os.fork()
    if pid == 0:  # the child: report success only through the exit code
        try:
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            check()
        except BaseException:
            import traceback
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.fixture
def shared_dir():
    """A directory every user may enter (pytest's tmp_path is private to root)."""
    import shutil
    import tempfile
    path = tempfile.mkdtemp(prefix='jugperm')
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


class FakeTask:
    def __init__(self, h):
        self.h = h

    def hash(self):
        return self.h


@pytest.fixture
def jugdir(tmp_path):
    return str(tmp_path / 'test.jugdata')


@pytest.fixture
def store(jugdir):
    return file_store(jugdir)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


# --- layout ------------------------------------------------------------------------------

def test_paths(tmp_path):
    s = file_store(str(tmp_path / 'jd') + '/')
    assert s.jugdir == str(tmp_path / 'jd')
    assert s._getfname(H1) == os.path.join(s.jugdir, '01', H1[2:].decode())
    assert s._getfname(H1.decode()) == s._getfname(H1)
    assert s._getfname('mykey') == os.path.join(s.jugdir, 'my', 'key')
    assert s.tempdir() == os.path.join(s.jugdir, 'tempfiles')
    assert s._packfile() == os.path.join(s.jugdir, 'packs', 'jugpack')
    assert repr(s) == str(s) == f'file_store({s.jugdir})'


def test_pathlike_jugdir(tmp_path):
    s = file_store(tmp_path / 'jd')
    s.dump(1, H1)
    assert file_store(str(tmp_path / 'jd')).load(H1) == 1


def test_nothing_created_until_written(jugdir):
    s = file_store(jugdir)
    assert not s.can_load(H1)
    assert s.list() == []
    assert s.listlocks() == []
    assert not s.getlock(H1).is_locked()
    assert s.remove(H1) is False
    assert s.remove_locks() == 0
    assert s.metadata(FakeTask(H1)) == {'computed': False}
    assert not os.path.exists(jugdir)


def test_create(store, jugdir):
    store.create()
    assert os.path.isdir(os.path.join(jugdir, 'tempfiles'))
    store.create()
    store._maybe_create()


# --- on-disk formats -----------------------------------------------------------------------

def test_array_is_raw_npy(store):
    arr = np.arange(10, dtype=np.int32)
    store.dump(arr, H1)
    expected = io.BytesIO()
    np.lib.format.write_array(expected, arr)
    assert read(store._getfname(H1)) == expected.getvalue()


def test_noncontiguous_array_is_raw_npy(store):
    arr = np.arange(12.).reshape(3, 4)[:, ::2]
    store.dump(arr, H1)
    assert read(store._getfname(H1))[:6] == b'\x93NUMPY'
    assert np.array_equal(store.load(H1), arr)


def test_other_values_are_zlib_pickle(store):
    value = {'a': [1, 2.5, 'x']}
    store.dump(value, H1)
    data = read(store._getfname(H1))
    assert data[:2] == b'\x78\x9c'
    raw = zlib.decompress(data)
    assert raw == b'P' + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def test_object_array_is_zlib_pickle(store):
    arr = np.array(['a', None], dtype=object)
    store.dump(arr, H1)
    assert zlib.decompress(read(store._getfname(H1)))[:1] == b'P'
    assert store.load(H1).tolist() == ['a', None]


def test_none_is_empty_file(store):
    store.dump(None, H1)
    assert read(store._getfname(H1)) == b''
    assert store.load(H1) is None


def test_compress_numpy(jugdir):
    s = file_store(jugdir, compress_numpy=True)
    arr = np.arange(1000)
    s.dump(arr, H1)
    data = read(s._getfname(H1))
    assert data[:2] == b'\x78\x9c'
    assert zlib.decompress(data)[:1] == b'N'
    assert np.array_equal(s.load(H1), arr)
    assert np.array_equal(file_store(jugdir).load(H1), arr)


def test_native_write_failure_falls_back(store, monkeypatch):
    real_write_array = np.lib.format.write_array

    def failing_write_array(f, arr, *args, **kwargs):
        if not isinstance(f, io.BufferedWriter):  # np.save inside the fallback encoding
            return real_write_array(f, arr, *args, **kwargs)
        f.write(b'partial garbage')
        raise ValueError('cannot write this')

    monkeypatch.setattr(np.lib.format, 'write_array', failing_write_array)
    arr = np.arange(5)
    store.dump(arr, H1)
    data = read(store._getfname(H1))
    assert data[:2] == b'\x78\x9c'
    assert np.array_equal(decode(data), arr)
    monkeypatch.undo()
    assert np.array_equal(store.load(H1), arr)


def test_file_permissions_follow_umask(store):
    old = os.umask(0o002)
    try:
        store.dump(1, H1)
    finally:
        os.umask(old)
    assert os.stat(store._getfname(H1)).st_mode & 0o777 == 0o664


def test_load_missing_raises(store):
    with pytest.raises(FileNotFoundError):
        store.load(H1)


# --- atomic, durable commits -----------------------------------------------------------------

def test_failing_dump_removes_tempfile(store):
    store.dump('old', H1)
    with pytest.raises(TypeError):
        store.dump(threading.Lock(), H1)
    assert os.listdir(store.tempdir()) == []
    assert store.load(H1) == 'old'
    with pytest.raises(TypeError):
        store.dump(threading.Lock(), H2)
    assert not store.can_load(H2)
    assert os.listdir(store.tempdir()) == []


def test_dump_leaves_no_tempfiles(store):
    for i in range(5):
        store.dump(i, H1)
    assert os.listdir(store.tempdir()) == []


def test_fsync_dir_once_per_dump(store, monkeypatch):
    calls = []
    monkeypatch.setattr(fs_module, 'fsync_dir', calls.append)
    store.dump(1, H1)
    assert calls == [store._getfname(H1)]
    store.dump(np.arange(3), H2)
    store.dump(None, H3)
    assert len(calls) == 3


def test_fsync_dir_once_per_pack_write(store, monkeypatch):
    store.dump(1, H1)
    calls = []
    monkeypatch.setattr(fs_module, 'fsync_dir', calls.append)
    assert store.update_pack() == 1
    assert calls == [store._packfile()]


def test_fsync_dir_runs(tmp_path):
    p = tmp_path / 'f'
    p.write_bytes(b'')
    fsync_dir(str(p))
    with pytest.raises(OSError):
        fsync_dir(str(tmp_path / 'missing' / 'f'))


def test_concurrent_dumps_of_one_key(jugdir):
    errors = []

    def worker(i):
        try:
            s = file_store(jugdir)
            for j in range(20):
                s.dump([i, j] * 100, H1)
                assert s.load(H1)[:2][0] in range(4)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert os.listdir(os.path.join(jugdir, 'tempfiles')) == []


# --- listing, metadata, removal ------------------------------------------------------------

def test_list_order(store):
    keys = [H2, H1, b'01aaaa', b'zzzz']
    for k in keys:
        store.dump(k, k)
    os.makedirs(os.path.join(store.jugdir, 'locks'), exist_ok=True)
    os.makedirs(os.path.join(store.jugdir, 'xyz'))  # not a 2-character dir: ignored
    assert store.list() == sorted(keys)
    assert list(store._iter_filekeys()) == sorted(keys)
    assert isinstance(store.list(), list)


def test_list_pack_keys_first(store):
    store.dump(1, H2)
    store.update_pack()
    store.dump(2, H1)
    assert store.list() == [H2, H1]


def test_list_does_not_stat(store, monkeypatch):
    for i in range(300):
        store.dump(None, f'{i:040x}')

    def no_stat(*args, **kwargs):
        raise AssertionError('list() must not stat files')

    monkeypatch.setattr(os, 'stat', no_stat)
    monkeypatch.setattr(os, 'lstat', no_stat)
    monkeypatch.setattr(os.path, 'exists', no_stat)
    assert len(store.list()) == 300


def test_metadata(store):
    store.dump(1, H1)
    meta = store.metadata(FakeTask(H1))
    assert meta['computed'] is True
    assert meta['completed'] == time.ctime(os.stat(store._getfname(H1)).st_mtime)
    assert store.metadata(FakeTask(H2)) == {'computed': False}
    store.dump(2, H2)
    store.update_pack()
    assert store.metadata(FakeTask(H2)) == {'computed': True}


def test_remove_non_packed_does_not_create_pack(store):
    store.dump(1, H1)
    assert store.remove_many([H1, H2]) == {H1}
    assert not os.path.exists(os.path.join(store.jugdir, 'packs'))
    assert not os.path.exists(os.path.join(store.jugdir, 'locks'))


def test_remove_store(jugdir):
    s = file_store(jugdir)
    s.dump(1, H1)
    file_store.remove_store(jugdir)
    assert not os.path.exists(jugdir)
    file_store.remove_store(jugdir)  # no error when missing


def test_cleanup(store):
    for h in (H1, H2, H3):
        store.dump(h, h)
    store.getlock(H2).get()
    stray = os.path.join(store.jugdir, 'stray-file')
    open(stray, 'w').close()
    open(os.path.join(store.tempdir(), 'in-progress'), 'w').close()
    assert store.cleanup([FakeTask(H1)]) == 3  # H2, H3 and the stray file; not the lock
    assert store.list() == [H1]
    assert store.listlocks() == []
    assert os.listdir(store.tempdir()) == ['in-progress']


def test_cleanup_keeplocks_and_pack(store):
    store.dump(1, H1)
    store.dump(2, H2)
    store.update_pack()
    store.dump(3, H3)
    store.getlock(H3).get()
    assert store.cleanup([FakeTask(H1)], keeplocks=True) == 2  # H3's file + H2 in the pack
    assert store.list() == [H1]
    assert file_store(store.jugdir).packed == {H1: 1}
    assert store.listlocks() == [H3]


def test_remove_locks(store):
    store.getlock(H1).get()
    store.getlock('other').get()
    assert store.remove_locks() == 2
    assert os.listdir(os.path.join(store.jugdir, 'locks')) == []


# --- locks ----------------------------------------------------------------------------------

def test_lock_file(store):
    lock = store.getlock(H1)
    assert isinstance(lock, file_based_lock)
    assert lock.fullname == os.path.join(store.jugdir, 'locks', H1.decode() + '.lock')
    assert file_based_lock(store.jugdir, 'foo').fullname == \
        file_based_lock(store.jugdir, b'foo').fullname
    assert lock.get()
    text = read(lock.fullname).decode()
    lines = text.split('\n')
    # Jug 2.7's two lines, then our lease line (jug.backends.lockfiles): lease, start
    # time, token, pid space, heartbeat interval
    assert len(lines) == 4 and lines[3] == ''
    host = os.uname().nodename
    token = rf'{re.escape(host)}:{os.getpid()}:[0-9a-f]{{16}}'
    assert re.fullmatch(rf'Jug-lease: 120 \d+ {token} \S+ 20', lines[2])
    assert lines[0] == f'PID {os.getpid()} on HOSTNAME {socket.gethostname()}'
    assert re.fullmatch(r'Lock created on \d{4}-\d\d-\d\d \(\d\dh\d\d\.\d\d\)', lines[1])
    stamp = time.strptime(lines[1][len('Lock created on '):], '%Y-%m-%d (%Hh%M.%S)')
    assert abs(time.mktime(stamp) - time.time()) < 5


def test_failed_marker(store):
    lock = store.getlock(H1)
    assert lock.fail() is False
    assert lock.get()
    assert lock.fail() is True
    st = os.stat(lock.fullname)
    assert st.st_mtime == 1
    assert st.st_atime == 1
    assert lock.is_failed()
    assert store.listlocks() == [H1]


def test_lock_created_by_other_program_with_extra_lines(store):
    # Jug 2.7 writes two lines; we (or a later version) may append more
    os.makedirs(os.path.join(store.jugdir, 'locks'))
    path = store.getlock(H1).fullname
    with open(path, 'w') as f:
        f.write('PID 1 on HOSTNAME elsewhere\nLock created on 2020-01-01 (00h00.00)\n'
                'lease: something we do not know\n')
    lock = store.getlock(H1)
    assert lock.is_locked()
    assert not lock.get()
    assert not lock.is_failed()
    assert lock.fail()
    assert lock.is_failed()
    lock.release()
    assert not os.path.exists(path)


def test_lock_in_readonly_dir_raises(shared_dir):
    jugdir = os.path.join(shared_dir, 'jugdata')
    os.makedirs(os.path.join(jugdir, 'locks'))
    os.chmod(jugdir, 0o755)
    os.chmod(os.path.join(jugdir, 'locks'), 0o555)

    def check():
        with pytest.raises(PermissionError):
            file_store(jugdir).getlock(H1).get()
    run_unprivileged(check)


def test_lock_is_exclusive_across_threads(jugdir):
    winners = []
    barrier = threading.Barrier(8)

    def worker():
        lock = file_store(jugdir).getlock(H1)
        barrier.wait()
        if lock.get():
            winners.append(threading.get_ident())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_release_ignores_errors(store, monkeypatch, caplog):
    lock = store.getlock(H1)
    lock.release()  # not held: nothing to do, no error
    assert lock.get()

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, 'Permission denied', path)
    monkeypatch.setattr(os, 'unlink', refuse)  # e.g. the jugdir became read-only
    with caplog.at_level(logging.WARNING):
        lock.release()  # runs in `finally` blocks: must not raise
    monkeypatch.undo()
    assert 'could not remove the lock file' in caplog.text
    assert lock.is_locked()  # left in place: stale once this process is gone


# --- user errors -----------------------------------------------------------------------------

def test_jugdir_is_a_file(tmp_path):
    path = tmp_path / 'notadir'
    path.write_text('x')
    with pytest.raises(StoreError, match='notadir'):
        file_store(str(path))


def test_jugdir_unreadable(shared_dir):
    path = os.path.join(shared_dir, 'locked')
    os.mkdir(path)
    os.chmod(path, 0)

    def check():
        with pytest.raises(StoreError, match='locked'):
            file_store(path)
    run_unprivileged(check)


def test_jugdir_permission_error(tmp_path, monkeypatch):
    # same as test_jugdir_unreadable, also when running as root
    def denied(path, *args, **kwargs):
        raise PermissionError(13, 'Permission denied', path)

    monkeypatch.setattr(file_pack, 'open_regular', denied)  # reading the pack
    with pytest.raises(StoreError, match='jd'):
        file_store(str(tmp_path / 'jd'))


def test_create_over_a_file(tmp_path):
    path = tmp_path / 'jd'
    s = file_store(str(path))
    path.write_text('x')
    with pytest.raises(StoreError, match='jd'):
        s.dump(1, H1)


# --- packs ------------------------------------------------------------------------------------

def test_pack_roundtrip(store):
    store.dump(1, H1)
    store.dump(None, H2)
    big = np.arange(1000)
    store.dump(big, H3)
    assert os.path.getsize(store._getfname(H3)) > MAX_FILESIZE_IN_PACK
    assert store.update_pack() == 2
    assert not os.path.exists(store._getfname(H1))
    assert not os.path.exists(store._getfname(H2))
    assert os.path.isdir(os.path.dirname(store._getfname(H1)))  # empty dirs remain
    data = read(store._packfile())
    assert data[:2] == b'\x78\x9c'
    raw = zlib.decompress(data)
    assert raw[:1] == b'P'
    assert pickle.loads(raw[1:]) == {H1: 1, H2: None}
    fresh = file_store(store.jugdir)
    assert fresh.packed == {H1: 1, H2: None}
    assert fresh.can_load(H1) and fresh.can_load(H2.decode())
    assert fresh.load(H1) == 1
    assert fresh.load(H2) is None
    assert np.array_equal(fresh.load(H3), big)
    assert fresh.list() == [H1, H2, H3]
    assert fresh.update_pack() == 0
    assert fresh.listlocks() == []  # the pack lock was released


def test_pack_keeps_arrays_as_objects(store):
    arr = np.arange(5, dtype=np.int8)
    store.dump(arr, H1)
    assert store.update_pack() == 1
    loaded = file_store(store.jugdir).load(H1)
    assert type(loaded) is np.ndarray and np.array_equal(loaded, arr)


def test_dump_over_packed_key(store):
    store.dump(1, H1)
    store.dump(2, H2)
    store.update_pack()
    store.dump('new', H1)
    assert store.load(H1) == 'new'
    fresh = file_store(store.jugdir)
    assert fresh.packed == {H2: 2}
    assert fresh.load(H1) == 'new'


def test_remove_from_pack(store):
    store.dump(1, H1)
    store.dump(2, H2)
    store.update_pack()
    assert store.remove(H1) is True
    assert not store.can_load(H1)
    assert file_store(store.jugdir).packed == {H2: 2}
    assert store.remove(H1) is False


def test_update_pack_prefers_newer_file(store):
    store.dump('old', H1)
    store.update_pack()
    # another process, whose store object does not see the pack entry, writes the file
    os.makedirs(os.path.dirname(store._getfname(H1)), exist_ok=True)
    with open(store._getfname(H1), 'wb') as f:
        store._write_to('new', f)
    assert store.update_pack() == 1
    assert file_store(store.jugdir).load(H1) == 'new'


def test_update_pack_skips_vanishing_files(store, monkeypatch):
    store.dump(1, H1)
    store.dump(2, H2)
    real_load_file = file_store._load_file

    def flaky_load_file(self, name):
        if name == H1:
            os.unlink(self._getfname(name))
            raise FileNotFoundError(name)
        return real_load_file(self, name)

    monkeypatch.setattr(file_store, '_load_file', flaky_load_file)
    assert store.update_pack() == 1
    assert file_store(store.jugdir).packed == {H2: 2}


def test_two_stores_removing_different_keys(jugdir):
    s = file_store(jugdir)
    for h in (H1, H2, H3):
        s.dump(h, h)
    s.update_pack()
    a = file_store(jugdir)
    b = file_store(jugdir)
    assert a.remove(H1)
    assert b.remove(H2)  # b's in-memory pack still has H1: it must not write it back
    assert file_store(jugdir).packed == {H3: H3}


def test_concurrent_pack_removals_threads(jugdir, monkeypatch):
    keys = [f'{i:040x}'.encode() for i in range(12)]
    s = file_store(jugdir)
    for k in keys:
        s.dump(k, k)
    s.update_pack()
    stores = [file_store(jugdir) for _ in range(3)]

    errors = []

    def worker(st, mine):
        try:
            for k in mine:
                assert st.remove(k)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    # _modify_pack sleeps 1, 2, 4, ... s between attempts at the pack lock: scale to ms
    real_sleep = time.sleep
    monkeypatch.setattr(fs_module.time, 'sleep', lambda s: real_sleep(s / 1000))
    threads = [threading.Thread(target=worker, args=(st, keys[i::3]))
               for i, st in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert file_store(jugdir).packed == {}


def test_resave_pack(store):
    store.dump(1, H1)
    store.update_pack()
    store.packed[H2] = 'added in memory'
    store.resave_pack()
    assert file_store(store.jugdir).packed == {H1: 1, H2: 'added in memory'}


def test_pack_write_failure(store, monkeypatch):
    store.dump(1, H1)

    def failing_encode_to(obj, stream):
        stream.write(b'partial')
        raise RuntimeError('disk full')

    monkeypatch.setattr(fs_module, 'encode_to', failing_encode_to)
    with pytest.raises(RuntimeError, match='disk full'):
        store.update_pack()
    assert os.listdir(store.tempdir()) == []
    assert not os.path.exists(store._packfile())
    assert store.listlocks() == []  # lock released
    assert store.can_load(H1)


def test_pack_lock_busy(store, monkeypatch, caplog):
    store.dump(1, H1)
    assert store.getlock('pack-save').get()
    sleeps = []
    monkeypatch.setattr(fs_module.time, 'sleep', sleeps.append)
    with caplog.at_level(logging.WARNING, logger='jug.backends.file_store'):
        with pytest.raises(Exception, match='pack-save'):
            store.update_pack()
    assert sleeps == [2 ** i for i in range(10)]
    assert len(caplog.records) == 10
    assert store.can_load(H1)


def test_corrupt_pack(store):
    os.makedirs(os.path.dirname(store._packfile()))
    with open(store._packfile(), 'wb') as f:
        f.write(zlib.compress(b'Pnot a pickle'))
    path = list(sys.path)
    with pytest.raises(Exception):
        file_store(store.jugdir)
    assert sys.path == path


def test_pack_reading_uses_cwd(tmp_path, monkeypatch):
    # packed objects may be instances of classes defined next to the jugfile
    (tmp_path / 'mymod_for_pack_test.py').write_text(
        'class Thing:\n    def __init__(self, x):\n        self.x = x\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import mymod_for_pack_test
    s = file_store('jd')
    s.dump(mymod_for_pack_test.Thing(3), H1)
    s.update_pack()
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    del sys.modules['mymod_for_pack_test']
    path = list(sys.path)
    assert str(tmp_path) not in sys.path
    assert file_store('jd').load(H1).x == 3
    assert sys.path == path
    del sys.modules['mymod_for_pack_test']


# --- Jug 2.7 data directories ------------------------------------------------------------------

def _check_interop_values(store):
    expected = load_expected()
    hashes = expected['hashes']
    values = expected['values']
    for task, (var, index) in INTEROP_TASK_VALUES.items():
        h = hashes[task].encode()
        assert store.can_load(h), task
        want = values[var] if index is None else values[var][index]
        got = store.load(h)
        if isinstance(want, dict) and 'ndarray' in want:
            want = expected_value(want)
            assert type(got) is np.ndarray, task
            assert got.dtype == want.dtype, task
            assert got.tolist() == want.tolist(), task
        else:
            assert got == want, task
    # tuples come back as tuples; the iteratetask parts are its elements
    assert store.load(hashes['interop.pair#10'].encode()) == (values['first'], values['second'])
    mapped = []
    for i in (21, 22, 23):
        mapped.extend(store.load(hashes[f'jug.mapreduce._jug_map#{i}'].encode()))
    assert mapped == values['mapped']
    assert store.load(hashes['interop.nothing#6'].encode()) is None
    assert store.load(hashes['interop.square#2'].encode()) == 4
    ints = store.load(hashes['interop.arange#7'].encode())
    assert ints.dtype == np.int32 and ints.tolist() == list(range(10))
    # every finished task loads
    finished = [name for name in hashes if not name.startswith('interop.never_run')]
    assert len(finished) == expected['status']['finished']
    for name in finished:
        store.load(hashes[name].encode())
    # the three never_run tasks: pending, running (locked) and failed
    status = expected['status']
    for h in (status['pending_hash'], status['running_hash'], status['failed_hash']):
        assert not store.can_load(h.encode())
    assert not store.getlock(status['pending_hash']).is_locked()
    running = store.getlock(status['running_hash'].encode())
    assert running.is_locked() and not running.is_failed()
    failed = store.getlock(status['failed_hash'])
    assert failed.is_locked() and failed.is_failed()
    assert sorted(store.listlocks()) == sorted([status['running_hash'].encode(),
                                                status['failed_hash'].encode()])
    assert sorted(store.list()) == sorted(hashes[name].encode() for name in finished)


def test_interop_unpacked(interop_dir):
    store = file_store(interop_dir)
    assert store.packed == {}
    _check_interop_values(store)


def test_interop_lock_files(interop_dir):
    status = load_expected()['status']
    lock = file_store(interop_dir).getlock(status['failed_hash'])
    assert os.stat(lock.fullname).st_mtime == 1
    lines = read(lock.fullname).decode().split('\n')
    assert re.fullmatch(r'PID \d+ on HOSTNAME \S+', lines[0])
    assert re.fullmatch(r'Lock created on \d{4}-\d\d-\d\d \(\d\dh\d\d\.\d\d\)', lines[1])


def test_interop_packed(interop_packed_dir, interop_dir):
    packed = file_store(interop_packed_dir)
    assert len(packed.packed) == load_expected()['status']['finished']
    assert list(packed._iter_filekeys()) == []  # everything is in the pack
    _check_interop_values(packed)
    unpacked = file_store(interop_dir)
    for key in unpacked.list():
        a, b = packed.load(key), unpacked.load(key)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.tolist() == b.tolist()
        else:
            assert a == b


def test_interop_pack_it_ourselves(interop_dir):
    store = file_store(interop_dir)
    assert store.update_pack() == load_expected()['status']['finished']
    _check_interop_values(file_store(interop_dir))


def test_interop_modify_packed(interop_packed_dir):
    hashes = load_expected()['hashes']
    store = file_store(interop_packed_dir)
    h = hashes['interop.square#3'].encode()
    assert store.remove(h)
    store.dump(-9, h)
    fresh = file_store(interop_packed_dir)
    assert h not in fresh.packed
    assert fresh.load(h) == -9
    assert fresh.load(hashes['interop.square#4']) == 16


def test_jugdir_below_a_file(tmp_path):
    (tmp_path / 'blocker').write_text('')
    with pytest.raises(StoreError, match='blocker/sub'):
        file_store(str(tmp_path / 'blocker' / 'sub'))


def test_damaged_pack_is_a_clear_error(tmp_path):
    jugdir = tmp_path / 'jugdata'
    (jugdir / 'packs').mkdir(parents=True)
    (jugdir / 'packs' / 'jugpack').write_bytes(b'')  # empty: decodes to None
    with pytest.raises(StoreError, match='pack file .* is damaged'):
        file_store(str(jugdir))
