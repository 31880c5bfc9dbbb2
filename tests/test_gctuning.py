"""jug/gctuning.py: the collector runs rarely inside fewer_collections(), as before after."""
import gc

import pytest

from jug.gctuning import BULK_THRESHOLD, fewer_collections


def test_threshold_raised_inside_and_restored_after():
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == (max(before[0], BULK_THRESHOLD), *before[1:])
    assert gc.get_threshold() == before


def test_restored_after_an_error():
    before = gc.get_threshold()
    with pytest.raises(ValueError):
        with fewer_collections():
            raise ValueError
    assert gc.get_threshold() == before


def test_cyclic_garbage_is_still_collected():
    class Node:
        pass
    with fewer_collections():
        gc.collect()
        for _ in range(BULK_THRESHOLD * 2):  # enough to trigger a pass
            a, b = Node(), Node()
            a.other, b.other = b, a
        assert gc.get_count()[0] < BULK_THRESHOLD
