"""Packaging of Jug (a compatible successor of Jug 2.7).

The distribution version is read from ``jug/jug_version.py`` with a regular
expression, so that building or installing never imports ``jug`` (which would
need the package's own dependencies before they are installed).

Two versions live in that file:

* ``__version__`` is what ``jug.__version__`` and ``jug --version`` report. It
  stays ``'2.7.0'`` because scripts written for Jug 2.7 compare it
  (see docs/compatibility.rst).
* ``__release__`` is this project's own release number, the one pip shows.
"""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version(path=os.path.join(HERE, 'jug', 'jug_version.py')):
    """Return the distribution version, ``__release__`` in ``jug/jug_version.py``.

    Usage: ``read_version()`` -> ``'3.0.0.dev0'``.
    """
    with open(path, encoding='utf-8') as f:
        source = f.read()
    m = re.search(r"^__release__\s*=\s*['\"]([^'\"]+)['\"]", source, re.M)
    if m is None:
        raise RuntimeError(f'no __release__ = "..." line in {path}')
    return m.group(1)


def read_long_description():
    """Return README.rst, the text PyPI shows."""
    with open(os.path.join(HERE, 'README.rst'), encoding='utf-8') as f:
        return f.read()


# The skill bundle copied by ``jug install-skills`` (docs/subcommands.rst). It may not
# exist yet; the patterns then match nothing. ``**`` recurses (setuptools >= 62.3).
SKILL_PATTERNS = ['skills/jug/*', 'skills/jug/**/*']


EXTRAS = {
    'redis': ['redis'],
    'shell': ['IPython'],
    'web': ['bottle'],
    'test': ['pytest', 'numpy', 'pyyaml', 'pexpect', 'sphinx', 'redis', 'bottle', 'IPython',
             'setuptools',  # setup.py's own tests (venvs of Python 3.12+ lack it)
             'mypy', 'ruff'],
    'all': ['redis', 'IPython', 'bottle', 'pyyaml', 'numpy', 'shtab'],
}

CLASSIFIERS = [
    'Development Status :: 4 - Beta',
    'Environment :: Console',
    'Intended Audience :: Developers',
    'Intended Audience :: Science/Research',
    'Operating System :: POSIX',
    'Programming Language :: Python',
    'Programming Language :: Python :: 3',
    'Programming Language :: Python :: 3 :: Only',
    'Programming Language :: Python :: 3.9',
    'Programming Language :: Python :: 3.10',
    'Programming Language :: Python :: 3.11',
    'Programming Language :: Python :: 3.12',
    'Programming Language :: Python :: 3.13',
    'Programming Language :: Python :: 3.14',
    'Topic :: Scientific/Engineering',
    'Topic :: Software Development',
    'Topic :: System :: Distributed Computing',
]

setup(
    name='Jug',
    version=read_version(),
    description='A task-based parallelisation framework (compatible with Jug 2.7)',
    long_description=read_long_description(),
    long_description_content_type='text/x-rst',
    packages=find_packages(where=HERE, include=['jug', 'jug.*']),
    package_data={'jug': SKILL_PATTERNS + ['py.typed']},
    include_package_data=True,
    python_requires='>=3.9',
    install_requires=[],
    extras_require=EXTRAS,
    entry_points={
        'console_scripts': [
            'jug = jug.jug:main',
            'jug-execute = jug.jug:main_execute',
        ],
    },
    classifiers=CLASSIFIERS,
    zip_safe=False,
)
