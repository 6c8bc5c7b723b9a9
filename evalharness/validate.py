"""`evalharness validate`: on every instance of a selection, gold must resolve and empty must not.

Either failing is a harness or dataset problem, never a model's: the first check to run
on a new dataset, spec or machine. It is two ordinary runs, `<root>/gold` and
`<root>/empty` (each resumable, each with its results.parquet and logs), then the
instances where a control failed, grouped by what happened, written to
`<root>/validation.json` and `<root>/validation.md` (the full table, with build time and
image size per instance).

The empty control must really run the tests: an empty patch is graded `empty_patch`
without running anything, so it could never "resolve" and would check nothing. Its patch
only adds a marker file (`UNCHANGED_MARKER`, no code, nothing a test collects), so the
tests run on the repository as it is at base_commit: a FAIL_TO_PASS test that already
passes there shows up as "empty resolves", as in SWE-bench's own validation (F2P must
fail before the fix).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import docker
import docker.errors

from evalharness.agents.base import AgentResult
from evalharness.agents.gold import GoldAgent
from evalharness.containers import ContainerLimits
from evalharness.images import ImageBuilder
from evalharness.results import InstanceRecord, atomic_write
from evalharness.runner import RunConfig, Runner
from evalharness.scorers.base import Scorer
from evalharness.specs import SpecRegistry
from evalharness.status import Status
from evalharness.task import Task

GOLD_NOT_RESOLVED = "gold does not resolve"
EMPTY_RESOLVED = "empty resolves"
UNCHANGED_MARKER = ".evalharness-empty-control"


class UnchangedAgent:
    """The empty control: a patch that changes no code (it adds one marker file), so tests do run."""

    name = "empty"

    def run(self, task: Task, env) -> AgentResult:
        patch = (f"diff --git a/{UNCHANGED_MARKER} b/{UNCHANGED_MARKER}\nnew file mode 100644\n"
                 f"--- /dev/null\n+++ b/{UNCHANGED_MARKER}\n@@ -0,0 +1 @@\n+empty control: no code changed\n")
        return AgentResult(patch=patch, exit_reason="submitted")


@dataclass(frozen=True)
class ValidationRow:
    instance_id: str
    repo: str
    version: str
    gold_status: str
    empty_status: str
    gold_error: str | None = None
    empty_error: str | None = None
    gold_tests: str = ""  # "F2P 0/6, P2P 44/79": what the gold run's tests said
    empty_tests: str = ""
    build_seconds: float = 0.0  # the gold run's env phase: building (or finding) the image
    image: str | None = None
    image_mb: float | None = None  # the whole image
    own_mb: float | None = None  # what the instance adds above its env image (None for official images)

    @property
    def problem(self) -> str | None:
        if self.gold_status != Status.RESOLVED.value:
            return GOLD_NOT_RESOLVED
        if self.empty_status == Status.RESOLVED.value:
            return EMPTY_RESOLVED
        return None


@dataclass
class ValidationReport:
    rows: list[ValidationRow] = field(default_factory=list)

    @property
    def problems(self) -> list[ValidationRow]:
        return [r for r in self.rows if r.problem]

    def grouped(self) -> dict[str, list[ValidationRow]]:
        """"gold does not resolve: env_build_failed" -> rows, and so on; sorted keys."""
        groups: dict[str, list[ValidationRow]] = {}
        for row in self.problems:
            status = row.gold_status if row.problem == GOLD_NOT_RESOLVED else row.empty_status
            groups.setdefault(f"{row.problem}: {status}", []).append(row)
        return dict(sorted(groups.items()))

    def text(self) -> str:
        total = len(self.rows)
        gold = sum(r.gold_status == Status.RESOLVED.value for r in self.rows)
        empty = sum(r.empty_status == Status.RESOLVED.value for r in self.rows)
        lines = [f"gold resolved {gold}/{total}; empty resolved {empty}/{total}"]
        if not self.problems:
            lines.append("no problems: every gold patch resolves and no empty patch does")
        for key, rows in self.grouped().items():
            lines.append(f"\n{key} ({len(rows)})")
            for row in rows:
                gold = row.problem == GOLD_NOT_RESOLVED
                detail = _first_line(row.gold_error if gold else row.empty_error) or (
                    row.gold_tests if gold else row.empty_tests)
                lines.append(f"  {row.instance_id:<40} {detail}")
        return "\n".join(lines)

    def markdown(self) -> str:
        head = ("| instance | gold | empty | build (s) | image (MB) | instance layers (MB) |\n"
                "|---|---|---|---:|---:|---:|")
        body = [
            f"| {r.instance_id} | {r.gold_status} | {r.empty_status} | {r.build_seconds:.1f} | "
            f"{_mb(r.image_mb)} | {_mb(r.own_mb)} |"
            for r in self.rows
        ]
        total = len(self.rows)
        gold = sum(r.gold_status == Status.RESOLVED.value for r in self.rows)
        empty = sum(r.empty_status == Status.RESOLVED.value for r in self.rows)
        build = sum(r.build_seconds for r in self.rows)
        own = sum(r.own_mb or 0 for r in self.rows)
        totals = (f"\n\nTotals: {total} instances; gold resolved {gold}/{total}; empty resolved "
                  f"{empty}/{total}; build time {build:.0f} s; instance layers {own:.0f} MB.\n")
        return "\n".join([head, *body]) + totals

    def to_json(self) -> str:
        return json.dumps({
            "instances": len(self.rows),
            "problems": {key: [r.instance_id for r in rows] for key, rows in self.grouped().items()},
            "rows": [{**asdict(r), "problem": r.problem} for r in self.rows],
        }, indent=1)


def validate(
    tasks: Sequence[Task],
    *,
    root: Path,
    dataset: str,
    client: docker.DockerClient,
    builder: ImageBuilder,
    specs: SpecRegistry,
    scorer_factory,
    workers: int = 1,
    redo: bool = False,
    limits: ContainerLimits = ContainerLimits(),
    progress: bool = True,
) -> ValidationReport:
    """Run gold then empty over `tasks` (runs `root/gold`, `root/empty`), write and return the report."""
    records: dict[str, dict[str, InstanceRecord]] = {}
    for agent in (GoldAgent(), UnchangedAgent()):
        config = RunConfig(run_id=agent.name, dataset=dataset, agent=agent.name, workers=workers, redo=redo,
                           reports_dir=Path(root), limits=limits)
        scorer: Scorer = scorer_factory()
        outcome = Runner(config, client=client, builder=builder, specs=specs, agent=agent,
                         scorer=scorer).run(tasks, progress=progress)
        records[agent.name] = {r.instance_id: r for r in outcome.records}
    report = ValidationReport([_row(t, records, client, builder, specs) for t in tasks])
    atomic_write(Path(root) / "validation.json", report.to_json().encode())
    atomic_write(Path(root) / "validation.md", report.markdown().encode())
    return report


def _row(task: Task, records, client, builder: ImageBuilder, specs: SpecRegistry) -> ValidationRow:
    gold = records["gold"].get(task.instance_id)
    empty = records["empty"].get(task.instance_id)
    spec = specs.get(task.repo, task.version) if (task.repo, task.version) in specs else None
    found = builder.existing_image(task, spec)
    image_mb = own_mb = None
    if found:
        image_mb = _size_mb(client, found[0])
        parent_mb = _size_mb(client, found[1]) if found[1] else None
        if image_mb is not None and parent_mb is not None:
            own_mb = round(image_mb - parent_mb, 1)
    missing = Status.HARNESS_ERROR.value  # a run that left no record (cannot happen unless interrupted)
    return ValidationRow(
        instance_id=task.instance_id,
        repo=task.repo,
        version=task.version,
        gold_status=gold.status if gold else missing,
        empty_status=empty.status if empty else missing,
        gold_error=gold.error if gold else "no record",
        empty_error=empty.error if empty else "no record",
        gold_tests=_tests(gold),
        empty_tests=_tests(empty),
        build_seconds=gold.env_seconds if gold else 0.0,
        image=found[0] if found else None,
        image_mb=image_mb,
        own_mb=own_mb,
    )


def _tests(record: InstanceRecord | None) -> str:
    if record is None or not (record.f2p_total or record.p2p_total):
        return ""
    return f"F2P {record.f2p_passed}/{record.f2p_total}, P2P {record.p2p_passed}/{record.p2p_total}"


def _size_mb(client: docker.DockerClient, tag: str) -> float | None:
    try:
        return round(client.images.get(tag).attrs["Size"] / 1e6, 1)
    except docker.errors.ImageNotFound:
        return None


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:160] if (text or "").strip() else ""
