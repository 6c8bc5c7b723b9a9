"""What the leaderboard says about a run (and about several attempts of one system).

Every figure is over the instances that have a record: a run in progress is summarised
as far as it got, and the page says so.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Sequence

from evalharness.report.load import RunData
from evalharness.report.stats import Pass1, pass1_over_attempts, pass_at_k, quantile, wilson_interval
from evalharness.core.status import Status

STATUS_ORDER: tuple[str, ...] = tuple(s.value for s in Status)
# Failures of the machinery rather than of the system under test (SWE-bench v5's infra_failure).
INFRA_STATUSES = frozenset({Status.ENV_BUILD_FAILED.value, Status.HARNESS_ERROR.value})
# Statuses of an instance that was not measured: a comparison leaves it out (on either side)
# rather than count it as a regression. A log without any test result says the tests did not
# run (the environment's fault far more often than the patch's).
UNMEASURED_STATUSES = INFRA_STATUSES | {Status.NO_TESTS_PARSED.value}
GRADED_STATUSES = frozenset({Status.RESOLVED.value, Status.UNRESOLVED.value})


@dataclass(frozen=True)
class RepoRow:
    repo: str
    resolved: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.resolved / self.total if self.total else None


@dataclass(frozen=True)
class RunSummary:
    run: RunData
    total: int
    resolved: int
    ci: tuple[float, float] | None  # 95% Wilson interval of the resolve rate
    counts: dict[str, int]  # every status, in Status order, zeros included
    median_seconds: float | None
    p90_seconds: float | None
    tokens_per_instance: float | None
    cost_per_instance: float | None
    turns_per_instance: float | None
    repos: tuple[RepoRow, ...]

    @property
    def rate(self) -> float | None:
        return self.resolved / self.total if self.total else None

    @property
    def infra_failures(self) -> int:
        return sum(self.counts[s] for s in INFRA_STATUSES)

    @property
    def repo_rows(self) -> dict[str, RepoRow]:
        return {r.repo: r for r in self.repos}


def summarize_run(run: RunData) -> RunSummary:
    records = run.records
    total = len(records)
    resolved = sum(1 for r in records if r.resolved)
    seen = Counter(r.status for r in records)
    counts = {s: seen.get(s, 0) for s in STATUS_ORDER}
    counts.update({s: n for s, n in seen.items() if s not in counts})  # a status from a newer harness
    per_repo: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        per_repo[r.repo][0] += int(bool(r.resolved))
        per_repo[r.repo][1] += 1
    seconds = [r.total_seconds for r in records]
    return RunSummary(
        run=run,
        total=total,
        resolved=resolved,
        ci=wilson_interval(resolved, total),
        counts=counts,
        median_seconds=quantile(seconds, 0.5),
        p90_seconds=quantile(seconds, 0.9),
        tokens_per_instance=_mean([r.prompt_tokens + r.completion_tokens for r in records]),
        cost_per_instance=_mean([r.cost for r in records]),
        turns_per_instance=_mean([r.turns for r in records]),
        repos=tuple(RepoRow(repo, c[0], c[1]) for repo, c in sorted(per_repo.items())),
    )


@dataclass(frozen=True)
class AttemptGroup:
    """Several runs of one (model, agent, dataset), scored over the instances all of them finished."""

    model: str
    agent: str
    dataset: str
    runs: tuple[RunData, ...]
    instances: int
    pass1: Pass1
    pass_at: dict[int, float]  # k -> mean over instances of the unbiased pass@k

    @property
    def attempts(self) -> int:
        return len(self.runs)


def attempt_groups(runs: Sequence[RunData]) -> list[AttemptGroup]:
    """Groups of two or more runs of the same system, in the order first given."""
    grouped: dict[tuple[str, str, str], list[RunData]] = {}
    for run in runs:
        grouped.setdefault(run.meta.system, []).append(run)
    return [attempt_group(group) for group in grouped.values() if len(group) > 1]


def attempt_group(runs: Sequence[RunData]) -> AttemptGroup:
    common = set.intersection(*(set(r.by_id) for r in runs)) if runs else set()
    n = len(runs)
    solved = {iid: sum(bool(r.by_id[iid].resolved) for r in runs) for iid in common}
    rates = [sum(bool(r.by_id[i].resolved) for i in common) / len(common) if common else 0.0 for r in runs]
    ks = sorted({k for k in (1, 2, 3, 5, 10, n) if 1 <= k <= n})
    pass_at = {k: (sum(pass_at_k(n, c, k) for c in solved.values()) / len(common) if common else 0.0) for k in ks}
    model, agent, dataset = runs[0].meta.system
    return AttemptGroup(model=model, agent=agent, dataset=dataset, runs=tuple(runs), instances=len(common),
                        pass1=pass1_over_attempts(rates), pass_at=pass_at)


def progress_note(run: RunData, *, running: bool) -> str:
    """"" for a run whose records cover every instance it set out to do (run.json's count); else
    one line saying how far it got, so that a figure over part of a run is not read as the whole."""
    done, planned = len(run.records), run.planned
    if done >= planned:
        return ""
    if running:
        return f"in progress: {done}/{planned} done so far; the figures below are over those {done}"
    return (f"incomplete: {done}/{planned}; the figures below are over those {done} (the run stopped: "
            f"the same eval command, or --run-id {run.meta.run_id}, resumes it)")


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
