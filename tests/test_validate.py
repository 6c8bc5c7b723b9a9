"""`evalharness validate`: gold and the empty control over a selection; problems grouped and written."""

from __future__ import annotations

import dataclasses
import json

import pytest

from evalharness.cli import main
from evalharness.tasks.datasets import load_tasks, write_jsonl
from evalharness.run.validate import EMPTY_RESOLVED, GOLD_NOT_RESOLVED, NO_TESTS, ValidationReport, ValidationRow

TASKS = load_tasks("builtin")


def test_a_control_whose_log_had_no_test_is_a_problem_of_its_own():
    rows = [
        ValidationRow("a", "o/r", "1", gold_status="resolved", empty_status="no_tests_parsed",
                      empty_error="no test result in the test log: ...\ntox: command not found"),
        ValidationRow("b", "o/r", "1", gold_status="no_tests_parsed", empty_status="no_tests_parsed",
                      gold_error="no test result in the test log: ..."),
    ]
    report = ValidationReport(rows)
    assert [r.instance_id for r in report.problems] == ["a", "b"]  # an empty control's too: validate fails
    assert list(report.grouped()) == [f"{NO_TESTS}: empty", f"{NO_TESTS}: gold and empty"]
    assert rows[0].detail() == "no test result in the test log: ..."


def test_report_groups_problems_by_control_and_status():
    rows = [
        ValidationRow("a", "o/r", "1", gold_status="resolved", empty_status="unresolved"),
        ValidationRow("b", "o/r", "1", gold_status="unresolved", empty_status="unresolved", gold_error="F2P failed"),
        ValidationRow("c", "o/r", "1", gold_status="env_build_failed", empty_status="env_build_failed",
                      gold_error="Python 3.6 can't be built offline\nmore"),
        ValidationRow("d", "o/r", "1", gold_status="resolved", empty_status="resolved"),
    ]
    report = ValidationReport(rows)
    assert [r.instance_id for r in report.problems] == ["b", "c", "d"]
    assert list(report.grouped()) == [f"{EMPTY_RESOLVED}: resolved", f"{GOLD_NOT_RESOLVED}: env_build_failed",
                                      f"{GOLD_NOT_RESOLVED}: unresolved"]
    text = report.text()
    assert "gold resolved 2/4; empty resolved 1/4" in text
    assert "Python 3.6 can't be built offline" in text and "more" not in text
    assert json.loads(report.to_json())["problems"][f"{GOLD_NOT_RESOLVED}: unresolved"] == ["b"]
    assert "| a | resolved | unresolved |" in report.markdown()
    assert ValidationReport(rows[:1]).text().endswith("no problems: every gold patch resolves and no empty patch does")


@pytest.mark.docker
def test_validate_finds_a_broken_gold_and_an_f2p_that_already_passes(tmp_path, docker_client, cache_dir, capsys):
    good = [t for t in TASKS if t.repo == "evalharness/textkit"][:2]
    spans = [t for t in TASKS if t.repo == "evalharness/spans"]
    # Gold patch of another task: applies, but fixes the wrong thing.
    wrong_gold = dataclasses.replace(spans[0], patch=spans[1].patch)
    # FAIL_TO_PASS that names a test already passing at base_commit: empty "resolves".
    passing_f2p = dataclasses.replace(spans[1], FAIL_TO_PASS=spans[1].PASS_TO_PASS[:1], PASS_TO_PASS=())
    dataset = write_jsonl([*good, wrong_gold, passing_f2p], tmp_path / "tasks.jsonl")
    reports = tmp_path / "reports"
    argv = ["validate", "--dataset", str(dataset), "--reports-dir", str(reports), "--cache-dir", str(cache_dir),
            "--no-progress", "--workers", "2", "--run-id", "check"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "gold resolved 3/4; empty resolved 1/4" in out
    assert f"{GOLD_NOT_RESOLVED}: unresolved (1)\n  {wrong_gold.instance_id}" in out
    assert f"{EMPTY_RESOLVED}: resolved (1)\n  {passing_f2p.instance_id}" in out
    root = reports / "check"
    saved = json.loads((root / "validation.json").read_text())
    assert saved["problems"] == {f"{EMPTY_RESOLVED}: resolved": [passing_f2p.instance_id],
                                 f"{GOLD_NOT_RESOLVED}: unresolved": [wrong_gold.instance_id]}
    rows = {r["instance_id"]: r for r in saved["rows"]}
    for task in good:
        assert rows[task.instance_id]["gold_status"] == "resolved"
        assert rows[task.instance_id]["empty_status"] == "unresolved"  # the tests ran on the unchanged repo
        assert rows[task.instance_id]["image_mb"] > 0 and rows[task.instance_id]["own_mb"] >= 0
    assert (root / "gold" / "results.parquet").exists() and (root / "empty" / "results.parquet").exists()
    assert "| instance | gold | empty |" in (root / "validation.md").read_text()
    # both runs resume: a second call runs nothing and gives the same answer
    assert main(argv) == 1
    assert "gold resolved 3/4; empty resolved 1/4" in capsys.readouterr().out
