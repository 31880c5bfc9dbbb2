"""docs/tutorial.rst works as written: its files and commands are run here, in order.

The tutorial marks what a reader types:

* ``.. code-block:: python`` with a ``:caption: FILE`` option is the content of
  ``FILE``, which the reader saves (the test writes it, at that point of the page);
* ``.. code-block:: console`` holds commands, lines starting with ``$ ``, each
  followed by the lines it prints.  Consecutive commands run as one ``bash`` script
  (so ``cmd &`` and ``wait`` work), which must exit with 0, or with N when a command
  ends in a comment starting ``# exit code N``.  Every line shown after a command must
  appear in its output (stdout and stderr), in the same order, with whitespace
  runs counting as one space; a rule of dashes or dots stands for a rule of any
  width (tables are as wide as the terminal).

``jug`` and ``python`` are this checkout's jug and this interpreter (shims first on
``PATH``), in an empty directory with a home of its own (no jugrc of the user).
"""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from jugtest import ROOT, jug_env

TUTORIAL = os.path.join(ROOT, 'docs', 'tutorial.rst')
STEP_TIMEOUT = 120  # seconds; each step takes well under one

DIRECTIVE = re.compile(r'^(?P<indent> *)\.\. code-block::\s*(?P<lang>\S+)\s*$')
OPTION = re.compile(r'^ +:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$')
EXIT_CODE = re.compile(r'#\s*exit code (\d+)\b')
RULE = re.compile(r'^(-{8,}|\.{8,})$')


def indentation(line):
    return len(line) - len(line.lstrip(' '))


def code_blocks(lines):
    """Yield ``(line number, language, options, content)`` for each code-block."""
    i = 0
    while i < len(lines):
        match = DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        start, indent = i, len(match.group('indent'))
        options = {}
        while i < len(lines) and OPTION.match(lines[i]) and indentation(lines[i]) > indent:
            option = OPTION.match(lines[i])
            options[option.group('key')] = option.group('value')
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or indentation(lines[i]) > indent):
            body.append(lines[i])
            i += 1
        yield start, match.group('lang'), options, textwrap.dedent('\n'.join(body)).strip('\n')


def literal_blocks(lines):
    """Yield ``(line number, lines)`` of the ``::`` literal blocks."""
    for i, line in enumerate(lines):
        if not line.rstrip().endswith('::') or line.lstrip().startswith('..'):
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        body = []
        while j < len(lines) and (not lines[j].strip()
                                  or indentation(lines[j]) > indentation(line)):
            body.append(lines[j])
            j += 1
        yield i + 1, body


class Step:
    """Commands typed one after the other, and what they print."""

    def __init__(self, where):
        self.where = where  # 'tutorial.rst:123'
        self.commands = []
        self.expected = []

    def exit_code(self):
        codes = [int(m.group(1)) for m in map(EXIT_CODE.search, self.commands) if m]
        return codes[-1] if codes else 0


def console_steps(lineno, content, page='tutorial.rst'):
    steps = []
    for offset, line in enumerate(content.splitlines()):
        if line.startswith('$ '):
            if not steps or steps[-1].expected:
                steps.append(Step(f'{page}:{lineno + offset}'))
            steps[-1].commands.append(line[2:])
        elif steps:
            steps[-1].expected.append(line)
        else:
            raise AssertionError(f'{page}:{lineno}: output before any command')
    return steps


def actions():
    """The tutorial as a list of ``('file', name, text)`` and ``('run', Step)``."""
    with open(TUTORIAL, encoding='utf-8') as f:
        lines = f.read().splitlines()
    found = []
    for lineno, lang, options, content in code_blocks(lines):
        if lang == 'console':
            found.extend(('run', step) for step in console_steps(lineno, content))
        elif lang == 'python':
            assert 'caption' in options, (
                f'tutorial.rst:{lineno}: a python code-block without a :caption: (the file '
                'name it is saved as) would not be tested')
            found.append(('file', options['caption'], content + '\n'))
    return found


def normalise(line):
    return ' '.join(line.split())


def matches(expected, actual):
    if RULE.match(expected):
        return RULE.match(actual) is not None and actual[0] == expected[0]
    return expected == actual


def assert_output(step, output):
    """Every shown line appears in `output`, in order."""
    actual = [normalise(line) for line in output.splitlines()]
    position = 0
    for shown in step.expected:
        expected = normalise(shown)
        if not expected:
            continue
        for i in range(position, len(actual)):
            if matches(expected, actual[i]):
                position = i + 1
                break
        else:
            raise AssertionError(
                f'{step.where}: after `{" && ".join(step.commands)}`, the '
                f'line\n    {shown.strip()}\nis not in the output (after what matched '
                f'before):\n{output}')


@pytest.fixture
def shell_env(tmp_path):
    """Environment of the reader's shell: `jug` and `python` of this checkout first."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name, argv in (('jug', f'"{sys.executable}" -m jug'), ('python', f'"{sys.executable}"')):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {argv} "$@"\n')
        shim.chmod(0o755)
    home = tmp_path / 'home'
    home.mkdir()
    return jug_env(PATH=f'{bin_dir}{os.pathsep}{os.environ.get("PATH", "")}', HOME=str(home))


def test_tutorial_runs_as_written(tmp_path, shell_env):
    work = tmp_path / 'work'
    work.mkdir()
    todo = actions()
    files = [name for kind, name, *_ in todo if kind == 'file']
    steps = [what[0] for kind, *what in todo if kind == 'run']
    # the parser found the tutorial's pieces (a broken parser must not pass silently)
    assert files[:2] == ['wordcount.py', 'results.py'] and 'chunks.py' in files, files
    assert len(steps) >= 15, [s.commands for s in steps]
    assert sum(bool(s.expected) for s in steps) >= 10

    for kind, *what in todo:
        if kind == 'file':
            name, text = what
            (work / name).write_text(text, encoding='utf-8')
            continue
        step, = what
        script = 'set -e\n' + '\n'.join(step.commands) + '\n'
        proc = subprocess.run(['bash', '-c', script], cwd=work, env=shell_env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=STEP_TIMEOUT)
        assert proc.returncode == step.exit_code(), (
            f'{step.where}: `{" && ".join(step.commands)}` exited with '
            f'{proc.returncode}, not {step.exit_code()}:\n{proc.stdout}')
        assert_output(step, proc.stdout)

    # what the tutorial's files computed, independently of the shown output
    words = {f'texts/{p.name}': len(p.read_text().split())
             for p in sorted((work / 'texts').glob('*.txt'))}
    assert len(words) == 4
    assert (work / 'report.txt').read_text().splitlines() == (
        [f'{name}: {n}' for name, n in words.items()] + [f'total: {sum(words.values())}'])
    assert not os.listdir(work / 'wordcount.jugdata' / 'locks')


def test_tutorial_commands_are_all_tested():
    """Commands in plain ``::`` literal blocks would escape the test above."""
    with open(TUTORIAL, encoding='utf-8') as f:
        lines = f.read().splitlines()
    for lineno, body in literal_blocks(lines):
        for line in body:
            assert not line.strip().startswith(('$ ', 'jug ')), (
                f'tutorial.rst:{lineno}: write commands in a `.. code-block:: console` '
                f'with `$ ` prompts, so that tests/test_tutorial.py runs them: {line.strip()}')
