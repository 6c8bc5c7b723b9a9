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

Flakiness (`repeats` > 1): both controls run N times, each repeat an ordinary resumable
run (`<root>/gold`, `<root>/gold-2` .. `<root>/gold-N`, the same for empty, so raising N
reuses the repeats already done). Per instance, a test whose parsed status (the scorer's
`logs/<id>/test_statuses.json`) differs between the repeats of one control is flaky; only
repeats whose tests ran to the end (resolved or unresolved) are compared. The flaky tests
go to `<root>/flaky.json` ({instance_id: [test ids]}, what `eval --flaky` reads) and to
the report; an instance whose verdict changed between repeats, or whose FAIL_TO_PASS /
PASS_TO_PASS holds a flaky test, is a problem.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import docker
import docker.errors

from evalharness.core.errors import UserError

from evalharness.agents.base import AgentResult
from evalharness.agents.gold import GoldAgent
from evalharness.env.docker import ContainerLimits
from evalharness.env.images import ImageBuilder
from evalharness.core.results import InstanceRecord, atomic_write, safe_name
from evalharness.run.runner import RunConfig, Runner
from evalharness.scorers.base import Scorer
from evalharness.tasks.specs import SpecRegistry
from evalharness.core.status import Status
from evalharness.core.task import Task

GOLD_NOT_RESOLVED = "gold does not resolve"
EMPTY_RESOLVED = "empty resolves"
VERDICT_CHANGED = "verdict changes across repeats"
FLAKY_GRADED = "graded tests are flaky"
NO_TESTS = "no test ran"  # a control's test log held no test result: nothing was graded
FLAKY_FILE = "flaky.json"
# Statuses of a run whose tests ran to the end: only those repeats are compared test by test.
_TESTS_RAN = (Status.RESOLVED.value, Status.UNRESOLVED.value)
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
    # With repeats: each control's status per repeat, and the tests whose status changed between
    # the repeats of a control (test id -> control -> status per compared repeat).
    gold_verdicts: tuple[str, ...] = ()
    empty_verdicts: tuple[str, ...] = ()
    flaky: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    flaky_graded: tuple[str, ...] = ()  # the flaky tests that are in FAIL_TO_PASS or PASS_TO_PASS

    @property
    def changed(self) -> tuple[str, ...]:
        """The controls whose verdict changed between repeats."""
        return tuple(name for name, verdicts in (("gold", self.gold_verdicts), ("empty", self.empty_verdicts))
                     if len(set(verdicts)) > 1)

    @property
    def problem(self) -> str | None:
        if self.changed:
            return VERDICT_CHANGED
        if Status.NO_TESTS_PARSED.value in (self.gold_status, self.empty_status):
            return NO_TESTS
        if self.gold_status != Status.RESOLVED.value:
            return GOLD_NOT_RESOLVED
        if self.empty_status == Status.RESOLVED.value:
            return EMPTY_RESOLVED
        if self.flaky_graded:
            return FLAKY_GRADED
        return None

    def group(self) -> str:
        """The problem with what it is about: "gold does not resolve: env_build_failed", and so on."""
        problem = self.problem
        if problem == VERDICT_CHANGED:
            return f"{problem}: {' and '.join(self.changed)}"
        if problem == FLAKY_GRADED:
            return problem
        if problem == NO_TESTS:
            return f"{problem}: " + " and ".join(name for name, status in (("gold", self.gold_status), ("empty", self.empty_status))
                                                 if status == Status.NO_TESTS_PARSED.value)
        return f"{problem}: {self.gold_status if problem == GOLD_NOT_RESOLVED else self.empty_status}"

    def detail(self) -> str:
        """One line on what went wrong, for the printed summary."""
        problem = self.problem
        if problem == VERDICT_CHANGED:
            return "; ".join(f"{name}: {', '.join(self.gold_verdicts if name == 'gold' else self.empty_verdicts)}"
                             for name in self.changed)
        if problem == FLAKY_GRADED:
            return _clip_list(self.flaky_graded)
        gold = problem == GOLD_NOT_RESOLVED or (problem == NO_TESTS and self.gold_status == Status.NO_TESTS_PARSED.value)
        return _first_line(self.gold_error if gold else self.empty_error) or (
            self.gold_tests if gold else self.empty_tests)


@dataclass
class ValidationReport:
    rows: list[ValidationRow] = field(default_factory=list)
    repeats: int = 1

    @property
    def problems(self) -> list[ValidationRow]:
        return [r for r in self.rows if r.problem]

    def grouped(self) -> dict[str, list[ValidationRow]]:
        """"gold does not resolve: env_build_failed" -> rows, and so on; sorted keys."""
        groups: dict[str, list[ValidationRow]] = {}
        for row in self.problems:
            groups.setdefault(row.group(), []).append(row)
        return dict(sorted(groups.items()))

    def flaky(self) -> dict[str, list[str]]:
        """instance id -> its flaky tests (sorted), for the instances that have any: flaky.json."""
        return {r.instance_id: sorted(r.flaky) for r in self.rows if r.flaky}

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
                lines.append(f"  {row.instance_id:<40} {row.detail()}")
        if self.repeats > 1:
            lines.append("")
            lines += self._flaky_lines()
        return "\n".join(lines)

    def _flaky_lines(self) -> list[str]:
        flaky = [r for r in self.rows if r.flaky]
        if not flaky:
            return [f"no flaky tests in {self.repeats} repeats"]
        tests = sum(len(r.flaky) for r in flaky)
        lines = [f"flaky tests in {self.repeats} repeats: {tests} in {len(flaky)} instance(s)"]
        for row in flaky:
            lines.append(f"  {row.instance_id}")
            for test in sorted(row.flaky):
                seen = "; ".join(f"{name}: {' '.join(statuses)}" for name, statuses in row.flaky[test].items())
                graded = " (graded)" if test in row.flaky_graded else ""
                lines.append(f"    {test}{graded}  [{seen}]")
        return lines

    def markdown(self) -> str:
        repeated = self.repeats > 1
        head = ("| instance | gold | empty | build (s) | image (MB) | instance layers (MB) |"
                + (" flaky tests |" if repeated else "") + "\n"
                + "|---|---|---|---:|---:|---:|" + ("---:|" if repeated else ""))
        body = [
            f"| {r.instance_id} | {_verdicts(r.gold_status, r.gold_verdicts)} | "
            f"{_verdicts(r.empty_status, r.empty_verdicts)} | {r.build_seconds:.1f} | "
            f"{_mb(r.image_mb)} | {_mb(r.own_mb)} |" + (f" {len(r.flaky)} |" if repeated else "")
            for r in self.rows
        ]
        total = len(self.rows)
        gold = sum(r.gold_status == Status.RESOLVED.value for r in self.rows)
        empty = sum(r.empty_status == Status.RESOLVED.value for r in self.rows)
        build = sum(r.build_seconds for r in self.rows)
        own = sum(r.own_mb or 0 for r in self.rows)
        totals = (f"\n\nTotals: {total} instances; gold resolved {gold}/{total}; empty resolved "
                  f"{empty}/{total}; build time {build:.0f} s; instance layers {own:.0f} MB.\n")
        flaky = ""
        if repeated:
            flaky = f"\n## Flakiness ({self.repeats} repeats)\n\n```\n" + "\n".join(self._flaky_lines()) + "\n```\n"
            changed = [r for r in self.rows if r.changed]
            if changed:
                flaky += "\nVerdicts that changed between repeats:\n\n" + "".join(
                    f"- {r.instance_id}: {r.detail()}\n" for r in changed)
        return "\n".join([head, *body]) + totals + flaky

    def to_json(self) -> str:
        return json.dumps({
            "instances": len(self.rows),
            "repeats": self.repeats,
            "problems": {key: [r.instance_id for r in rows] for key, rows in self.grouped().items()},
            "flaky": self.flaky(),
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
    repeats: int = 1,
) -> ValidationReport:
    """Run gold then empty over `tasks`, `repeats` times (runs `root/gold`, `root/empty`, then
    `root/gold-2`, `root/empty-2`, ...), write and return the report (and `flaky.json` when repeated)."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    runs: dict[str, list[Repeat]] = {"gold": [], "empty": []}
    for n in range(1, repeats + 1):
        for agent in (GoldAgent(), UnchangedAgent()):
            config = RunConfig(run_id=repeat_run_id(agent.name, n), dataset=dataset, agent=agent.name,
                               workers=workers, redo=redo, reports_dir=Path(root), limits=limits)
            scorer: Scorer = scorer_factory()
            outcome = Runner(config, client=client, builder=builder, specs=specs, agent=agent,
                             scorer=scorer).run(tasks, progress=progress)
            runs[agent.name].append(Repeat(outcome.run_dir, {r.instance_id: r for r in outcome.records}))
    report = ValidationReport([_row(t, runs, client, builder, specs) for t in tasks], repeats=repeats)
    atomic_write(Path(root) / "validation.json", report.to_json().encode())
    atomic_write(Path(root) / "validation.md", report.markdown().encode())
    if repeats > 1:
        atomic_write(Path(root) / FLAKY_FILE, json.dumps(report.flaky(), indent=1, sort_keys=True).encode())
    return report


def repeat_run_id(control: str, n: int) -> str:
    """The run of repeat `n` (from 1) of a control: `gold`, `gold-2`, `gold-3`, ..."""
    return control if n == 1 else f"{control}-{n}"


@dataclass(frozen=True)
class Repeat:
    """One run of a control: its folder and its records by instance id."""

    run_dir: Path
    records: dict[str, InstanceRecord]

    def statuses(self, instance_id: str) -> dict[str, str] | None:
        """The parsed test statuses of an instance whose tests ran to the end, else None."""
        record = self.records.get(instance_id)
        if record is None or record.status not in _TESTS_RAN:
            return None
        path = self.run_dir / "logs" / safe_name(instance_id) / "test_statuses.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


MISSING = "missing"  # a test one repeat reported and another did not


def flaky_tests(repeats: Sequence[dict[str, str] | None]) -> dict[str, list[str]]:
    """Test id -> its status in each compared repeat, for the tests whose status was not always the same.

    Repeats given as None (the tests did not run to the end) are left out; with fewer than
    two left, nothing can be called flaky.
    """
    compared = [r for r in repeats if r is not None]
    if len(compared) < 2:
        return {}
    tests = sorted(set().union(*compared))
    seen = {t: [r.get(t, MISSING) for r in compared] for t in tests}
    return {t: statuses for t, statuses in seen.items() if len(set(statuses)) > 1}


def read_flaky_file(path: Path) -> dict[str, list[str]]:
    """A flaky.json ({instance_id: [test ids]}), checked; any other shape is a UserError naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"--flaky {path}: cannot read it ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"--flaky {path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(t, str) for t in v) for k, v in data.items()
    ):
        raise UserError(f"--flaky {path}: expected {{instance_id: [test ids]}}, as `validate --repeats N` writes")
    return data


def _flakiness(task: Task, runs: dict[str, list[Repeat]]) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {}
    for control, repeats in runs.items():
        for test, statuses in flaky_tests([r.statuses(task.instance_id) for r in repeats]).items():
            found.setdefault(test, {})[control] = statuses
    return dict(sorted(found.items()))


def _row(task: Task, runs: dict[str, list[Repeat]], client, builder: ImageBuilder,
         specs: SpecRegistry) -> ValidationRow:
    gold = runs["gold"][0].records.get(task.instance_id)
    empty = runs["empty"][0].records.get(task.instance_id)
    missing = Status.HARNESS_ERROR.value  # a run that left no record (cannot happen unless interrupted)

    def verdicts(control: str) -> tuple[str, ...]:
        if len(runs[control]) < 2:
            return ()
        return tuple(r.records[task.instance_id].status if task.instance_id in r.records else missing
                     for r in runs[control])

    flaky = _flakiness(task, runs)
    graded = set(task.FAIL_TO_PASS) | set(task.PASS_TO_PASS)
    spec = specs.get(task.repo, task.version) if (task.repo, task.version) in specs else None
    found = builder.existing_image(task, spec)
    image_mb = own_mb = None
    if found:
        image_mb = _size_mb(client, found[0])
        parent_mb = _size_mb(client, found[1]) if found[1] else None
        if image_mb is not None and parent_mb is not None:
            own_mb = round(image_mb - parent_mb, 1)
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
        gold_verdicts=verdicts("gold"),
        empty_verdicts=verdicts("empty"),
        flaky=flaky,
        flaky_graded=tuple(t for t in flaky if t in graded or _cut(t) in graded),
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


def _cut(test_id: str) -> str | None:
    """A parametrized id as datasets built with the official parser hold it (cut at its first space)."""
    cut = test_id.split(" ", 1)[0]
    return cut if " " in test_id and cut.count("[") > cut.count("]") else None


def _verdicts(first: str, verdicts: tuple[str, ...]) -> str:
    """A control's status; all of them, in repeat order, when they changed between repeats."""
    return ", ".join(verdicts) if len(set(verdicts)) > 1 else first


def _clip_list(items: Sequence[str], limit: int = 3) -> str:
    return ", ".join(items[:limit]) + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:160] if (text or "").strip() else ""
