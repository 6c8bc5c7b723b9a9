"""Paired comparison of two runs, instance by instance, with McNemar's exact test.

Only the instances both runs finished are compared, less those where either run had an
infrastructure failure (env_build_failed, harness_error) or a test log without any test
result (no_tests_parsed): those were not measured, and counting them would make a broken
build machine look like a worse model. They are listed apart. What matters is the discordant
pairs: b instances resolved by BASE but not by NEW, c the other way. NEW is a
regression when it is significantly worse (b > c and the two-sided exact p-value is
below alpha) or when it lost more than `max_drop` instances net (b - c > max_drop), the
second rule being a floor for subsets too small for the test to have any power.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalharness.core.errors import UserError
from evalharness.report.load import RunData, load_run
from evalharness.report.stats import mcnemar_exact
from evalharness.report.summary import UNMEASURED_STATUSES


@dataclass(frozen=True)
class Flip:
    instance_id: str
    base_status: str
    new_status: str


@dataclass(frozen=True)
class Comparison:
    base_id: str
    new_id: str
    base_state: str
    new_state: str
    common: int
    base_resolved: int  # over the common instances
    new_resolved: int
    to_fail: tuple[Flip, ...]  # resolved in BASE, not in NEW (b)
    to_pass: tuple[Flip, ...]  # resolved in NEW, not in BASE (c)
    only_in_base: int
    only_in_new: int
    excluded_infra: tuple[Flip, ...]  # common instances left out: an infrastructure failure on either side
    p_value: float
    alpha: float
    max_drop: int | None

    @property
    def net_drop(self) -> int:
        return len(self.to_fail) - len(self.to_pass)

    @property
    def significantly_worse(self) -> bool:
        return self.net_drop > 0 and self.p_value < self.alpha

    @property
    def dropped_too_many(self) -> bool:
        return self.max_drop is not None and self.net_drop > self.max_drop

    @property
    def regression(self) -> bool:
        return self.significantly_worse or self.dropped_too_many

    @property
    def reasons(self) -> list[str]:
        out = []
        if self.significantly_worse:
            out.append(f"NEW is significantly worse (McNemar p = {_p(self.p_value)} < alpha {self.alpha:g})")
        if self.dropped_too_many:
            out.append(f"NEW lost {self.net_drop} instance(s) net, more than --max-drop {self.max_drop}")
        return out

    @property
    def improved(self) -> bool:
        return self.net_drop < 0 and self.p_value < self.alpha

    @property
    def headline(self) -> str:
        return "REGRESSION" if self.regression else "improvement" if self.improved else "no regression"

    @property
    def explanation(self) -> str:
        if self.regression:
            return "; ".join(self.reasons)
        if self.improved:
            return f"NEW is significantly better (McNemar p = {_p(self.p_value)} < alpha {self.alpha:g})"
        return f"the difference is within noise (McNemar p = {_p(self.p_value)}, alpha {self.alpha:g})"

    @property
    def verdict(self) -> str:
        return f"{self.headline}: {self.explanation}"

    def to_markdown(self) -> str:
        def pct(k: int) -> str:
            return f"{k}/{self.common} ({100 * k / self.common:.1f}%)" if self.common else "0/0"

        lines = [
            f"## Comparison: `{_code(self.base_id)}` → `{_code(self.new_id)}`",
            "",
            f"**{self.verdict}**",
            "",
            "| | BASE | NEW |",
            "|---|---|---|",
            f"| run | `{_code(self.base_id)}` ({self.base_state}) | `{_code(self.new_id)}` ({self.new_state}) |",
            f"| resolved, common instances | {pct(self.base_resolved)} | {pct(self.new_resolved)} |",
            f"| instances only in this run | {self.only_in_base} | {self.only_in_new} |",
            "",
            f"- common instances compared: {self.common}",
            f"- left out, not measured (env_build_failed, harness_error, no_tests_parsed): {len(self.excluded_infra)}",
            f"- flipped to fail (resolved in BASE, not in NEW): {len(self.to_fail)}",
            f"- flipped to pass (resolved in NEW, not in BASE): {len(self.to_pass)}",
            f"- McNemar exact test, two-sided, on the {len(self.to_fail) + len(self.to_pass)} discordant "
            f"pair(s): p = {_p(self.p_value)} (alpha {self.alpha:g})",
        ]
        if self.max_drop is not None:
            lines.append(f"- allowed net drop: {self.max_drop} instance(s); net drop: {self.net_drop}")
        for title, flips in (("Flipped to fail", self.to_fail), ("Flipped to pass", self.to_pass),
                             ("Left out: not measured", self.excluded_infra)):
            if flips:
                lines += ["", f"### {title} ({len(flips)})", ""]
                lines += [f"- `{_code(f.instance_id)}`: {f.base_status} → {f.new_status}" for f in flips]
        return "\n".join(lines) + "\n"


def compare_runs(base: RunData, new: RunData, alpha: float = 0.05, max_drop: int | None = None) -> Comparison:
    if not 0 < alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1, got {alpha}")
    if max_drop is not None and max_drop < 0:
        raise UserError(f"--max-drop must be 0 or more, got {max_drop}")
    shared = sorted(set(base.by_id) & set(new.by_id))
    if not shared:
        raise UserError(f"runs {base.meta.run_id!r} and {new.meta.run_id!r} have no finished instance in common")
    common, excluded, to_fail, to_pass = [], [], [], []
    for iid in shared:
        b, n = base.by_id[iid], new.by_id[iid]
        if b.status in UNMEASURED_STATUSES or n.status in UNMEASURED_STATUSES:
            excluded.append(Flip(iid, b.status, n.status))
            continue
        common.append(iid)
        if b.resolved and not n.resolved:
            to_fail.append(Flip(iid, b.status, n.status))
        elif n.resolved and not b.resolved:
            to_pass.append(Flip(iid, b.status, n.status))
    return Comparison(
        base_id=base.meta.run_id,
        new_id=new.meta.run_id,
        base_state=base.state,
        new_state=new.state,
        common=len(common),
        base_resolved=sum(bool(base.by_id[i].resolved) for i in common),
        new_resolved=sum(bool(new.by_id[i].resolved) for i in common),
        to_fail=tuple(to_fail),
        to_pass=tuple(to_pass),
        only_in_base=len(set(base.by_id) - set(new.by_id)),
        only_in_new=len(set(new.by_id) - set(base.by_id)),
        excluded_infra=tuple(excluded),
        p_value=mcnemar_exact(len(to_fail), len(to_pass)),
        alpha=alpha,
        max_drop=max_drop,
    )


def compare_dirs(base: Path, new: Path, alpha: float = 0.05, max_drop: int | None = None) -> Comparison:
    return compare_runs(load_run(base), load_run(new), alpha=alpha, max_drop=max_drop)


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 0.001 else f"{value:.2e}"


def _code(text: str) -> str:
    return text.replace("`", "'")

