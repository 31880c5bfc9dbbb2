"""``jug pack``: move the small results of a file store into one pack file.

Layer 5 (docs/subcommands.rst, docs/backends.rst).  Only file stores can pack; on any
other store the command says so and exits 1.
"""
from __future__ import annotations

from ..errors import JugExit
from . import SubCommand

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..optionchain import Options

#: Exit code when the store cannot pack (as in Jug 2.7).
EXIT_CANNOT_PACK = 1


class PackCommand(SubCommand):
    """Pack small results into one file (file store)

    pack: move every result of at most 512 bytes into <jugdir>/packs/jugpack, so that
    a jugdir with many small results holds fewer files (file stores only).
    """

    name = 'pack'

    def run(self, store: Any, options: Options, *args: Any, **kwargs: Any) -> None:
        if not getattr(store, 'can_pack', False):  # also a store not derived from ours
            raise JugExit(EXIT_CANNOT_PACK, f'jug pack: only file stores can be packed, '
                                            f'and {store!r} is not one.')
        options.print_out(f'Packed {store.update_pack()} objects')


pack = PackCommand()
