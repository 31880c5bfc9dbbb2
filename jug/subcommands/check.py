"""``jug check`` and ``jug sleep-until``: are all tasks done (exit 0) or not (exit 1)?

Layer 5 (docs/subcommands.rst).
"""
from __future__ import annotations

import time

from .. import task as _task_module
from ..errors import JugExit
from ..jug import init
from ..task import recursive_dependencies
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from ..optionchain import Options

#: Seconds ``sleep-until`` waits between checks.
SLEEP_UNTIL_INTERVAL = 12


def _check_or_sleep_until(store: Any, sleep_until: bool) -> int:
    """Return 0 once every task can be loaded; 1 (or, sleeping, wait) otherwise.

    Tasks are checked from the last created; a loadable task vouches for all its
    dependencies, which are then not checked one by one.
    """
    covered: set[int] = set()
    for t in reversed(_task_module.alltasks):
        if id(t) in covered:
            continue
        while not t.can_load(store):
            if not sleep_until:
                return 1
            time.sleep(SLEEP_UNTIL_INTERVAL)
        covered.update(id(dep) for dep in recursive_dependencies(t))
    return 0


class CheckCommand(SubCommand):
    """Exit 0 if every task has a result, else 1

    check: exit with code 0 if every task has a stored result, 1 otherwise.
    """

    name = 'check'

    def run(self, store: Any, options: Options, *args: Any, **kwargs: Any) -> NoReturn:
        raise JugExit(_check_or_sleep_until(store, False))


class SleepUntilCommand(SubCommand):
    """Wait until every task has a result

    sleep-until: wait (checking every 12 seconds) until every task has a stored result,
    re-reading the jugfile after barriers.
    """

    name = 'sleep-until'

    def run(self, options: Options, store: Any, jugspace: dict[str, Any], *args: Any,
            **kwargs: Any) -> NoReturn:
        while True:
            _check_or_sleep_until(store, True)
            if not jugspace.get('__jug__hasbarrier__'):
                raise JugExit(0)
            del _task_module.alltasks[:]
            store, jugspace = init(options.jugfile, options.jugdir, store=store)


check = CheckCommand()
sleep_until = SleepUntilCommand()
