"""Grading another system's predictions (`--agent replay --predictions FILE`) and exporting ours."""

from __future__ import annotations

import json
import logging

import pyarrow.parquet as pq
import pytest

from evalharness.agents import get_agent
from evalharness.agents.replay import NO_PREDICTION, ReplayAgent
from evalharness.cli import main
from evalharness.tasks.datasets import load_tasks
from evalharness.core.errors import UserError
from evalharness.tasks.predictions import Prediction, read_predictions, write_predictions

TASKS = load_tasks("builtin")
GARBAGE = "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n"


def test_replay_needs_a_predictions_file():
    with pytest.raises(UserError, match="--agent replay needs --predictions FILE"):
        get_agent("replay")


def test_replay_agent_hands_back_the_prediction_or_nothing(tmp_path):
    path = write_predictions([Prediction(TASKS[0].instance_id, "sys-1", TASKS[0].patch),
                              Prediction("nobody__nothing-1", "sys-1", "x")], tmp_path / "p.jsonl")
    agent = get_agent("replay", predictions=path)
    assert isinstance(agent, ReplayAgent) and agent.model_name == "sys-1"
    assert agent.run(TASKS[0], env=None).patch == TASKS[0].patch
    missing = agent.run(TASKS[1], env=None)
    assert missing.patch == "" and missing.exit_reason == NO_PREDICTION and missing.error is None
    assert agent.outside(TASKS) == ["nobody__nothing-1"]
    mixed = ReplayAgent({"a": Prediction("a", "m1", ""), "b": Prediction("b", "m2", "")})
    assert mixed.model_name == ""  # no single name: the run is named after the agent


@pytest.mark.docker
def test_replay_grades_a_predictions_file_and_exports_one(tmp_path, docker_client, cache_dir, caplog):
    """Gold patches resolve, a garbage patch does not apply, a missing instance is empty_patch."""
    chosen = TASKS[:4]
    gold_a, gold_b, garbage, missing = chosen
    predictions = [
        {"instance_id": gold_a.instance_id, "model_name_or_path": "other-system", "model_patch": gold_a.patch},
        {"instance_id": gold_b.instance_id, "model_name_or_path": "other-system", "model_patch": gold_b.patch},
        {"instance_id": garbage.instance_id, "model_name_or_path": "other-system", "model_patch": GARBAGE},
        {"instance_id": "unknown__instance-1", "model_name_or_path": "other-system", "model_patch": GARBAGE},
    ]
    path = tmp_path / "preds.json"  # the JSON-list form, as the official harness also accepts
    path.write_text(json.dumps(predictions))
    reports = tmp_path / "reports"
    with caplog.at_level(logging.WARNING, logger="evalharness"):
        code = main(["eval", "--agent", "replay", "--predictions", str(path), "--reports-dir", str(reports),
                     "--cache-dir", str(cache_dir), "--no-progress", "--workers", "2",
                     "--instance-ids", ",".join(t.instance_id for t in chosen)])
    assert code == 0
    assert "1 prediction(s) name instances not in the selection (not run): unknown__instance-1" in caplog.text
    run_dir = reports / "replay-other-system__builtin"  # named after the predictions' model
    rows = {r["instance_id"]: r for r in pq.read_table(run_dir / "results.parquet").to_pylist()}
    assert set(rows) == {t.instance_id for t in chosen}
    assert rows[gold_a.instance_id]["status"] == rows[gold_b.instance_id]["status"] == "resolved"
    assert rows[garbage.instance_id]["status"] == "patch_apply_failed"
    assert rows[missing.instance_id]["status"] == "empty_patch"
    assert rows[missing.instance_id]["exit_reason"] == NO_PREDICTION

    exported = read_predictions(run_dir / "predictions.jsonl")
    assert set(exported) == {t.instance_id for t in chosen}
    assert {p.model_name_or_path for p in exported.values()} == {"other-system"}
    assert exported[gold_a.instance_id].model_patch == gold_a.patch
    assert exported[missing.instance_id].model_patch == ""
    for line in (run_dir / "predictions.jsonl").read_text().splitlines():
        assert set(json.loads(line)) == {"instance_id", "model_name_or_path", "model_patch"}
