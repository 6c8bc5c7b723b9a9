"""A warm pool of started environments per instance, so that `reset` is a hand-over, not a container start.

Reuse policy: an environment is used for ONE episode and then removed; the pool keeps fresh
ones (a new container of the cached instance image, its shell already open) ready in the
background. A fresh container is the only reset that is clean by construction: git reset /
clean restores the repository but not what the policy wrote elsewhere (site-packages, /tmp,
dotfiles), processes it detached (`setsid`, `nohup`), or untracked install outputs it
deleted (docs/RL.md has the measurements). So the pool never hands out a dirty environment.

Limits: `size` environments alive at most (ready + in use + starting). `acquire` takes a
ready one of the instance, else starts one if there is room, else removes an idle ready one
of another instance to make room, else waits (back-pressure: callers queue, in order of
arrival as the lock wakes them) until `timeout`, then EnvBusyError. Ready environments idle
longer than `idle_timeout` are reaped by a background thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Protocol

from evalharness.rl.types import EnvBusyError


class Live(Protocol):
    """A started environment the pool holds (rl/live.py's LiveEnv)."""

    instance_id: str

    def close(self) -> None: ...


@dataclass(frozen=True)
class PoolStats:
    ready: int
    in_use: int
    starting: int
    waiting: int
    started: int  # environments started since the pool was made
    warm_hits: int  # acquires served by a ready environment
    reaped: int


class WarmPool:
    def __init__(self, start: Callable[[str], Live], *, size: int = 8, warm: int = 1, idle_timeout: float = 300.0,
                 acquire_timeout: float = 600.0, starters: int = 4):
        if size < 1:
            raise ValueError("a pool holds at least one environment")
        self._start = start
        self.size, self.warm = size, max(0, warm)
        self.idle_timeout, self.acquire_timeout = idle_timeout, acquire_timeout
        self._ready: dict[str, deque[tuple[float, Live]]] = {}
        self._in_use = self._starting = self._waiting = 0
        self._started = self._hits = self._reaped = 0
        self._refilling: dict[str, int] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._workers = ThreadPoolExecutor(max_workers=max(1, starters), thread_name_prefix="rl-pool")
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="rl-pool-reaper", daemon=True)
        self._reaper.start()

    # ---- public --------------------------------------------------------------------------
    def acquire(self, instance_id: str, timeout: float | None = None) -> Live:
        """A clean environment of `instance_id` for one episode; give it back with `release`."""
        deadline = time.monotonic() + (self.acquire_timeout if timeout is None else timeout)
        with self._cond:
            self._waiting += 1
            hit = None
            try:
                while True:
                    self._check_open()
                    ready = self._ready.get(instance_id)
                    if ready:
                        _, hit = ready.popleft()
                        self._in_use += 1
                        self._hits += 1
                        break
                    if self._alive() < self.size:
                        self._starting += 1
                        break
                    if self._evict_other(instance_id):
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise EnvBusyError(f"no environment came free within {timeout or self.acquire_timeout:g} s "
                                           f"(the pool holds {self.size}, all in use)")
                    self._cond.wait(min(left, 1.0))
            finally:
                self._waiting -= 1
            if hit is not None:
                self._refill(instance_id)
                return hit
        try:
            live = self._start(instance_id)
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            self._starting -= 1
            self._in_use += 1
            self._started += 1
            self._refill(instance_id)
        return live

    def release(self, live: Live) -> None:
        """The episode is over: its environment is removed (in the background) and a fresh one readied."""
        with self._cond:
            self._in_use -= 1
            self._cond.notify_all()
        self._workers.submit(self._discard, live, live.instance_id)

    def prewarm(self, instance_id: str, n: int = 1) -> None:
        """Start up to `n` ready environments of `instance_id` now (in the background)."""
        with self._cond:
            for _ in range(n):
                if not self._start_one(instance_id, force=True):
                    break

    def wait_ready(self, instance_id: str, n: int = 1, timeout: float = 120.0) -> bool:
        """Whether `n` environments of `instance_id` were ready within `timeout` (for benches and tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._ready.get(instance_id, ())) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def reap(self, now: float | None = None) -> int:
        """Remove ready environments idle longer than idle_timeout; how many went."""
        now = time.monotonic() if now is None else now
        gone: list[Live] = []
        with self._cond:
            for ready in self._ready.values():
                while ready and now - ready[0][0] > self.idle_timeout:
                    gone.append(ready.popleft()[1])
            self._reaped += len(gone)
            self._cond.notify_all()
        for live in gone:
            _close_quietly(live)
        return len(gone)

    def stats(self) -> PoolStats:
        with self._cond:
            return PoolStats(ready=sum(len(r) for r in self._ready.values()), in_use=self._in_use,
                             starting=self._starting + sum(self._refilling.values()), waiting=self._waiting,
                             started=self._started, warm_hits=self._hits, reaped=self._reaped)

    def close(self) -> None:
        """Remove every ready environment and stop; environments in use are their holders' to release."""
        with self._cond:
            self._closed = True
            ready = [live for r in self._ready.values() for _, live in r]
            self._ready.clear()
            self._cond.notify_all()
        self._stop.set()
        for live in ready:
            _close_quietly(live)
        self._workers.shutdown(wait=True)

    # ---- inside (the caller holds the lock where it says so) -----------------------------------
    def _alive(self) -> int:
        return (sum(len(r) for r in self._ready.values()) + self._in_use + self._starting
                + sum(self._refilling.values()))

    def _check_open(self) -> None:
        if self._closed:
            raise EnvBusyError("the environment pool is closed")

    def _evict_other(self, instance_id: str) -> bool:
        """(lock held) Remove the longest-idle ready environment of another instance; whether one went."""
        oldest = None
        for iid, ready in self._ready.items():
            if iid != instance_id and ready and (oldest is None or ready[0][0] < self._ready[oldest][0][0]):
                oldest = iid
        if oldest is None:
            return False
        _, live = self._ready[oldest].popleft()
        self._workers.submit(_close_quietly, live)
        return True

    def _refill(self, instance_id: str) -> None:
        """(lock held) Keep `warm` ready environments of an instance in use, room and queue permitting."""
        while (len(self._ready.get(instance_id, ())) + self._refilling.get(instance_id, 0) < self.warm
               and self._start_one(instance_id)):
            pass

    def _start_one(self, instance_id: str, force: bool = False) -> bool:
        """(lock held) Start one ready environment in the background if there is room; callers waiting come first."""
        if self._closed or self._alive() >= self.size or (self._waiting and not force):
            return False
        self._refilling[instance_id] = self._refilling.get(instance_id, 0) + 1
        self._workers.submit(self._fill, instance_id)
        return True

    def _fill(self, instance_id: str) -> None:
        try:
            live = self._start(instance_id)
        except Exception:  # noqa: BLE001 - the next acquire starts one itself and meets the error
            live = None
        with self._cond:
            self._refilling[instance_id] -= 1
            if live is not None:
                self._started += 1
                if self._closed:
                    self._workers.submit(_close_quietly, live)
                else:
                    self._ready.setdefault(instance_id, deque()).append((time.monotonic(), live))
            self._cond.notify_all()

    def _discard(self, live: Live, instance_id: str) -> None:
        _close_quietly(live)
        with self._cond:
            self._refill(instance_id)
            self._cond.notify_all()

    def _reap_loop(self) -> None:
        while not self._stop.wait(max(0.2, min(self.idle_timeout / 4, 30.0))):
            self.reap()


def _close_quietly(live: Live) -> None:
    try:
        live.close()
    except Exception:  # noqa: BLE001 - a container already gone is what closing wanted
        pass
