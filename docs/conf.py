"""Sphinx configuration of the Jug manual.

Kept free of extensions that need the network. The API reference (api.rst) is
built by ``sphinx.ext.autodoc`` from the docstrings, so the repository root is
put first on ``sys.path``: the ``jug`` documented is the one of this checkout,
which imports nothing beyond the standard library. ``sphinx.ext.napoleon``
reads the numpy-style sections (Parameters, Returns...) of the docstrings. The
version shown is read from ``../jug/jug_version.py`` the same way setup.py
reads it, without importing jug.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the checkout's jug, for autodoc


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

extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon']

# autodoc: members in the order of the source; signatures without type hints (the
# docstrings say what each argument is, and most hints are ``Any``).
autodoc_member_order = 'bysource'
autodoc_typehints = 'none'
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Parameter types as plain text, not cross-references: a type such as ``store`` would
# otherwise be looked up among the documented attributes (and be ambiguous).
napoleon_use_param = False
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
