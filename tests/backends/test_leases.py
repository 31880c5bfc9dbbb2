"""The lease layer shared by file and redis locks (jug/backends/leases.py): owner tokens
and the one heartbeat thread of a process."""
import os
import threading
import time

from jug.backends.leases import Heartbeat, Lease, new_token, nodename, token_is_ours


def test_tokens_name_this_process_and_differ():
    a, b = new_token(), new_token()
    assert a != b and a.startswith(f'{nodename()}:{os.getpid()}:') and ' ' not in a
    assert token_is_ours(a)
    assert not token_is_ours(f'{nodename()}:{os.getpid() + 1}:00') and not token_is_ours('x')


class _TestHeartbeat(Heartbeat):
    """A heartbeat of its own (the process's one, and its thread, stay untouched)."""

    thread_name = 'test-lease-heartbeat'


def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.01)


def test_one_call_per_group_and_the_interval_follows_the_held_leases():
    beat = _TestHeartbeat()
    calls = []
    lock = threading.Lock()

    def refresh(leases):
        with lock:
            calls.append(sorted(lease.key for lease in leases))
    beat.hold(Lease('a', 't', 'g1', refresh, None), 30)
    beat.hold(Lease('b', 't', 'g1', refresh, None), 0.02)
    beat.hold(Lease('c', 't', 'g2', refresh, None), 30)
    _wait_for(lambda: beat.rounds >= 2)
    with lock:
        assert ['a', 'b'] in calls and ['c'] in calls  # grouped: one call per group
    assert beat._interval == 0.02
    beat.drop('b')
    assert beat._interval == 30  # no longer the shortest ever asked for: the held ones'
    assert beat.token('a') == 't' and beat.token('b') is None
    beat.drop_where(lambda lease: True)
    assert beat._interval is None and beat.token('a') is None
    rounds = beat.rounds
    time.sleep(0.1)
    assert beat.rounds == rounds  # nothing held: no beat


def test_a_failing_refresh_does_not_stop_the_heartbeat():
    beat = _TestHeartbeat()
    seen = []

    def broken(leases):
        seen.append(1)
        raise OSError('transient')
    lease = Lease('k', 't', 'g', broken, None)
    beat.hold(lease, 0.01)
    _wait_for(lambda: len(seen) >= 3)
    assert beat.holds(lease)
    beat.drop('k')
