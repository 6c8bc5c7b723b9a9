"""Back-pressure limiters: the local one under threads, the lease rules with a fake clock, and
the Ray-shared one across worker processes of a local Ray cluster (killed holders included).

Rate checks use short windows and only lower bounds (a request may never start *earlier*
than the window allows), so a slow machine cannot fail them.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import ray

from evalharness.model.ratelimit import LeasedLimiter, LimiterStats, RayRequestLimiter, RequestLimiter, make_limiter

HERE = Path(__file__).resolve().parent
EPS = 0.002  # pyrate-limiter counts whole milliseconds


class Occupancy:
    """Counts holders inside a slot and remembers the most seen at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self.now = self.peak = 0

    def __enter__(self):
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc):
        with self._lock:
            self.now -= 1


def run_threads(n: int, target, *args) -> None:
    threads = [threading.Thread(target=target, args=args, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread never got its slot"


def assert_rate(entries: list[float], start: float, per_window: int, window: float) -> None:
    """The (k*N+1)-th request started no earlier than `start + k*window`."""
    entries = sorted(entries)
    for k in range(1, (len(entries) - 1) // per_window + 1):
        assert entries[k * per_window] >= start + k * window - EPS, (k, [e - start for e in entries])


# --- the local limiter -------------------------------------------------------------------------

def test_make_limiter_picks_none_or_local():
    assert make_limiter(None, None) is None
    assert make_limiter(None, None, ray=True) is None  # no Ray needed when nothing is limited
    limiter = make_limiter(4, None)
    assert isinstance(limiter, RequestLimiter)
    assert (limiter.max_concurrent, limiter.per_minute) == (4, None)
    assert limiter.stats() == LimiterStats(4, None)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_limits_must_be_positive_integers(bad):
    with pytest.raises(ValueError):
        RequestLimiter(bad, None)
    with pytest.raises(ValueError):
        RequestLimiter(None, bad)


def test_unlimited_never_waits():
    limiter = RequestLimiter(None, None)
    for _ in range(100):
        with limiter.slot():
            pass
    assert limiter.stats() == LimiterStats(None, None, requests=100)


def test_concurrency_never_exceeds_limit_under_hammering():
    limiter = RequestLimiter(3, None)
    inside = Occupancy()
    start = threading.Barrier(8)

    def worker():
        start.wait()
        for _ in range(25):
            with limiter.slot(), inside:
                time.sleep(0.002)

    run_threads(8, worker)
    assert inside.peak <= 3
    stats = limiter.stats()
    assert (stats.requests, stats.in_flight) == (200, 0)
    assert stats.waited > 0 and stats.wait_seconds > 0


def test_next_request_waits_until_a_slot_is_released():
    limiter = RequestLimiter(2, None)
    limiter.acquire()
    limiter.acquire()
    entered = threading.Event()

    def third():
        with limiter.slot():
            entered.set()

    t = threading.Thread(target=third, daemon=True)
    t.start()
    assert not entered.wait(0.3)  # both slots held: it must be waiting
    limiter.release()
    assert entered.wait(30)
    t.join(30)
    limiter.release()
    stats = limiter.stats()
    assert (stats.requests, stats.waited, stats.in_flight) == (3, 1, 0)
    with pytest.raises(RuntimeError):
        limiter.release()  # more releases than grants is a bug, never a silent extra slot


def test_rate_request_beyond_the_window_waits_until_it_frees():
    window = 0.4
    limiter = RequestLimiter(None, 3, window=window)
    start = time.monotonic()
    entries = []
    for i in range(7):
        with limiter.slot():
            entries.append(time.monotonic())
        if i == 2:
            assert limiter.stats().waited == 0  # the first N go at once
    assert_rate(entries, start, 3, window)  # 4th >= start + W, 7th >= start + 2W
    stats = limiter.stats()
    assert stats.requests == 7 and stats.waited >= 1 and stats.wait_seconds > 0
    limiter.close()


def test_both_limits_under_threads():
    window = 0.3
    limiter = RequestLimiter(2, 4, window=window)
    inside = Occupancy()
    entries: list[float] = []
    start = time.monotonic()

    def worker():
        for _ in range(3):
            with limiter.slot(), inside:
                entries.append(time.monotonic())

    run_threads(4, worker)
    assert inside.peak <= 2
    assert len(entries) == 12
    assert_rate(entries, start, 4, window)  # 12 requests at 4 per window: at least 2 windows
    limiter.close()


def test_a_failing_request_gives_its_slot_back():
    limiter = RequestLimiter(1, None)
    with pytest.raises(ZeroDivisionError):
        with limiter.slot():
            1 / 0
    with limiter.slot():  # would block forever had the slot leaked
        pass
    assert limiter.stats().in_flight == 0


# --- leases (the Ray actor's state), with a fake clock ------------------------------------------

class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_lease_expires_without_renewal_and_renewal_keeps_it():
    clock = FakeClock()
    leased = LeasedLimiter(2, None, lease_ttl=10, clock=clock, reaper=False)
    leased.acquire("alive", "host:1")
    leased.acquire("dead", "host:2")
    clock.t = 8
    assert leased.renew("alive")  # deadline now 18
    clock.t = 15
    assert leased.reap() == 1  # "dead" (deadline 10) reclaimed, "alive" kept
    stats = leased.stats()
    assert (stats.in_flight, stats.expired) == (1, 1)
    assert not leased.renew("dead")
    assert not leased.release("dead")  # late release of an expired lease: no second slot freed
    assert leased.stats().in_flight == 1
    assert leased.release("alive")
    assert not leased.release("alive")
    assert leased.stats().in_flight == 0
    leased.close()


def test_waiter_gets_the_slot_of_an_expired_lease():
    clock = FakeClock()
    leased = LeasedLimiter(1, None, lease_ttl=5, clock=clock, reaper=False)
    leased.acquire("crashed")
    granted = threading.Event()
    t = threading.Thread(target=lambda: (leased.acquire("next"), granted.set()), daemon=True)
    t.start()
    assert not granted.wait(0.3)
    clock.t = 4
    assert leased.reap() == 0 and not granted.is_set()
    clock.t = 6
    assert leased.reap() == 1
    assert granted.wait(30)
    stats = leased.stats()
    assert (stats.requests, stats.in_flight, stats.expired, stats.waited) == (2, 1, 1, 1)
    leased.close()


def test_acquiring_a_held_lease_again_is_a_no_op():
    leased = LeasedLimiter(1, None, reaper=False)
    leased.acquire("x")
    assert leased.acquire("x") == 0.0  # a retried call: would block forever if it took a 2nd slot
    assert leased.stats().in_flight == 1
    leased.close()


# --- the Ray-shared limiter ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    with pytest.MonkeyPatch.context() as mp:
        # Workers unpickle this module's tasks by name: let them import it.
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@ray.remote(num_cpus=0, max_concurrency=32)
class Probe:
    """Lines tasks up (a barrier) and counts slot holders across processes."""

    def __init__(self, parties: int):
        self.barrier = threading.Barrier(parties)
        self.inside = Occupancy()

    def arrive(self) -> None:
        self.barrier.wait(timeout=120)

    def enter(self) -> None:
        self.inside.__enter__()

    def leave(self) -> None:
        self.inside.__exit__()

    def peak(self) -> int:
        return self.inside.peak


@ray.remote(num_cpus=0.25, max_retries=0)
def hammer(limiter: RayRequestLimiter, probe, rounds: int) -> int:
    ray.get(probe.arrive.remote())
    for _ in range(rounds):
        with limiter.slot():
            ray.get(probe.enter.remote())
            time.sleep(0.05)
            ray.get(probe.leave.remote())
    return os.getpid()


@ray.remote(num_cpus=0.25, max_retries=0)
def die_holding_a_slot(limiter: RayRequestLimiter) -> None:
    with limiter.slot():
        os._exit(1)


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout:g}s"
        time.sleep(0.1)


@pytest.mark.ray
def test_ray_concurrency_shared_across_worker_processes(ray_cluster):
    limiter = RayRequestLimiter.create(2, None, name="test-shared-limit")
    assert ray.get_actor("test-shared-limit") is not None
    tasks = 4
    probe = Probe.remote(tasks)
    pids = ray.get([hammer.remote(limiter, probe, 5) for _ in range(tasks)], timeout=300)
    assert len(set(pids)) == tasks  # all lined up at the barrier at once: separate processes
    assert ray.get(probe.peak.remote()) == 2  # never more than the limit, across processes
    stats = limiter.stats()
    assert (stats.requests, stats.in_flight, stats.expired) == (20, 0, 0)
    assert stats.waited > 0
    limiter.shutdown()


@pytest.mark.ray
def test_ray_killed_holder_does_not_keep_the_slot(ray_cluster):
    limiter = RayRequestLimiter.create(1, None, lease_ttl=1.0)
    with pytest.raises(ray.exceptions.RayError):
        ray.get(die_holding_a_slot.remote(limiter), timeout=300)
    wait_for(lambda: limiter.stats().in_flight == 0, what="the dead holder's slot coming back")
    stats = limiter.stats()
    assert (stats.requests, stats.expired) == (1, 1)  # it was granted, and reclaimed by expiry
    with limiter.slot():
        pass
    assert limiter.stats().requests == 2
    limiter.shutdown()


@pytest.mark.ray
def test_ray_heartbeat_keeps_a_long_request_its_slot(ray_cluster):
    # The lease is long enough that a loaded machine's Ray round trip (renewals every ttl/3)
    # cannot miss it twice running; the sleep still spans two and a half lifetimes.
    limiter = RayRequestLimiter.create(1, None, lease_ttl=2.0)
    with limiter.slot():
        time.sleep(5.0)
        during = limiter.stats()
    assert (during.in_flight, during.expired) == (1, 0)
    after = limiter.stats()
    assert (after.in_flight, after.expired) == (0, 0)
    limiter.shutdown()


@pytest.mark.ray
def test_ray_many_waiters_do_not_starve_releases(ray_cluster):
    # More blocked acquires than the actor's default thread group: releases must still run.
    limiter = RayRequestLimiter.create(1, None)
    inside = Occupancy()

    def worker():
        for _ in range(2):
            with limiter.slot(), inside:
                time.sleep(0.005)

    run_threads(20, worker)
    assert inside.peak == 1
    stats = limiter.stats()
    assert (stats.requests, stats.in_flight) == (40, 0)
    limiter.shutdown()


@pytest.mark.ray
def test_ray_rate_and_make_limiter(ray_cluster):
    window = 0.3
    limiter = RayRequestLimiter.create(None, 2, window=window)
    start = time.monotonic()
    entries = []
    for _ in range(5):
        with limiter.slot():
            entries.append(time.monotonic())
    assert_rate(entries, start, 2, window)
    limiter.shutdown()

    made = make_limiter(3, 100, ray=True)
    assert isinstance(made, RayRequestLimiter)
    assert made.stats() == LimiterStats(3, 100)
    made.shutdown()
