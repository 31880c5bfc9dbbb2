"""Interoperability with Jug 2.7.0: a data directory it wrote (tests/data/) is read
here, its hashes are reproduced, and what this project writes is byte-identical."""
import json
import os
import shutil

import numpy as np
import pytest

import jug.task
from jug import value
from jug.jug import init
from jug.subcommands import status as status_module
from jug.options import default_options
from jugtest import DATA, extract_data

with open(os.path.join(DATA, 'expected.json')) as expected_file:
    EXPECTED = json.load(expected_file)


def _extract(archive, where):
    extract_data(archive, where)
    shutil.copy(os.path.join(DATA, 'interop.py'), where)
    return where


@pytest.fixture
def interop_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(_extract('interop.jugdata.tar.gz', tmp_path))
    return tmp_path


def _expected_value(spec):
    if isinstance(spec, dict) and 'ndarray' in spec:
        return np.array(spec['ndarray'], dtype=spec['dtype'])
    return spec


def _assert_same(actual, expected):
    if isinstance(expected, np.ndarray):
        assert type(actual) is np.ndarray and actual.dtype == expected.dtype
        assert actual.tolist() == expected.tolist()
    else:
        assert actual == expected


def _load_interop():
    store, space = init('interop.py', 'interop.jugdata')
    return store, space


def test_hashes_match_jug_27(interop_dir):
    _load_interop()
    tasks = jug.task.alltasks
    assert len(tasks) == EXPECTED['status']['total']
    recorded = {int(key.split('#')[1]): (key.split('#')[0], h)
                for key, h in EXPECTED['hashes'].items()}
    for i, t in enumerate(tasks):
        name, h = recorded[i]
        assert t.name == name
        assert t.hash() == h.encode()


@pytest.mark.parametrize('archive', ['interop.jugdata.tar.gz', 'interop-packed.jugdata.tar.gz'])
def test_values_load(tmp_path, monkeypatch, archive):
    monkeypatch.chdir(_extract(archive, tmp_path))
    _, space = _load_interop()
    for name, spec in EXPECTED['values'].items():
        actual = value(space[name])
        if isinstance(spec, list) and spec and isinstance(spec[0], dict):
            for a, e in zip(actual, spec):
                _assert_same(a, _expected_value(e))
        else:
            expected = _expected_value(spec)
            if isinstance(actual, tuple):
                actual = list(actual)
            _assert_same(actual, expected)


def test_status_counts(interop_dir):
    options = default_options.copy()
    options.jugfile = 'interop.py'
    options.jugdir = 'interop.jugdata'
    ts = status_module._status(options)
    totals = {state: sum(getattr(ts, state).values())
              for state in ('failed', 'waiting', 'ready', 'running', 'finished')}
    assert totals == {'failed': 1, 'waiting': 0, 'ready': 1, 'running': 1, 'finished': 25}
    assert ts.failed['interop.never_run'] == 1 and ts.running['interop.never_run'] == 1


def test_status_command(interop_dir, run_jug):
    result = run_jug('status', 'interop.py', '--short')
    assert result.returncode == 1
    assert result.stdout.strip() == \
        '1 tasks waiting to be run, 1 failed, 25 complete, (1 active).'
    table = run_jug('status', 'interop.py')
    total = [line for line in table.stdout.splitlines() if line.rstrip().endswith('Total')]
    assert total[0].split() == ['1', '0', '1', '25', '1', 'Total']


def test_results_we_write_are_byte_identical(tmp_path, run_jug):
    """Run the jugfile from scratch: every result file equals Jug 2.7's, byte for byte."""
    theirs = _extract('interop.jugdata.tar.gz', tmp_path / 'theirs')
    ours = tmp_path / 'ours'
    ours.mkdir()
    shutil.copy(os.path.join(DATA, 'interop.py'), ours)
    result = run_jug('execute', 'interop.py', '--will-cite', cwd=ours)
    assert result.returncode == 0, result.stderr
    compared = 0
    for h in EXPECTED['hashes'].values():
        their_file = theirs / 'interop.jugdata' / h[:2] / h[2:]
        if their_file.exists():
            our_file = ours / 'interop.jugdata' / h[:2] / h[2:]
            assert our_file.read_bytes() == their_file.read_bytes(), h
            compared += 1
    assert compared == 25


def test_lock_files_of_jug_27(interop_dir):
    store, _ = _load_interop()
    running = EXPECTED['status']['running_hash'].encode()
    failed = EXPECTED['status']['failed_hash'].encode()
    assert sorted(store.listlocks()) == sorted([running, failed])
    assert store.getlock(running).is_locked() and not store.getlock(running).is_failed()
    assert store.getlock(failed).is_failed()
