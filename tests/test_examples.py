"""The example jugfiles in examples/ run to completion with two workers at once.

Each test copies one example into a temporary directory, starts two ``jug
execute`` processes on it at the same time, waits for both, checks that
``jug check`` agrees everything is done and that no task ran twice, and then
loads the results in this process and compares them with values computed here.
"""
import collections
import math
import os
import random
import re
import shutil
import subprocess
import sys

import pytest

from jugtest import ROOT, jug_command, jug_env

EXAMPLES = os.path.join(ROOT, 'examples')
WORKER_TIMEOUT = 60  # seconds; the examples take about one second each

#: The line of the summary table that ``jug execute`` prints at the end.
TOTAL_LINE = re.compile(r'^\s*(\d+)\s+(\d+)\s+Total\s*$', re.MULTILINE)


def copy_example(tmp_path, *parts):
    """Copy ``examples/<parts>`` into ``tmp_path``; return the jugfile's base name."""
    source = os.path.join(EXAMPLES, *parts)
    shutil.copy(source, tmp_path)
    return os.path.basename(source)


def run_two_workers(tmp_path, jugfile):
    """Run two ``jug execute`` processes on ``jugfile`` at once; return their stdouts."""
    argv = jug_command('execute', jugfile, '--will-cite', '--wait-cycle-time', '0.2')
    workers = [subprocess.Popen(argv, cwd=tmp_path, env=jug_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        outputs = [w.communicate(timeout=WORKER_TIMEOUT) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.communicate()
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, f'jug execute failed:\n{out}\n{err}'
    return [out for out, _ in outputs]


def executed_total(stdout):
    """The number of tasks a worker reports having executed."""
    match = TOTAL_LINE.search(stdout)
    assert match, f'no summary table in:\n{stdout}'
    return int(match.group(1))


def assert_complete(tmp_path, jugfile):
    """``jug check`` passes and no lock is left behind."""
    check = subprocess.run(jug_command('check', jugfile), cwd=tmp_path, env=jug_env(),
                           capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    assert check.returncode == 0, check.stdout + check.stderr
    jugdir = tmp_path / (jugfile[:-len('.py')] + '.jugdata')
    assert not os.listdir(jugdir / 'locks')


@pytest.fixture
def load_results(tmp_path, monkeypatch):
    """``load_results(jugfile)`` → the jugfile's namespace, its tasks loadable from the store."""
    import jug.jug
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'path', list(sys.path))  # init puts the cwd first
    loaded = []

    def load(jugfile):
        module = jugfile[:-len('.py')]
        monkeypatch.delitem(sys.modules, module, raising=False)  # restored afterwards
        loaded.append(module)
        _, space = jug.jug.init(jugfile, module + '.jugdata')
        assert '__jug__hasbarrier__' not in space, 'a barrier stopped the jugfile'
        return space

    yield load
    for module in loaded:
        sys.modules.pop(module, None)


def assert_each_task_ran_once(stdouts, jugfile_tasks):
    # A worker runs a task only while holding its lock, and only if it has no
    # result yet: together the two ran each task of the final graph exactly once.
    assert sum(executed_total(out) for out in stdouts) == len(jugfile_tasks)


# --------------------------------------------------------------------------------------
# examples/primes

def test_primes_example(tmp_path, load_results):
    import jug.task
    from jug import value
    jugfile = copy_example(tmp_path, 'primes', 'primes.py')
    stdouts = run_two_workers(tmp_path, jugfile)
    assert_complete(tmp_path, jugfile)

    space = load_results(jugfile)
    assert_each_task_ran_once(stdouts, jug.task.alltasks)
    expected = [all(n % d for d in range(2, math.isqrt(n) + 1)) for n in range(2, 101)]
    assert value(space['primes100']) == expected
    assert value(space['n_primes']) == 25
    lines = (tmp_path / 'output.txt').read_text().splitlines()
    assert lines[0] == '25 primes between 2 and 100:'
    assert [int(n) for n in lines[1:]] == [n for n, p in zip(range(2, 101), expected) if p]


# --------------------------------------------------------------------------------------
# examples/text

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def test_wordstats_example(tmp_path, load_results):
    import jug.task
    from jug import value
    jugfile = copy_example(tmp_path, 'text', 'wordstats.py')

    # Before any run, the barrier hides everything but the task writing the texts.
    status = subprocess.run(jug_command('status', jugfile), cwd=tmp_path, env=jug_env(),
                            capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    assert status.returncode == 1, status.stdout + status.stderr
    assert 'wordstats.write_texts' in status.stdout
    assert 'count_words' not in status.stdout
    assert not (tmp_path / 'texts').exists()

    stdouts = run_two_workers(tmp_path, jugfile)
    assert_complete(tmp_path, jugfile)

    # The inputs, as the first task wrote them.
    text_files = sorted((tmp_path / 'texts').glob('*.txt'))
    assert len(text_files) == 4
    per_file = [collections.Counter(WORD.findall(p.read_text(encoding='utf-8').lower()))
                for p in text_files]
    totals = sum(per_file, collections.Counter())
    assert sum(totals.values()) > 400

    space = load_results(jugfile)
    assert_each_task_ran_once(stdouts, jug.task.alltasks)
    assert value(space['texts']) == [f'texts/{p.name}' for p in text_files]
    assert [dict(value(c)) for c in space['counts']] == [dict(c) for c in per_file]
    assert dict(value(space['totals'])) == dict(totals)

    candidates = sorted((w for w in totals if w not in space['STOP_WORDS']),
                        key=lambda w: (-totals[w], w))
    keywords = candidates[:space['N_KEYWORDS']]
    assert value(space['keywords']) == keywords
    assert sorted(space['contexts']) == sorted(keywords)
    for word in keywords:
        found = value(space['contexts'][word])
        assert len(found) == min(space['N_CONTEXTS'], totals[word])
        for fname, snippet in found:
            assert fname in {p.name for p in text_files}
            assert word in snippet.split()

    summary = value(space['report'])
    assert summary == {
        'files': 4,
        'words': sum(totals.values()),
        'distinct_words': len(totals),
        'keywords': {w: totals[w] for w in keywords},
    }
    report = (tmp_path / 'report.txt').read_text(encoding='utf-8')
    assert f'{sum(totals.values())} words' in report
    for word in keywords:
        assert f'{word!r}: {totals[word]} times' in report


# --------------------------------------------------------------------------------------
# examples/mapreduce

def count_inside(seed, points):
    """The Monte Carlo run of one seed, written out again independently of the example."""
    rng = random.Random(seed)
    inside = 0
    for _ in range(points):
        x, y = rng.random(), rng.random()
        inside += x * x + y * y <= 1.0
    return inside


def test_mapreduce_example(tmp_path, load_results):
    import jug.task
    from jug import value
    from jug.mapreduce import block_access
    jugfile = copy_example(tmp_path, 'mapreduce', 'mapreduce_example.py')
    stdouts = run_two_workers(tmp_path, jugfile)
    assert_complete(tmp_path, jugfile)

    space = load_results(jugfile)
    tasks = jug.task.alltasks
    assert_each_task_ran_once(stdouts, tasks)
    names = collections.Counter(t.name for t in tasks)
    assert names['jug.mapreduce._jug_map'] == 4
    assert names['jug.mapreduce._jug_map_curry'] == 3
    assert names['jug.mapreduce._jug_map_reduce'] == 10
    assert names['jug.mapreduce._jug_reduce'] == 4

    seeds, points = space['SEEDS'], space['POINTS']
    expected_hits = [count_inside(seed, points) for seed in seeds]
    hits = space['hits']
    assert isinstance(hits, block_access)
    assert value(hits) == expected_hits
    assert value(hits[:3]) == expected_hits[:3]
    assert value(hits[5]) == expected_hits[5]

    def pi(counts):
        return 4.0 * sum(counts) / (len(counts) * points)

    n = space['N_SQUARES']
    summary = value(space['summary'])
    assert summary == {
        'pi': pi(expected_hits),
        'pi_halves': [pi(expected_hits[:8]), pi(expected_hits[8:])],
        'pi_even_seeds': pi(expected_hits[::2]),
        'hits_seed_0': expected_hits[0],
        'sum_of_squares': n * (n + 1) * (2 * n + 1) // 6,
        'power_sum_mismatches': [],
    }
    assert abs(summary['pi'] - math.pi) < 0.02
    assert [value(s) for s in space['power_sums']] == [
        sum(k ** p for k in range(1, n_ + 1)) for n_, p in space['POWER_SUMS']]
