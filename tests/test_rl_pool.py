"""The warm pool: never a dirty environment, a size limit with back-pressure, idle reaping."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from evalharness.rl.pool import WarmPool
from evalharness.rl.types import EnvBusyError
from rl_fixtures import TASK, make_hub


class _Fake:
    def __init__(self, instance_id: str, log: list):
        self.instance_id, self.log, self.closed = instance_id, log, False

    def close(self) -> None:
        self.closed = True
        self.log.append(self)


def _pool(**options) -> tuple[WarmPool, list, list]:
    started, closed = [], []

    def start(iid):
        live = _Fake(iid, closed)
        started.append(live)
        return live
    return WarmPool(start, **options), started, closed


def _until(check, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_full_pool_refuses_after_its_wait_and_a_release_lets_the_next_in():
    pool, _, _ = _pool(size=2, warm=0)
    try:
        a, b = pool.acquire("x"), pool.acquire("y")
        with pytest.raises(EnvBusyError, match="pool holds 2"):
            pool.acquire("x", timeout=0.3)
        got = []
        waiter = threading.Thread(target=lambda: got.append(pool.acquire("z", timeout=10)))
        waiter.start()
        assert _until(lambda: pool.stats().waiting == 1)
        pool.release(a)
        waiter.join(10)
        assert got and got[0].instance_id == "z" and a.closed  # a used environment is never handed out again
        pool.release(b)
        pool.release(got[0])
    finally:
        pool.close()


def test_ready_environments_are_kept_warm_then_reaped_when_idle():
    pool, started, closed = _pool(size=4, warm=1, idle_timeout=0.5)
    try:
        pool.prewarm("x")
        assert pool.wait_ready("x", 1, timeout=5)
        live = pool.acquire("x")
        assert live is started[0] and pool.stats().warm_hits == 1
        assert pool.wait_ready("x", 1, timeout=5)  # refilled in the background
        pool.release(live)
        assert _until(lambda: pool.stats().ready == 0 and pool.stats().reaped >= 1)
        assert all(live.closed for live in started if live not in ())
    finally:
        pool.close()
    assert sorted(map(id, closed)) == sorted(map(id, started))


def test_an_idle_ready_environment_of_another_task_makes_room():
    pool, started, _ = _pool(size=1, warm=1)
    try:
        pool.prewarm("x")
        assert pool.wait_ready("x", 1, timeout=5)
        live = pool.acquire("y", timeout=5)
        assert live.instance_id == "y" and _until(lambda: started[0].closed)  # removed in the background
        pool.release(live)
    finally:
        pool.close()


@pytest.mark.docker
def test_reset_never_hands_out_a_dirty_environment(docker_client, cache_dir):
    """Files written in and out of the repo, an exported variable, a detached background process:
    after a reset, none of it is there (the pool's own ready environment is used for the second episode)."""
    with make_hub(docker_client, cache_dir, run_id="rl-pool-dirty", pool_size=2) as hub:
        env = hub.make()
        env.reset(TASK)
        dirty = ("echo x > dirt.txt && echo y >> README.md && echo z > /tmp/dirt && echo 'export DIRT=1' >> ~/.bashrc"
                 " && export DIRT=1 && (setsid nohup sleep 1234 >/dev/null 2>&1 &) && sleep 0.2")
        assert env.step({"tool": "bash", "arguments": {"command": dirty}}).observation.exit_code == 0
        seen = env.step({"tool": "bash", "arguments": {"command": "pgrep -f 'sleep 1234' | wc -l; echo $DIRT"}})
        assert seen.observation.text.split() == ["1", "1"]
        assert hub.pool.wait_ready(TASK, 1, timeout=60)
        env.reset(TASK)
        assert hub.pool.stats().warm_hits >= 1
        check = ("git status --porcelain | wc -l; ls /tmp/dirt 2>/dev/null | wc -l; grep -c DIRT ~/.bashrc; "
                 "pgrep -f 'sleep 1234' | wc -l; echo \"[${DIRT:-unset}]\"")
        out = env.step({"tool": "bash", "arguments": {"command": check}}).observation.text.split()
        assert out == ["0", "0", "0", "0", "[unset]"], out
        env.close()


@pytest.mark.docker
def test_twice_as_many_resets_as_the_pool_holds_queue_and_all_finish(docker_client, cache_dir):
    with make_hub(docker_client, cache_dir, run_id="rl-pool-queue", pool_size=2, warm=0) as hub:
        peak = []

        def episode(i):
            with hub.make() as env:
                env.reset(TASK)
                peak.append(len(docker_client.containers.list(filters={"label": "evalharness.run_id=rl-pool-queue"})))
                return env.step({"tool": "bash", "arguments": {"command": f"echo {i}"}}).observation.text.strip()

        with ThreadPoolExecutor(4) as workers:
            outputs = list(workers.map(episode, range(4)))
        assert outputs == ["0", "1", "2", "3"]
        assert max(peak) <= 2 and hub.pool.stats().started == 4
    assert not docker_client.containers.list(all=True, filters={"label": "evalharness.run_id=rl-pool-queue"})
