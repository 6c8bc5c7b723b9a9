"""The leaderboard's order: runs ranked only against runs over the same instances.

A resolve rate compares only over one instance set: a killed run at 2/11 says "100%" over
the two it did, and a run over another slice answers another question. So runs are grouped
by the set of instances they finished; whole runs are ranked within their set, and a
partial run (fewer records than it set out to do) is listed, unranked, under the set it
is part of (one of the same size that holds every instance it did), or with the other
partial runs when there is none.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Sequence

from evalharness.report.summary import RunSummary


@dataclass
class InstanceSet:
    ids: frozenset[str]  # empty for the partial runs that fit no set
    ranked: list[RunSummary] = field(default_factory=list)  # best first
    partial: list[RunSummary] = field(default_factory=list)  # not ranked
    label: str = ""  # "A", "B", ... when there are several sets, else ""

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def runs(self) -> list[RunSummary]:
        return self.ranked + self.partial

    @property
    def datasets(self) -> list[str]:
        return sorted({s.run.meta.dataset for s in self.runs})


def group_by_instance_set(summaries: Sequence[RunSummary]) -> list[InstanceSet]:
    """Sets in order of size (then of runs), each with its runs ranked; see the module docstring."""
    sets: dict[frozenset[str], InstanceSet] = {}
    partial = []
    for s in summaries:
        if s.run.partial:
            partial.append(s)
        else:
            ids = frozenset(s.run.by_id)
            sets.setdefault(ids, InstanceSet(ids)).ranked.append(s)
    homeless = InstanceSet(frozenset())
    for s in sorted(partial, key=lambda s: (-s.run.done, s.run.meta.created_at)):
        done = set(s.run.by_id)
        home = next((g for g in sets.values() if g.size == s.run.planned and done <= g.ids), homeless)
        home.partial.append(s)
    groups = sorted(sets.values(), key=lambda g: (-g.size, -len(g.ranked)))
    if homeless.partial:
        groups.append(homeless)
    for g in groups:
        g.ranked.sort(key=lambda s: (-(s.rate if s.rate is not None else -1), s.run.meta.created_at))
    if len(groups) > 1:
        for g, letter in zip(groups, _letters(len(groups)), strict=True):
            g.label = letter
    return groups


def _letters(n: int) -> list[str]:
    letters = list(string.ascii_uppercase)
    return [letters[i] if i < 26 else f"{letters[i // 26 - 1]}{letters[i % 26]}" for i in range(n)]
