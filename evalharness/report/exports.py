"""Exports a team can submit or compare: SWE-bench's report counts and its experiments layout.

Status mapping onto SWE-bench's counts: `submitted` is every finished instance (each has a
prediction, possibly empty); `completed` is those whose tests ran to a verdict
(resolved + unresolved); `empty_patch` is status empty_patch; `error` is the rest,
split into infrastructure failures (env_build_failed, harness_error: the harness's
fault, worth a re-run) and the others (patch_apply_failed, test_timeout, agent_error:
the system's). This matches SWE-bench v4, where a timeout or a patch that does not
apply is an error; v5 calls the first kind infra_failure.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import yaml

from evalharness.tasks.predictions import records_to_predictions, write_predictions
from evalharness.report.load import RunData
from evalharness.report.summary import GRADED_STATUSES, INFRA_STATUSES
from evalharness.core.results import atomic_write, safe_name
from evalharness.core.status import Status

REPORT_SCHEMA_VERSION = 2


@dataclass(frozen=True)
class ReportCounts:
    """SWE-bench's summary report of one run (field names as its JSON report uses them)."""

    run_id: str
    state: str
    total_instances: int
    submitted_instances: int
    completed_instances: int
    resolved_instances: int
    unresolved_instances: int
    empty_patch_instances: int
    error_instances: int
    infra_failure_instances: int
    other_error_instances: int
    incomplete_instances: int
    submitted_ids: list[str]
    completed_ids: list[str]
    resolved_ids: list[str]
    unresolved_ids: list[str]
    empty_patch_ids: list[str]
    error_ids: list[str]
    infra_failure_ids: list[str]
    other_error_ids: list[str]
    schema_version: int = REPORT_SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"


def report_counts(run: RunData) -> ReportCounts:
    ids = {key: [] for key in ("resolved", "unresolved", "empty", "infra", "other")}
    for r in run.records:  # sorted by instance id
        if r.status == Status.RESOLVED.value and r.resolved:
            ids["resolved"].append(r.instance_id)
        elif r.status in GRADED_STATUSES:
            ids["unresolved"].append(r.instance_id)
        elif r.status == Status.EMPTY_PATCH.value:
            ids["empty"].append(r.instance_id)
        elif r.status in INFRA_STATUSES:
            ids["infra"].append(r.instance_id)
        else:
            ids["other"].append(r.instance_id)
    completed = sorted(ids["resolved"] + ids["unresolved"])
    errors = sorted(ids["infra"] + ids["other"])
    submitted = [r.instance_id for r in run.records]
    return ReportCounts(
        run_id=run.meta.run_id,
        state=run.state,
        total_instances=run.planned,
        submitted_instances=len(submitted),
        completed_instances=len(completed),
        resolved_instances=len(ids["resolved"]),
        unresolved_instances=len(ids["unresolved"]),
        empty_patch_instances=len(ids["empty"]),
        error_instances=len(errors),
        infra_failure_instances=len(ids["infra"]),
        other_error_instances=len(ids["other"]),
        incomplete_instances=run.planned - len(submitted),
        submitted_ids=submitted,
        completed_ids=completed,
        resolved_ids=ids["resolved"],
        unresolved_ids=ids["unresolved"],
        empty_patch_ids=ids["empty"],
        error_ids=errors,
        infra_failure_ids=ids["infra"],
        other_error_ids=ids["other"],
    )


def model_name(run: RunData) -> str:
    """model_name_or_path for predictions: the model, else the agent (gold, empty)."""
    return run.meta.model or run.meta.agent or run.meta.run_id


def write_predictions_file(run: RunData, path: Path) -> Path:
    return write_predictions(records_to_predictions(run.records, model_name(run)), path)


def experiments_folder_name(run: RunData) -> str:
    """<YYYYMMDD>_<name>, as the experiments repository names a submission."""
    try:
        day = datetime.fromisoformat(run.meta.created_at).strftime("%Y%m%d")
    except ValueError:
        day = "00000000"
    return f"{day}_{safe_name(run.meta.run_id)}"


def export_experiments(run: RunData, dest: Path) -> Path:
    """Write `run` in the SWE-bench experiments layout under dest/<date>_<run_id>/.

    all_preds.jsonl, results/results.json (resolved / no_generation / no_logs id lists),
    metadata.yaml, README.md, logs/<id>/ (the run's evaluation logs plus a report.json)
    and trajs/<id>.traj (the trajectory, JSON Lines as written by evalharness).
    """
    root = Path(dest) / experiments_folder_name(run)
    root.mkdir(parents=True, exist_ok=True)
    write_predictions_file(run, root / "all_preds.jsonl")
    counts = report_counts(run)
    graded_or_tried = GRADED_STATUSES | {Status.PATCH_APPLY_FAILED.value, Status.TEST_TIMEOUT.value}
    results = {
        "no_generation": sorted(r.instance_id for r in run.records if not (r.patch or "").strip()),
        "no_logs": sorted(r.instance_id for r in run.records
                          if (r.patch or "").strip() and r.status not in graded_or_tried),
        "resolved": counts.resolved_ids,
    }
    atomic_write(root / "results" / "results.json", (json.dumps(results, indent=2) + "\n").encode())
    atomic_write(root / "metadata.yaml", _metadata_yaml(run).encode())
    atomic_write(root / "README.md", _readme(run, counts).encode())
    for record in run.records:
        _export_instance(run, record, root)
    return root


def _export_instance(run: RunData, record, root: Path) -> None:
    src = run.logs_dir(record.instance_id)
    dst = root / "logs" / safe_name(record.instance_id)
    dst.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        for path in sorted(src.iterdir()):
            if path.is_file() and path.name != "trajectory.jsonl":
                shutil.copyfile(path, dst / path.name)
        trajectory = src / "trajectory.jsonl"
        if trajectory.is_file() and trajectory.stat().st_size:
            (root / "trajs").mkdir(exist_ok=True)
            shutil.copyfile(trajectory, root / "trajs" / f"{safe_name(record.instance_id)}.traj")
    (dst / "patch.diff").write_text(record.patch or "", encoding="utf-8")
    applied = record.status in GRADED_STATUSES or record.status == Status.TEST_TIMEOUT.value
    report = {
        record.instance_id: {
            "patch_is_None": False,
            "patch_exists": bool((record.patch or "").strip()),
            "patch_successfully_applied": applied,
            "resolved": bool(record.resolved),
            "status": record.status,
            "FAIL_TO_PASS": {"passed": record.f2p_passed, "total": record.f2p_total},
            "PASS_TO_PASS": {"passed": record.p2p_passed, "total": record.p2p_total},
        }
    }
    (dst / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _metadata_yaml(run: RunData) -> str:
    meta = run.meta
    data = {
        "info": {"name": f"{model_name(run)} ({meta.agent})" if meta.model else model_name(run),
                 "site": "", "report": "", "authors": "", "logo": ""},
        "tags": {"checked": False, "model": [meta.model] if meta.model else [], "org": [],
                 "os_model": False, "os_system": True, "system": {"attempts": 1}},
        "evalharness": {"run_id": meta.run_id, "dataset": meta.dataset, "agent": meta.agent, "model": meta.model,
                        "harness_version": meta.harness_version, "created_at": meta.created_at},
    }
    head = "# Fill in info (site, report, authors) and tags (org, os_model) before submitting.\n"
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _readme(run: RunData, c: ReportCounts) -> str:
    rate = f"{100 * c.resolved_instances / c.total_instances:.2f}%" if c.total_instances else "n/a"
    return (
        f"# {model_name(run)} on {run.meta.dataset}\n\n"
        f"Exported by evalharness {run.meta.harness_version} from run `{run.meta.run_id}` ({run.state}).\n\n"
        f"| count | instances |\n|---|---|\n"
        f"| total | {c.total_instances} |\n| submitted | {c.submitted_instances} |\n"
        f"| completed | {c.completed_instances} |\n| resolved | {c.resolved_instances} ({rate}) |\n"
        f"| unresolved | {c.unresolved_instances} |\n| empty patch | {c.empty_patch_instances} |\n"
        f"| error | {c.error_instances} (infrastructure {c.infra_failure_instances}, "
        f"other {c.other_error_instances}) |\n"
    )
