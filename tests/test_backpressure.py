"""`--llm-concurrency` / `--llm-rpm`: one limit on model requests, shared by every worker of a run.

The fake model holds each request for a while and counts how many it holds at once; with
three agent sessions and `--llm-concurrency 1` it must never see two.
"""

from __future__ import annotations

import threading
import time

import pyarrow.parquet as pq
import pytest

from evalharness.cli import main
from fake_llm import FakeLLM, Reply

pytestmark = pytest.mark.docker

INSTANCES = "evalharness__confini-1,evalharness__spans-1,evalharness__textkit-1"


class HeldModel:
    """A model that answers after `hold` seconds (one bash call, then submit), counting overlaps."""

    def __init__(self, hold: float = 0.3):
        self.hold = hold
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def __call__(self, request: dict) -> Reply:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        turn = sum(1 for m in request["messages"] if m["role"] == "assistant")
        if turn < 2:
            return Reply(tool_calls=[("bash", {"command": f"echo turn {turn}"})])
        return Reply(tool_calls=[("submit", {})])


def _eval(server, tmp_path, cache_dir, *extra) -> int:
    return main(["eval", "--base-url", server.base_url, "--model", "m", "--instance-ids", INSTANCES,
                 "--workers", "3", "--reports-dir", str(tmp_path), "--run-id", "bp", "--cache-dir", str(cache_dir),
                 "--no-progress", *extra])


def test_concurrency_limit_holds_across_local_workers(tmp_path, cache_dir, docker_client, capsys):
    model = HeldModel()
    with FakeLLM(script=model, model="m") as server:
        assert _eval(server, tmp_path, cache_dir, "--llm-concurrency", "1") == 0
    rows = pq.read_table(tmp_path / "bp" / "results.parquet").to_pylist()
    assert len(rows) == 3 and all(r["exit_reason"] == "submitted" for r in rows), [r["error"] for r in rows]
    assert model.peak == 1
    out = capsys.readouterr().out
    assert "model requests: 9 under the limit of 1 in flight" in out


def test_without_a_limit_the_sessions_overlap(tmp_path, cache_dir, docker_client):
    """The control: the same run unlimited does hold several requests at once (so the test above can fail)."""
    model = HeldModel(hold=1.0)
    with FakeLLM(script=model, model="m") as server:
        assert _eval(server, tmp_path, cache_dir) == 0
    assert model.peak >= 2
