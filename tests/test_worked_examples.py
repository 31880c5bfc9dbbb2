"""The worked examples of docs/examples.rst run end to end, as their READMEs say.

Each test copies one directory of examples/ into a temporary directory, runs ``jug
execute`` on its jugfile (two workers), checks with ``jug check`` that every task
is done, then runs the example's read-back script (``summary.py``,
``analyse.py``) in a new process and checks what it prints against the stored
results, loaded here, and against values computed here independently; and what
docs/examples.rst shows that script printing must be what it prints.
"""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from jugtest import ROOT, jug_command, jug_env
from test_tutorial import assert_output, code_blocks, console_steps

EXAMPLES = os.path.join(ROOT, 'examples')
TIMEOUT = 120  # seconds; each example takes about one
#: Each example must stay quick: both runs together, with a wide margin for slow CI.
MAX_SECONDS = 30


def copy_example(tmp_path, name):
    """Copy ``examples/<name>`` (without results) into ``tmp_path/<name>``; return it."""
    dest = tmp_path / name
    shutil.copytree(os.path.join(EXAMPLES, name), dest,
                    ignore=shutil.ignore_patterns('*.jugdata', '__pycache__'))
    return dest


def run(argv, cwd):
    proc = subprocess.run(argv, cwd=cwd, env=jug_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f'{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}'
    return proc.stdout


def execute_and_check(cwd, jugfile):
    """``jug execute -j 2``, then ``jug check``; return execute's output."""
    out = run(jug_command('execute', '-j', '2', jugfile, '--will-cite'), cwd)
    run(jug_command('check', jugfile), cwd)
    assert not os.listdir(cwd / (jugfile[:-len('.py')] + '.jugdata') / 'locks')
    return out


def run_script(cwd, script):
    return run([sys.executable, script], cwd).splitlines()


def assert_documented_output(script, lines):
    """The output docs/examples.rst shows after ``$ python <script>`` is `lines`."""
    with open(os.path.join(ROOT, 'docs', 'examples.rst'), encoding='utf-8') as f:
        rst = f.read().splitlines()
    shown = [step for lineno, lang, _, content in code_blocks(rst) if lang == 'console'
             for step in console_steps(lineno, content, 'examples.rst')
             if step.commands[-1] == f'python {script}']
    assert len(shown) == 1 and shown[0].expected, f'no output of {script} in examples.rst'
    assert_output(shown[0], '\n'.join(lines))


@pytest.fixture
def load_results(monkeypatch):
    """``load_results(directory, jugfile)`` → the jugfile's namespace, loaded here."""
    import jug.jug
    monkeypatch.setattr(sys, 'path', list(sys.path))  # init puts the cwd first
    loaded = []

    def load(directory, jugfile):
        monkeypatch.chdir(directory)
        module = jugfile[:-len('.py')]
        monkeypatch.delitem(sys.modules, module, raising=False)
        loaded.append(module)
        _, space = jug.jug.init(jugfile, module + '.jugdata')
        return space

    yield load
    for module in loaded:
        sys.modules.pop(module, None)


# --------------------------------------------------------------------------------------
# examples/signals

SIGNAL_ROW = re.compile(r'^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$')


def test_signals_example(tmp_path, load_results):
    np = pytest.importorskip('numpy')
    from jug import value
    cwd = copy_example(tmp_path, 'signals')
    start = time.monotonic()
    out = execute_and_check(cwd, 'signals.py')
    assert re.search(r'^\s*73\s+0\s+Total\s*$', out, re.MULTILINE), out
    lines = run_script(cwd, 'summary.py')
    assert time.monotonic() - start < MAX_SECONDS

    rows = [SIGNAL_ROW.match(line).groups() for line in lines if SIGNAL_ROW.match(line)]
    assert len(rows) == 12, lines
    for i, (recording, tone, raw_peak, filtered_peak) in enumerate(rows):
        assert int(recording) == i
        assert float(tone) == 3.0 * (i + 1)
        assert float(filtered_peak) == float(tone)   # the filter finds every tone
        assert float(raw_peak) == 50.0               # without it, the hum wins
    assert 'tones found: 12 of 12 after filtering, 0 without' in lines
    assert lines[-1] == 'first filtered recording: 2000 samples, float64'
    assert_documented_output('summary.py', lines)

    # The stored results, checked independently of the example's own functions.
    space = load_results(cwd, 'signals.py')
    signal = value(space['recordings'][4])
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(signal.size, 1 / space['SAMPLE_RATE'])
    assert freqs[np.argmax(spectrum)] == space['HUM_FREQUENCY']
    assert signal.size == space['SAMPLE_RATE'] * space['DURATION'] == 2000
    filtered = value(space['filtered'][4])
    outside = (freqs < 2.0) | (freqs > 40.0)
    assert np.abs(np.fft.rfft(filtered))[outside].max() < 1e-6 * spectrum.max()
    assert value(space['summary'])['found_filtered'] == 12

    # Arrays are stored as plain .npy files (docs/faq.rst): the 12 recordings, the 12
    # filtered ones and the 24 spectra.
    jugdir = cwd / 'signals.jugdata'
    npy = [p for p in jugdir.glob('??/*') if p.read_bytes()[:6] == b'\x93NUMPY']
    assert len(npy) == 48


# --------------------------------------------------------------------------------------
# examples/sweep

SWEEP_ROW = re.compile(r'^\s*(\d+)((?:\s+(?:[\d.]+|-))+)\s*$')
BEST = re.compile(r'^best: degree (\d+), penalty (\S+), validation RMSE ([\d.]+)$')


def parse_table(lines):
    """``{(degree, column): text}`` from analyse.py's table."""
    cells = {}
    for line in lines:
        match = SWEEP_ROW.match(line)
        if match:
            for column, text in enumerate(match.group(2).split()):
                cells[int(match.group(1)), column] = text
    return cells


def test_sweep_example(tmp_path, load_results):
    np = pytest.importorskip('numpy')
    from jug import value
    cwd = copy_example(tmp_path, 'sweep')
    start = time.monotonic()

    # Before any run: nothing computed, and the script says so.
    lines = run_script(cwd, 'analyse.py')
    assert lines[0] == '0 of 32 grid points computed'
    assert set(parse_table(lines).values()) == {'-'}
    assert lines[-1] == 'best: not computed yet'

    out = execute_and_check(cwd, 'sweep.py')
    assert re.search(r'^\s*32\s+0\s+sweep\.validation_error\s*$', out, re.MULTILINE), out
    lines = run_script(cwd, 'analyse.py')
    assert time.monotonic() - start < MAX_SECONDS
    assert lines[0] == '32 of 32 grid points computed'
    assert_documented_output('analyse.py', lines)

    space = load_results(cwd, 'sweep.py')
    degrees, penalties = space['DEGREES'], space['PENALTIES']
    errors = value(space['errors'])
    assert len(errors) == len(degrees) * len(penalties) == 32
    table = parse_table(lines)
    assert table == {(d, column): f'{errors[d, p]:.4f}'
                     for d in degrees for column, p in enumerate(penalties)}

    (degree, penalty), error = min(errors.items(), key=lambda item: item[1])
    match = BEST.match(lines[-1])
    assert match, lines
    assert (int(match.group(1)), float(match.group(2)), match.group(3)) == (
        degree, penalty, f'{error:.4f}')
    assert value(space['best']) == {'degree': degree, 'penalty': penalty, 'error': error}
    # The data are a cubic plus noise of 0.1: lines and parabolas fit far worse.
    assert degree >= 3 and error < 0.15
    assert min(errors[1, p] for p in penalties) > 2 * error

    # One grid point, computed here with numpy's own least squares (a penalty of 1e-6
    # changes nothing at four decimals).
    data = value(space['data'])
    fit = np.polyfit(data['x_train'], data['y_train'], 3)
    rmse = np.sqrt(np.mean((np.polyval(fit, data['x_valid']) - data['y_valid']) ** 2))
    assert f'{rmse:.4f}' == table[3, 0]
