"""Packaging: version, console scripts, extras, and the scripts in bin/.

setup.py is executed with ``setuptools.setup`` replaced by a function that
records its keyword arguments, so nothing is built or installed.
"""
import os
import re
import runpy
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DISTRIBUTION_VERSION = '3.0.0.dev0'
COMPAT_VERSION = '2.7.0'


@pytest.fixture(scope='module')
def setup_kwargs():
    setuptools = pytest.importorskip('setuptools')
    captured = {}
    saved_setup, saved_argv = setuptools.setup, sys.argv[:]
    setuptools.setup = lambda **kw: captured.update(kw)
    sys.argv[:] = ['setup.py', '--version']
    try:
        runpy.run_path(os.path.join(ROOT, 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = saved_setup
        sys.argv[:] = saved_argv
    return captured


def test_distribution_name_and_version(setup_kwargs):
    assert setup_kwargs['name'] == 'Jug'
    assert setup_kwargs['version'] == DISTRIBUTION_VERSION


def test_version_read_without_importing_jug():
    # setup.py reads jug/jug_version.py by regex; check the same file directly.
    with open(os.path.join(ROOT, 'jug', 'jug_version.py'), encoding='utf-8') as f:
        source = f.read()
    found = dict(re.findall(r"^(__\w+__)\s*=\s*['\"]([^'\"]+)['\"]", source, re.M))
    assert found.get('__release__') == DISTRIBUTION_VERSION
    # jug.__version__ stays Jug 2.7's for compatibility (docs/compatibility.rst).
    assert found.get('__version__') == COMPAT_VERSION


def test_console_scripts(setup_kwargs):
    scripts = setup_kwargs['entry_points']['console_scripts']
    normalised = {re.sub(r'\s+', '', s) for s in scripts}
    assert normalised == {'jug=jug.jug:main', 'jug-execute=jug.jug:main_execute'}


def test_extras_and_requirements(setup_kwargs):
    extras = setup_kwargs['extras_require']
    assert set(extras) >= {'redis', 'shell', 'web', 'test', 'all'}
    assert extras['redis'] == ['redis']
    assert extras['shell'] == ['IPython']
    assert extras['web'] == ['bottle']
    assert set(extras['all']) >= {'redis', 'IPython', 'bottle', 'pyyaml', 'numpy', 'shtab'}
    assert {'pytest', 'sphinx'} <= set(extras['test'])
    # jug must import without any of these, so nothing heavy is required.
    assert not setup_kwargs.get('install_requires')
    assert setup_kwargs['python_requires'] == '>=3.9'


def test_packages_found(setup_kwargs):
    assert 'jug' in setup_kwargs['packages']
    assert 'jug.backends' in setup_kwargs['packages']
    assert not any(p.startswith('tests') for p in setup_kwargs['packages'])


@pytest.mark.parametrize('script', ['jug', 'jug-execute'])
def test_bin_scripts_are_executable(script):
    path = os.path.join(ROOT, 'bin', script)
    assert os.access(path, os.X_OK)
    with open(path) as f:
        assert f.readline().startswith('#!')


def test_bin_jug_version(tmp_path):
    # From another directory, so that only bin/jug's own sys.path entry finds jug.
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'bin', 'jug'), '--version'],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == COMPAT_VERSION
