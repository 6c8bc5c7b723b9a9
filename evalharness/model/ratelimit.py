"""Back-pressure on the model endpoint: at most N requests in flight and M started per minute,
shared by every worker of a run.

`LLMClient` wraps each HTTP attempt in `with limiter.slot():`. Two limiters have that interface:

- `RequestLimiter`: threads of one process (the local executor).
- `RayRequestLimiter`: Ray tasks in any process on any node (the Ray executor). The driver
  creates one actor that owns a `RequestLimiter`; the handle it returns pickles into tasks.

`make_limiter` picks one (None when there is nothing to limit). Both count how many requests
had to wait and for how long (`stats()`), so a run can report its back-pressure.

A slot is taken before the rate token, so a request's token is stamped when it really starts:
taking tokens first and then queueing for a slot would let stamped-early requests start in a
burst later, more than M in one real minute.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pyrate_limiter import InMemoryBucket, Limiter, Rate

log = logging.getLogger(__name__)

DEFAULT_LEASE_TTL = 30.0  # seconds a Ray grant survives without a heartbeat from its holder
DEFAULT_MAX_WAITING = 256  # Ray: acquire calls the actor serves at once (more queue in Ray)


@dataclass(frozen=True)
class LimiterStats:
    """A snapshot of a limiter. `waited`: granted requests that could not start at once;
    `wait_seconds`: their waiting summed. `expired`: Ray grants reclaimed because their holder
    stopped renewing them (a dead worker); always 0 for the local limiter."""

    max_concurrent: int | None
    per_minute: int | None
    requests: int = 0
    waited: int = 0
    wait_seconds: float = 0.0
    in_flight: int = 0
    expired: int = 0


class SlotLimiter(Protocol):
    """What `LLMClient(limiter=...)` needs, plus the counters for the run's report."""

    def slot(self) -> AbstractContextManager[None]: ...

    def stats(self) -> LimiterStats: ...


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, not {value!r}")
    return value


class RequestLimiter:
    """At most `max_concurrent` holders at once and `per_minute` grants in any sliding
    `window` seconds (60; tests shorten it); None means no limit of that kind. Thread-safe.

    The rate part is pyrate-limiter's sliding-window log (`InMemoryBucket`) behind its
    `Limiter`, whose blocking `try_acquire` sleeps without holding its lock. That wait reads
    `time.monotonic` and `time.sleep` directly (no clock to inject), hence `window` for tests.
    `close()` stops the limiter's background leak thread (a daemon; leaving it is harmless).
    """

    def __init__(self, max_concurrent: int | None = None, per_minute: int | None = None, *,
                 window: float = 60.0, name: str = "llm"):
        self.max_concurrent = _positive("max_concurrent", max_concurrent)
        self.per_minute = _positive("per_minute", per_minute)
        if window <= 0:
            raise ValueError(f"window must be positive, not {window!r}")
        self.name = name
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent is not None else None
        self._rate: Limiter | None = None
        if per_minute is not None:
            self._rate = Limiter(InMemoryBucket([Rate(per_minute, max(1, round(window * 1000)))]))
        self._lock = threading.Lock()
        self._requests = self._waited = self._in_flight = 0
        self._wait_seconds = 0.0

    def acquire(self) -> float:
        """Block until a slot and a token are both free; return the seconds waited (0.0 when
        granted at once). Each successful acquire needs exactly one `release()`."""
        start = time.monotonic()
        waited = False
        if self._slots is not None and not self._slots.acquire(blocking=False):
            waited = True
            self._slots.acquire()
        try:
            if self._rate is not None and not self._rate.try_acquire(self.name, blocking=False):
                waited = True
                # Blocking, no timeout: False only for a weight the rate can never admit.
                if not self._rate.try_acquire(self.name, blocking=True):
                    raise RuntimeError(f"rate limiter refused a request ({self.per_minute}/window)")
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise
        seconds = time.monotonic() - start if waited else 0.0
        with self._lock:
            self._requests += 1
            self._in_flight += 1
            if waited:
                self._waited += 1
                self._wait_seconds += seconds
        return seconds

    def release(self) -> None:
        with self._lock:
            if self._in_flight <= 0:
                raise RuntimeError("release() without a matching acquire()")
            self._in_flight -= 1
        if self._slots is not None:
            self._slots.release()

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def stats(self) -> LimiterStats:
        with self._lock:
            return LimiterStats(self.max_concurrent, self.per_minute, self._requests, self._waited,
                                self._wait_seconds, self._in_flight)

    def close(self) -> None:
        if self._rate is not None:
            self._rate.close()


class LeasedLimiter:
    """The Ray actor's state: one `RequestLimiter` whose grants are leases.

    Why leases: a Ray worker can die holding a slot (OOM kill, node loss, `os._exit`) and its
    `finally: release` never runs. Each grant is therefore keyed by an id the holder chose and
    lasts `lease_ttl` seconds unless renewed; the holder's handle renews it every `lease_ttl/3`
    from a heartbeat thread while the request runs, so a request may take any time, and a dead
    holder's slot comes back within about `lease_ttl` (a reaper thread checks every
    `lease_ttl/4`, and at least once a second). Deadlines are read on this actor's clock only, so
    node clocks never matter. The cost of a holder that is alive but silent for `lease_ttl`
    (a frozen process) is one slot reclaimed early: the limit may be briefly exceeded, never
    stuck. Rate tokens are spent at grant time and need no lease.
    """

    def __init__(self, max_concurrent: int | None, per_minute: int | None, *, window: float = 60.0,
                 lease_ttl: float = DEFAULT_LEASE_TTL, clock: Callable[[], float] = time.monotonic,
                 reaper: bool = True):
        if lease_ttl <= 0:
            raise ValueError(f"lease_ttl must be positive, not {lease_ttl!r}")
        self.limiter = RequestLimiter(max_concurrent, per_minute, window=window)
        self.lease_ttl = lease_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._leases: dict[str, tuple[float, str]] = {}  # id -> (deadline, holder)
        self._expired = 0
        self._stop = threading.Event()
        if reaper:
            interval = min(1.0, lease_ttl / 4)
            threading.Thread(target=self._reap_loop, args=(interval,), name="lease-reaper", daemon=True).start()

    def acquire(self, lease: str, holder: str = "") -> float:
        """Block until granted; return the seconds waited. Granting a lease already held is a
        no-op (a retried call)."""
        with self._lock:
            if lease in self._leases:
                return 0.0
        waited = self.limiter.acquire()
        with self._lock:
            self._leases[lease] = (self._clock() + self.lease_ttl, holder)
        return waited

    def renew(self, lease: str) -> bool:
        """Push the lease's deadline back; False when it is no longer held (expired)."""
        with self._lock:
            held = self._leases.get(lease)
            if held is None:
                return False
            self._leases[lease] = (self._clock() + self.lease_ttl, held[1])
            return True

    def release(self, lease: str) -> bool:
        """Give the slot back; False (and nothing done) when the lease already expired."""
        with self._lock:
            held = self._leases.pop(lease, None)
        if held is None:
            return False
        self.limiter.release()
        return True

    def reap(self) -> int:
        """Reclaim leases past their deadline; return how many."""
        now = self._clock()
        with self._lock:
            dead = [(lease, holder) for lease, (deadline, holder) in self._leases.items() if deadline < now]
            for lease, _ in dead:
                del self._leases[lease]
            self._expired += len(dead)
        for lease, holder in dead:
            log.warning("request slot of %s (lease %s) reclaimed: no heartbeat for %gs",
                        holder or "?", lease, self.lease_ttl)
            self.limiter.release()
        return len(dead)

    def stats(self) -> LimiterStats:
        base = self.limiter.stats()
        with self._lock:
            expired = self._expired
        return LimiterStats(base.max_concurrent, base.per_minute, base.requests, base.waited,
                            base.wait_seconds, base.in_flight, expired)

    def close(self) -> None:
        self._stop.set()
        self.limiter.close()

    def _reap_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.reap()
            except Exception:  # keep reaping whatever one pass hit
                log.exception("lease reaper")


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RayRequestLimiter:
    """A picklable handle on the one limiter actor of a run; `slot()` works in the driver and
    in Ray tasks on any node. Create it once, in the driver, with `create`.

    The actor is threaded: `acquire` calls block in the concurrency group "acquire"
    (`max_waiting` threads; further calls queue in Ray, in order), while release, renew and
    stats run in the default group, so a crowd of waiters can never starve the releases they
    wait for. It is placed on the driver's node (soft affinity), uses no CPU, is restarted if
    it dies (its leases are then forgotten: requests in flight finish uncounted) and goes away
    with the driver, or with `shutdown()`. See `LeasedLimiter` for the lease rules.
    """

    def __init__(self, actor: Any, lease_ttl: float = DEFAULT_LEASE_TTL):
        self.actor = actor
        self.lease_ttl = lease_ttl

    @classmethod
    def create(cls, max_concurrent: int | None, per_minute: int | None, *, name: str | None = None,
               namespace: str | None = None, lease_ttl: float = DEFAULT_LEASE_TTL, window: float = 60.0,
               max_waiting: int = DEFAULT_MAX_WAITING) -> RayRequestLimiter:
        """Start the actor (Ray must be initialised). `name` makes it findable with
        `ray.get_actor(name, namespace)`; a name already in use is an error."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        _positive("max_concurrent", max_concurrent)
        _positive("per_minute", per_minute)
        _positive("max_waiting", max_waiting)
        # Concurrency groups can only be set here, not in .options().
        actor_class = ray.remote(max_concurrency=8, concurrency_groups={"acquire": max_waiting})(LeasedLimiter)
        options: dict[str, Any] = {
            "num_cpus": 0,
            "max_restarts": -1,
            "max_task_retries": -1,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True),
        }
        if name is not None:
            options["name"] = name
        if namespace is not None:
            options["namespace"] = namespace
        actor = actor_class.options(**options).remote(max_concurrent, per_minute, window=window, lease_ttl=lease_ttl)
        ray.get(actor.stats.remote())  # started (and its arguments valid) before anyone waits on it
        return cls(actor, lease_ttl)

    @contextmanager
    def slot(self) -> Iterator[None]:
        import ray

        lease = uuid.uuid4().hex
        try:
            ray.get(self.actor.acquire.options(concurrency_group="acquire").remote(lease, _holder()))
        except BaseException:
            # Interrupted (or the actor failed): give back a grant that may have happened anyway.
            # One made after this (the call still waiting in the actor) is never renewed and expires.
            self._release(lease)
            raise
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(lease, stop), name="lease-heartbeat", daemon=True)
        beat.start()
        try:
            yield
        finally:
            stop.set()
            self._release(lease)

    def stats(self) -> LimiterStats:
        import ray

        return ray.get(self.actor.stats.remote())

    def shutdown(self) -> None:
        """End the actor (driver side, after the run)."""
        import ray

        ray.kill(self.actor)

    def _release(self, lease: str) -> None:
        import ray

        try:
            ray.get(self.actor.release.remote(lease), timeout=max(10.0, self.lease_ttl))
        except Exception as exc:  # the lease expires on its own; never mask the request's outcome
            log.warning("could not release request slot (lease %s): %s", lease, exc)

    def _heartbeat(self, lease: str, stop: threading.Event) -> None:
        import ray

        interval = self.lease_ttl / 3
        while not stop.wait(interval):
            try:
                held = ray.get(self.actor.renew.remote(lease), timeout=interval)
            except Exception as exc:  # a slow or restarting actor: try again next beat
                log.debug("lease %s renewal failed: %s", lease, exc)
                continue
            if not held and not stop.is_set():
                log.warning("request slot (lease %s) was reclaimed while still in use", lease)
                return


def make_limiter(max_concurrent: int | None = None, per_minute: int | None = None, *, ray: bool = False,
                 name: str | None = None, lease_ttl: float = DEFAULT_LEASE_TTL,
                 ) -> RequestLimiter | RayRequestLimiter | None:
    """The limiter for a run: None when both limits are None, else a `RequestLimiter` (threads
    of this process) or, with `ray=True`, a `RayRequestLimiter` shared by all Ray tasks
    (Ray initialised; call it in the driver)."""
    if max_concurrent is None and per_minute is None:
        return None
    if ray:
        return RayRequestLimiter.create(max_concurrent, per_minute, name=name, lease_ttl=lease_ttl)
    return RequestLimiter(max_concurrent, per_minute)
