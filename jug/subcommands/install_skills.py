"""``jug install-skills``: copy the bundled jug skill for coding assistants.

Layer 5 (docs/subcommands.rst).  The skill is package data in ``jug/skills/jug/``
(``SKILL.md`` and the files it refers to); this command copies that directory to
``<output>/jug``.
"""
from __future__ import annotations

import os
import shutil

from ..errors import JugExit
from . import SubCommand
from ..options import add_flag

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

#: The skill's directory name, in the package and in the output directory.
SKILL_NAME = 'jug'

#: Exit codes (as in Jug 2.7): no ``--output`` given; the copy failed.
EXIT_NO_OUTPUT = 2
EXIT_FAILED = 1


def bundled_skill_path() -> str:
    """Return the path of the skill shipped with this package (``<jug>/skills/jug``)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(package, 'skills', SKILL_NAME)


def install_skill(output: str, force: bool = False) -> str:
    """Copy the bundled skill to ``<output>/jug`` and return that path.

    Usage: ``install_skill('~/.codex/skills')`` -> ``'/home/me/.codex/skills/jug'``

    ``output`` is created if needed.  Raises ``RuntimeError`` if the target exists
    (unless ``force``, which replaces it) or if copying fails.
    """
    output = os.path.abspath(os.path.expanduser(output))
    target = os.path.join(output, SKILL_NAME)
    source = bundled_skill_path()
    if not os.path.isdir(source):
        raise RuntimeError(f'the bundled skill is missing from this installation ({source})')
    try:
        if os.path.lexists(target):
            if not force:
                raise RuntimeError(f'{target} already exists (use --force to replace it)')
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        os.makedirs(output, exist_ok=True)
        shutil.copytree(source, target,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    except OSError as e:
        raise RuntimeError(f'could not install the skill to {target}: {e}') from e
    return target


class InstallSkillsCommand(SubCommand):
    """Install the jug skill for coding assistants

    install-skills: copy the skill that teaches coding assistants to write jugfiles
    and run jug into OUTPUT/jug (e.g. --output ~/.codex/skills).
    """

    name = 'install-skills'
    loads_jugfile_itself = True

    def run(self, *args: Any, options: Any = None, **kwargs: Any) -> int:
        output = getattr(options, 'install_skills_output', None)
        if not output:
            raise JugExit(EXIT_NO_OUTPUT, 'jug install-skills: say where to install the '
                                          'skill with --output DIR (e.g. --output '
                                          '~/.codex/skills or --output ~/.claude/skills)')
        try:
            target = install_skill(output, force=bool(options.install_skills_force))
        except RuntimeError as e:
            raise JugExit(EXIT_FAILED, f'jug install-skills: {e}') from e
        options.print_out(f'Installed Jug skill to {target}')
        return 0

    def parse(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument('--output', dest='install_skills_output', metavar='DIR',
                            help='Directory to install the skill into (as DIR/jug)')
        add_flag(parser, '--force', 'install_skills_force',
                 'Replace an existing DIR/jug')

    def parse_defaults(self) -> dict[str, Any]:
        return {'install_skills_output': None, 'install_skills_force': False}


install_skills = InstallSkillsCommand()
