"""Fewer garbage-collector passes while jug builds or scans a large graph of tasks.

Layer 0: imports nothing from jug.

Python's cyclic garbage collector runs a pass after every 700 new container objects,
and a full pass over every object each time the number of long-lived objects grew by
a quarter.  Loading a jugfile of a million tasks creates several million objects that
all stay alive (tasks, their argument tuples...), so the collector would keep walking
them for nothing: about a third of the time of ``jug status`` on such a jugfile.
Inside :func:`fewer_collections` a pass runs only every :data:`BULK_THRESHOLD` new
objects instead (cyclic garbage is still collected, only less often); the previous
setting is restored afterwards, so the tasks themselves run with Python's defaults.
"""
from __future__ import annotations

import contextlib
import gc

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator

__all__ = ['fewer_collections', 'BULK_THRESHOLD']

#: New container objects between two collector passes inside fewer_collections().
BULK_THRESHOLD = 50_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Make the garbage collector run rarely inside the ``with`` block.

    Usage: ``with fewer_collections(): load_a_million_tasks()``
    """
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], BULK_THRESHOLD), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
