"""Fixtures for running subcommands in-process on a scenario jugfile."""
import os
import shutil

import pytest

from jug.options import default_options

JUGFILES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'jugfiles')


class Output(list):
    """A print_out sink that records lines (and the empty line of tables)."""

    def __call__(self, line=''):
        self.append(line)


@pytest.fixture
def jug_options(tmp_path, monkeypatch):
    """Return ``make(name, **values)``: options for tests/jugfiles/<name>.py in tmp_path."""
    monkeypatch.chdir(tmp_path)

    def make(name, **values):
        shutil.copy(os.path.join(JUGFILES, name + '.py'), tmp_path)
        options = default_options.copy()
        options.jugfile = name + '.py'
        options.jugdir = values.pop('jugdir', name + '.jugdata')
        options.will_cite = True
        options.print_out = Output()
        options.update(values)
        return options
    return make
