"""The report: run folders the tests write themselves (ResultStore, as the runner does), read
back, summarised, rendered and exported. No Docker, no browser."""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from evalharness.cli import main
from evalharness.core.errors import UserError
from evalharness.tasks.predictions import read_predictions
from evalharness.report.exports import export_experiments, report_counts
from evalharness.report.load import COMPLETE, IN_PROGRESS, INCOMPLETE, expand_run_dirs, load_run, read_trajectory
from evalharness.report.site import build_site
from evalharness.report.stats import mcnemar_exact, pass1_over_attempts, pass_at_k, quantile, wilson_interval
from evalharness.report.summary import attempt_groups, summarize_run
from evalharness.core.results import InstanceRecord, ResultStore, safe_name
from evalharness.core.task import SWEBENCH_FIELDS

EVIL = "<script>alert('pwned')</script>"


def make_run(root: Path, run_id: str, rows: list[dict], *, model: str = "", agent: str = "gold",
             dataset: str = "builtin", planned: int | None = None, compact: bool = True,
             created_at: str = "2025-09-14T03:12:00+00:00", trajectories: dict[str, list[dict]] | None = None) -> Path:
    """A run folder as Runner leaves it: run.json, records/, results.parquet, logs/<id>/."""
    run_dir = Path(root) / run_id
    run_dir.mkdir(parents=True)
    meta = {"run_id": run_id, "dataset": dataset, "agent": agent, "model": model, "workers": 2,
            "instances": len(rows) if planned is None else planned, "harness_version": "0.1.0",
            "created_at": created_at}
    (run_dir / "run.json").write_text(json.dumps(meta))
    store = ResultStore(run_dir)
    for row in rows:
        row = {"repo": "o/r", "version": "1.0", "status": "resolved", **row}
        row.setdefault("resolved", row["status"] == "resolved")
        record = InstanceRecord(run_id=run_id, model=model, agent=agent, dataset=dataset, **row)
        store.add(record)
        logs = run_dir / "logs" / safe_name(record.instance_id)
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "patch.diff").write_text(record.patch, encoding="utf-8")
        events = (trajectories or {}).get(record.instance_id, [])
        (logs / "trajectory.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    if compact:
        store.compact()
    return run_dir


def rows_from(outcomes: dict[str, str], repo: str = "o/r", seconds: float = 10.0) -> list[dict]:
    return [{"instance_id": iid, "repo": repo, "status": status, "total_seconds": seconds}
            for iid, status in outcomes.items()]


def write_dataset(path: Path, statements: dict[str, str]) -> Path:
    """A local JSONL dataset with SWE-bench's fields, so the report can show problem statements."""
    lines = []
    for iid, text in statements.items():
        row = {name: "" for name in SWEBENCH_FIELDS}
        row.update(instance_id=iid, repo="o/r", base_commit="0" * 40, problem_statement=text, version="1.0",
                   patch="diff --git a/f.py b/f.py\n", test_patch="diff --git a/t.py b/t.py\n",
                   FAIL_TO_PASS=["t::a"], PASS_TO_PASS=[], difficulty=None)
        lines.append(json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---- statistics -----------------------------------------------------------------------------
def test_wilson_interval_matches_hand_computed_values():
    lo, hi = wilson_interval(7, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.3968, 0.8922)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and round(hi, 4) == 0.2775
    lo, hi = wilson_interval(10, 10)
    assert round(lo, 4) == 0.7225 and hi == 1
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert pass_at_k(5, 4, 2) == 1.0  # fewer failures than draws
    assert pass_at_k(3, 0, 3) == 0.0
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_pass1_mean_and_standard_error_over_attempts():
    p = pass1_over_attempts([0.5, 0.7, 0.6])
    assert p.mean == pytest.approx(0.6)
    assert p.se == pytest.approx(0.1 / math.sqrt(3))  # sample sd 0.1 over sqrt(3 attempts)
    assert pass1_over_attempts([0.4]).se is None


def test_quantiles_interpolate_like_numpy():
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile(list(range(1, 11)), 0.9) == pytest.approx(9.1)
    assert quantile([], 0.5) is None


def test_mcnemar_exact_edge_cases():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(4, 4) == 1.0  # capped at 1
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


# ---- reading runs ---------------------------------------------------------------------------
def test_a_finished_run_is_read_from_parquet(tmp_path):
    run_dir = make_run(tmp_path, "r", rows_from({"a-1": "resolved", "a-2": "unresolved"}))
    run = load_run(run_dir)
    assert run.state == COMPLETE
    assert [r.instance_id for r in run.records] == ["a-1", "a-2"]
    assert run.by_id["a-1"].resolved and not run.by_id["a-2"].resolved


def test_a_run_in_progress_is_reported_not_refused(tmp_path):
    run_dir = make_run(tmp_path, "live", rows_from({"a-1": "resolved"}), planned=5, compact=False)
    run = load_run(run_dir)
    assert run.state == IN_PROGRESS and len(run.records) == 1 and run.planned == 5
    # Parquet compacted earlier, a record finished since: the newer record counts
    ResultStore(run_dir).compact()
    later = time.time() + 5
    ResultStore(run_dir).add(InstanceRecord(run_id="live", model="", agent="gold", dataset="builtin",
                                            instance_id="a-2", repo="o/r", version="1.0", status="empty_patch",
                                            resolved=False))
    os.utime(run_dir / "records" / "a-2.json", (later, later))
    run = load_run(run_dir)
    assert run.state == IN_PROGRESS and sorted(run.by_id) == ["a-1", "a-2"]
    ResultStore(run_dir).compact()
    os.utime(run_dir / "results.parquet", (later + 1, later + 1))
    run = load_run(run_dir)
    assert run.state == INCOMPLETE and len(run.records) == 2  # compacted, but 2 of 5 planned


def test_not_a_run_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a run folder"):
        load_run(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="neither a run folder"):
        expand_run_dirs([tmp_path / "empty"])
    with pytest.raises(UserError, match="no run at"):
        expand_run_dirs([tmp_path / "missing"])
    make_run(tmp_path / "reports", "b", [])
    make_run(tmp_path / "reports", "a", [])
    assert [p.name for p in expand_run_dirs([tmp_path / "reports"])] == ["a", "b"]


def test_trajectory_reader_skips_bad_lines(tmp_path):
    run_dir = make_run(tmp_path, "r", rows_from({"a-1": "resolved"}),
                       trajectories={"a-1": [{"type": "exit", "turn": 1, "t": 0.5, "exit_reason": "submitted"}]})
    path = run_dir / "logs" / "a-1" / "trajectory.jsonl"
    path.write_text(path.read_text() + "{not json\n[1, 2]\n")
    assert [e["type"] for e in read_trajectory(load_run(run_dir), "a-1")] == ["exit"]
    assert read_trajectory(load_run(run_dir), "no-such-instance") == []


# ---- summaries ------------------------------------------------------------------------------
def test_run_summary_numbers(tmp_path):
    rows = [
        {"instance_id": f"x-{i}", "repo": "o/a" if i < 6 else "o/b", "status": status, "total_seconds": float(i + 1),
         "prompt_tokens": 1000, "completion_tokens": 100 * i, "cost": 0.1 * i}
        for i, status in enumerate(["resolved"] * 7 + ["unresolved", "env_build_failed", "patch_apply_failed"])
    ]
    s = summarize_run(load_run(make_run(tmp_path, "r", rows)))
    assert (s.resolved, s.total, s.rate) == (7, 10, 0.7)
    assert tuple(round(x, 4) for x in s.ci) == (0.3968, 0.8922)
    assert s.counts["resolved"] == 7 and s.counts["env_build_failed"] == 1 and s.counts["harness_error"] == 0
    assert s.infra_failures == 1
    assert s.median_seconds == 5.5 and s.p90_seconds == pytest.approx(9.1)
    assert s.tokens_per_instance == pytest.approx(1000 + 450)
    assert s.cost_per_instance == pytest.approx(0.45)
    assert [(r.repo, r.resolved, r.total) for r in s.repos] == [("o/a", 6, 6), ("o/b", 1, 4)]


def test_attempts_give_pass_at_1_with_se_and_pass_at_k(tmp_path):
    # three attempts, four instances: resolved counts per instance 3, 1, 0, 2 (x-4 missing from attempt 3)
    outcomes = [
        {"x-1": "resolved", "x-2": "resolved", "x-3": "unresolved", "x-4": "resolved"},
        {"x-1": "resolved", "x-2": "unresolved", "x-3": "unresolved", "x-4": "resolved"},
        {"x-1": "resolved", "x-2": "unresolved", "x-3": "empty_patch"},
    ]
    runs = [load_run(make_run(tmp_path, f"a{i}", rows_from(o), model="m", agent="llm")) for i, o in enumerate(outcomes)]
    other = load_run(make_run(tmp_path, "solo", rows_from({"x-1": "resolved"}), model="other", agent="llm"))
    groups = attempt_groups(runs + [other])
    assert len(groups) == 1
    g = groups[0]
    assert g.attempts == 3 and g.instances == 3  # x-4 is not in every attempt
    # per-attempt rates over x-1..x-3: 2/3, 1/3, 1/3
    assert g.pass1.mean == pytest.approx(4 / 9)
    assert g.pass1.se == pytest.approx(pass1_over_attempts([2 / 3, 1 / 3, 1 / 3]).se)
    assert g.pass_at[1] == pytest.approx(4 / 9)
    # pass@2 per instance: c=3 -> 1, c=1 -> 1 - C(2,2)/C(3,2) = 2/3, c=0 -> 0
    assert g.pass_at[2] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert g.pass_at[3] == pytest.approx(2 / 3)


# ---- exports --------------------------------------------------------------------------------
MIXED = {"m-1": "resolved", "m-2": "resolved", "m-3": "unresolved", "m-4": "empty_patch", "m-5": "env_build_failed",
         "m-6": "harness_error", "m-7": "patch_apply_failed", "m-8": "test_timeout", "m-9": "agent_error"}


def _mixed_rows():
    rows = rows_from(MIXED)
    for row in rows:
        if row["status"] not in ("empty_patch", "env_build_failed", "agent_error"):
            row["patch"] = f"diff --git a/f b/f\n+{row['instance_id']}\n"
    return rows


def test_swebench_report_counts_split_errors(tmp_path):
    c = report_counts(load_run(make_run(tmp_path, "r", _mixed_rows(), planned=12)))
    assert (c.total_instances, c.submitted_instances, c.completed_instances) == (12, 9, 3)
    assert (c.resolved_instances, c.unresolved_instances, c.empty_patch_instances) == (2, 1, 1)
    assert (c.error_instances, c.infra_failure_instances, c.other_error_instances) == (5, 2, 3)
    assert c.incomplete_instances == 3
    assert c.infra_failure_ids == ["m-5", "m-6"] and c.other_error_ids == ["m-7", "m-8", "m-9"]
    assert c.resolved_ids == ["m-1", "m-2"] and c.completed_ids == ["m-1", "m-2", "m-3"]
    data = json.loads(c.to_json())
    assert data["error_instances"] == 5 and data["schema_version"] == 2


def test_experiments_layout(tmp_path):
    run_dir = make_run(tmp_path / "runs", "exp", _mixed_rows(), model="qwen3-coder", agent="llm",
                       trajectories={"m-1": [{"type": "exit", "turn": 1, "t": 1.0, "exit_reason": "submitted"}]})
    (run_dir / "logs" / "m-3" / "test_output.txt").write_text("FAILED t::a\n")
    root = export_experiments(load_run(run_dir), tmp_path / "evaluation" / "verified")
    assert root.name == "20250914_exp"
    preds = read_predictions(root / "all_preds.jsonl")
    assert sorted(preds) == sorted(MIXED) and preds["m-1"].model_name_or_path == "qwen3-coder"
    assert preds["m-4"].model_patch == ""
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["resolved"] == ["m-1", "m-2"]
    assert results["no_generation"] == ["m-4", "m-5", "m-9"]
    assert results["no_logs"] == ["m-6"]  # a patch, but the evaluation never ran
    meta = yaml.safe_load((root / "metadata.yaml").read_text())
    assert meta["tags"]["model"] == ["qwen3-coder"] and meta["tags"]["system"]["attempts"] == 1
    assert meta["evalharness"]["run_id"] == "exp"
    assert (root / "logs" / "m-3" / "test_output.txt").read_text() == "FAILED t::a\n"
    report = json.loads((root / "logs" / "m-1" / "report.json").read_text())
    assert report["m-1"]["resolved"] is True and report["m-1"]["patch_successfully_applied"] is True
    assert (root / "logs" / "m-1" / "patch.diff").read_text().startswith("diff --git")
    assert (root / "trajs" / "m-1.traj").is_file() and not (root / "trajs" / "m-2.traj").exists()
    assert "| resolved | 2 (22.22%) |" in (root / "README.md").read_text()


# ---- the site -------------------------------------------------------------------------------
def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', html)


def test_site_pages_link_up_and_need_no_network(tmp_path):
    run_dir = make_run(tmp_path / "runs", "gold", rows_from({"t-1": "resolved", "t-2": "unresolved"}, repo="o/t"))
    index = build_site([load_run(run_dir)], tmp_path / "site")
    site = index.parent
    pages = sorted(site.rglob("*.html"))
    assert [p.relative_to(site).as_posix() for p in pages] == [
        "index.html", "runs/gold/i/t-1.html", "runs/gold/i/t-2.html", "runs/gold/index.html"]
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<script" not in html  # no scripts at all, so nothing to load and nothing to inject into
        for link in _links(html):
            assert not re.match(r"^[a-z]+:", link), f"{page}: external link {link}"
            assert (page.parent / link.split("#")[0]).resolve().exists(), f"{page}: broken link {link}"
    assert json.loads((site / "runs" / "gold" / "report.json").read_text())["resolved_instances"] == 1
    assert len(read_predictions(site / "runs" / "gold" / "all_preds.jsonl")) == 2


def test_empty_run_and_run_of_only_errors_render(tmp_path):
    empty = make_run(tmp_path / "runs", "empty-run", [], planned=0)
    errors = make_run(tmp_path / "runs", "errors-run", rows_from(
        {"e-1": "env_build_failed", "e-2": "harness_error", "e-3": "agent_error"}))
    index = build_site([load_run(empty), load_run(errors)], tmp_path / "site")
    html = index.read_text(encoding="utf-8")
    assert html.count('data-run="') == 2
    assert "0/0" in html and "n/a" in html
    assert "0/3" in html and "0.0%" in html
    run_page = (index.parent / "runs" / "empty-run" / "index.html").read_text()
    assert "No instance has finished yet." in run_page
    err_page = (index.parent / "runs" / "errors-run" / "index.html").read_text()
    assert "error: 2 infrastructure, 1 other" in err_page


def test_untrusted_text_is_escaped_everywhere(tmp_path):
    statement = f"Crash with ünïcødé 😀 and 中文 {EVIL} <img src=x onerror=alert(1)>"
    dataset = write_dataset(tmp_path / "tasks.jsonl", {"evil-1": statement})
    patch = f"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old\n+new = '{EVIL}' # 😀\n"
    trajectory = [
        {"type": "system", "turn": 0, "t": 0, "content": f"system {EVIL}"},
        {"type": "assistant", "turn": 1, "t": 1.5, "content": f"thinking {EVIL}",
         "tool_calls": [{"id": "c1", "name": "bash", "arguments": {"command": f"echo '{EVIL}'"}}],
         "usage": {"prompt_tokens": 1200, "completion_tokens": 34}, "cost": 0.002, "llm_seconds": 1.2},
        {"type": "tool", "turn": 1, "t": 2.0, "tool_call_id": "c1", "name": "bash",
         "arguments": {"command": "echo"}, "output": f"out {EVIL}", "exit_code": 0, "seconds": 0.1},
        {"type": "format_error", "turn": 2, "t": 3, "message": f"bad {EVIL}", "content": "x"},
        {"type": "from_the_future", "turn": 2, "t": 3, "payload": EVIL},
        {"type": "exit", "turn": 3, "t": 4, "exit_reason": "submitted", "patch_chars": len(patch)},
    ]
    run_dir = make_run(tmp_path / "runs", f"evil{EVIL}", [{"instance_id": "evil-1", "patch": patch,
                                                          "error": f"boom {EVIL}"}],
                       model=f"model{EVIL}", dataset=str(dataset), trajectories={"evil-1": trajectory})
    index = build_site([load_run(run_dir)], tmp_path / "site")
    for page in index.parent.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script" not in html and "<img" not in html, page
    page = next((index.parent / "runs").glob("*/i/evil-1.html")).read_text(encoding="utf-8")
    assert "ünïcødé 😀 and 中文 &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'class="highlight"' in page and "😀" in page  # the diff, highlighted by pygments
    assert re.search(r"&lt;script&gt;alert\((&#39;|&#x27;)pwned", page.split('class="highlight"')[1])
    assert "thinking &lt;script&gt;" in page and "out &lt;script&gt;" in page and "bad &lt;script&gt;" in page
    assert "from_the_future" not in page  # unknown event types are ignored
    assert "Turn 3" in page and "submitted" in page
    assert "model&lt;script&gt;" in index.read_text(encoding="utf-8")


def test_problem_statement_unavailable_when_dataset_cannot_be_read(tmp_path):
    run_dir = make_run(tmp_path / "runs", "r", rows_from({"a-1": "resolved"}), dataset="verified")
    index = build_site([load_run(run_dir)], tmp_path / "site")
    page = (index.parent / "runs" / "r" / "i" / "a-1.html").read_text()
    assert "Problem statement unavailable" in page


def test_builtin_problem_statements_are_shown(tmp_path):
    run_dir = make_run(tmp_path / "runs", "r", rows_from({"evalharness__spans-1": "resolved"}))
    index = build_site([load_run(run_dir)], tmp_path / "site")
    page = (index.parent / "runs" / "r" / "i" / "evalharness__spans-1.html").read_text()
    assert "Problem statement unavailable" not in page and 'class="text problem"' in page


def test_site_refuses_to_overwrite_a_foreign_folder_and_rewrites_its_own(tmp_path):
    run_dir = make_run(tmp_path / "runs", "r", rows_from({"a-1": "resolved"}))
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep")
    with pytest.raises(UserError, match="not an evalharness site"):
        build_site([load_run(run_dir)], tmp_path / "precious")
    site = build_site([load_run(run_dir)], tmp_path / "site").parent
    (site / "runs" / "stale-run").mkdir()
    build_site([load_run(run_dir)], site)
    assert not (site / "runs" / "stale-run").exists() and (site / "runs" / "r" / "index.html").is_file()


def test_report_cli(tmp_path, capsys):
    make_run(tmp_path / "reports", "gold", rows_from({"a-1": "resolved", "a-2": "resolved"}))
    make_run(tmp_path / "reports", "empty", rows_from({"a-1": "empty_patch", "a-2": "empty_patch"}), agent="empty")
    make_run(tmp_path / "reports", "live", rows_from({"a-1": "resolved"}), planned=2, compact=False)
    out = tmp_path / "site"
    code = main(["report", str(tmp_path / "reports"), "--out", str(out), "--experiments", str(tmp_path / "exp"),
                 "--compare", str(tmp_path / "reports" / "gold"), str(tmp_path / "reports" / "empty")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "gold: resolved 2/2" in printed and "live: resolved 1/1 (in progress: 1/2)" in printed
    html = (out / "index.html").read_text()
    assert 'id="comparison"' in html and "flipped to fail" in html
    assert html.index('data-run="gold"') < html.index('data-run="empty"')  # best first
    assert "in progress · 1/2" in html
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == [
        "20250914_empty", "20250914_gold", "20250914_live"]
    assert main(["report", str(tmp_path / "nothing-here"), "--out", str(out)]) == 2
    assert "no run at" in capsys.readouterr().err
