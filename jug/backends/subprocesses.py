"""Starting helper processes of jug (layer 1): the heartbeat, the keepalive monitor.

:func:`module_command` runs a module of this very copy of jug in a new interpreter,
whatever the working directory holds (``python -m`` would put it first on the path:
a ``jug.py`` or a ``jug/`` there, e.g. another checkout of Jug, would be imported
instead) and whether or not jug is installed.

Imports nothing from jug.
"""
from __future__ import annotations

import os
import sys

__all__ = ['module_command']

#: Puts the directory given as first argument first on the path (and takes it off the
#: arguments), then runs the module as ``python -m`` would.
_BOOTSTRAP = ('import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); '
              'runpy.run_module({module!r}, run_name="__main__", alter_sys=True)')


def module_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args`` with this copy of jug.

    Usage: ``subprocess.Popen(module_command('jug.backends.heartbeat_process', '42'))``
    """
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return [sys.executable, '-c', _BOOTSTRAP.format(module=module), package_root, *args]
