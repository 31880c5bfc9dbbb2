"""Sphinx configuration of the Jug manual.

Kept free of extensions that need the network or that import ``jug`` (the docs
must build with ``sphinx-build -W`` even before every module exists). The
version shown is read from ``../jug/jug_version.py`` the same way setup.py reads
it, without importing jug.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def _distribution_version():
    path = os.path.join(HERE, os.pardir, 'jug', 'jug_version.py')
    try:
        with open(path, encoding='utf-8') as f:
            source = f.read()
    except OSError:
        return 'unknown'
    m = re.search(r"^__release__\s*=\s*['\"]([^'\"]+)['\"]", source, re.M)
    return m.group(1) if m else 'unknown'


project = 'Jug'
author = 'the Jug developers'
copyright = 'the Jug developers'
release = _distribution_version()
version = release

extensions = []
templates_path = []
exclude_patterns = ['_build']
root_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
language = 'en'
pygments_style = 'sphinx'
highlight_language = 'python3'

html_theme = 'alabaster'
html_static_path = []
html_title = f'Jug {release}'
