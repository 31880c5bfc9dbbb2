"""``jug install-skills``: copies the bundled skill; refuses to overwrite without --force."""
import os

import pytest

from jug.options import default_options
from jug.subcommands import install_skills as module
from jug.subcommands.install_skills import (SKILL_NAME, bundled_skill_path, install_skill,
                                            install_skills)

REQUIRED = ['SKILL.md', 'agents/openai.yaml', 'references/troubleshooting.md',
            'references/cli-reference.md', 'examples/simple_jugfile.py']


def _options(**values):
    options = default_options.copy()
    lines = []
    options.print_out = lines.append
    options.update(values)
    return options, lines


def test_bundle_is_complete():
    assert SKILL_NAME == 'jug'
    root = bundled_skill_path()
    for name in REQUIRED:
        assert os.path.isfile(os.path.join(root, name)), name
    with open(os.path.join(root, 'SKILL.md'), encoding='utf-8') as f:
        head = f.read(200)
    assert head.startswith('---\nname: jug\n')


def test_copy_exists_and_force(tmp_path):
    target = install_skill(str(tmp_path / 'out'))
    assert target == str(tmp_path / 'out' / 'jug')
    for name in REQUIRED:
        assert (tmp_path / 'out' / 'jug' / name).is_file()
    (tmp_path / 'out' / 'jug' / 'extra.txt').write_text('x')
    with pytest.raises(RuntimeError, match='already exists'):
        install_skill(str(tmp_path / 'out'))
    assert install_skill(str(tmp_path / 'out'), force=True) == target
    assert not (tmp_path / 'out' / 'jug' / 'extra.txt').exists()


def test_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    assert install_skill('~/skills') == str(tmp_path / 'skills' / 'jug')


def test_command(tmp_path):
    options, lines = _options(install_skills_output=str(tmp_path / 'o'))
    assert install_skills.run(options=options) == 0
    assert lines == [f'Installed Jug skill to {tmp_path / "o" / "jug"}']
    with pytest.raises(SystemExit) as e:
        install_skills.run(options=options)
    assert e.value.code == 1
    assert 'already exists' in str(e.value)  # the line jug.jug.main writes to stderr
    options.install_skills_force = True
    assert install_skills.run(options=options) == 0


def test_no_output_exits_2():
    options, _ = _options()
    with pytest.raises(SystemExit) as e:
        install_skills.run(options=options)
    assert e.value.code == 2
    assert str(e.value).startswith('jug install-skills: say where') and '--output' in str(e.value)


def test_cli(run_jug, tmp_path):
    proc = run_jug('install-skills')
    assert proc.returncode == 2 and '--output' in proc.stderr
    proc = run_jug('install-skills', '--output', 'sk')
    assert proc.returncode == 0 and 'Installed Jug skill to' in proc.stdout
    proc = run_jug('install-skills', '--output', 'sk')
    assert proc.returncode == 1
    assert proc.stderr.startswith('jug install-skills: ') and 'already exists' in proc.stderr
    assert run_jug('install-skills', '--output', 'sk', '--force').returncode == 0


def test_os_error_is_runtime_error(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError('disk full')
    monkeypatch.setattr(module.shutil, 'copytree', broken)
    with pytest.raises(RuntimeError, match='disk full'):
        install_skill(str(tmp_path / 'o'))
