"""The manual in docs/ builds with Sphinx and no warnings (``-W``).

This is how CI checks the docs: ``.ci/test`` only runs pytest. Sphinx is in the
``test`` extra (``pip install -e '.[test]'``).
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / 'html'
    proc = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html',
         '-d', str(tmp_path / 'doctrees'), os.path.join(ROOT, 'docs'), str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f'sphinx-build failed:\n{proc.stdout}\n{proc.stderr}'
    for page in ('index', 'tutorial', 'subcommands', 'configuration', 'compatibility'):
        assert (out / f'{page}.html').is_file(), page
