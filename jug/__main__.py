"""``python -m jug``: the ``jug`` command."""
from jug.jug import main

main()
