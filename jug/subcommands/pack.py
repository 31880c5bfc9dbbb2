"""``jug pack``: move the small results of a file store into one pack file.

Layer 5 (SPEC.md §3.3, §4.8).  Only file stores can pack; on any other store the
command says so and exits 1.
"""
import sys

from . import SubCommand

#: Exit code when the store cannot pack (SPEC.md §4.8).
EXIT_CANNOT_PACK = 1


class PackCommand(SubCommand):
    """Pack small results into one file

    pack: move every result of at most 512 bytes into <jugdir>/packs/jugpack, so that
    a jugdir with many small results holds fewer files (file stores only).
    """

    name = 'pack'

    def run(self, store, options, *args, **kwargs):
        update_pack = getattr(store, 'update_pack', None)
        if update_pack is None:
            sys.stderr.write(f'jug pack: only file stores can be packed, and {store!r} '
                             'is not one.\n')
            sys.exit(EXIT_CANNOT_PACK)
        options.print_out(f'Packed {update_pack()} objects')


pack = PackCommand()
