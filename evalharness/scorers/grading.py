"""Grade parsed test statuses against a task's FAIL_TO_PASS and PASS_TO_PASS lists.

The rules follow the official SWE-bench harness (v5 where v4 and v5 differ):

* PASSED and XFAIL pass; FAILED, ERROR and a test missing from the log fail.
* SKIPPED: a skipped FAIL_TO_PASS test fails (the fix was never shown to work);
  a skipped PASS_TO_PASS test is fine (it was not broken).
* XPASS fails. The official parsers do not recognise XPASS, so such a test counts as
  missing there; matching that keeps verdicts equal, and it is also the safer reading:
  a PASS_TO_PASS test that XFAILed at the gold patch and now XPASSes means the patch
  changed behaviour that the test suite pins as "expected to fail".
* resolved iff every FAIL_TO_PASS and every PASS_TO_PASS test passes. An empty list
  counts as all passing, but a task with BOTH lists empty cannot be resolved
  (resolved=False): with nothing to check, "resolved" would mean nothing.
* Truncated ids: the official parser split summary lines on spaces, so datasets built
  with it hold parametrized ids cut at their first space (`test_f[a` for
  `test_f[a b]`). An id with no exact match that has more "[" than "]" (a cut inside
  the parameters, the only place a pytest id has spaces) is looked up among the parsed
  ids cut the same way; it passes only if every test it may stand for passes. Other ids
  (Django's "test_x (module.Class)", docstring lines, sympy's names) match exactly only,
  as in the official harness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from evalharness.scorers.log_parsers import PASSED, SKIPPED, XFAIL

PASSING = frozenset({PASSED, XFAIL})  # everything else (FAILED, ERROR, XPASS, missing) fails


@dataclass
class Grade:
    resolved: bool
    f2p_passed: int
    f2p_total: int
    p2p_passed: int
    p2p_total: int
    f2p_failed: list[str] = field(default_factory=list)
    p2p_failed: list[str] = field(default_factory=list)


def grade(statuses: Mapping[str, str], fail_to_pass: Iterable[str], pass_to_pass: Iterable[str]) -> Grade:
    f2p, p2p = list(fail_to_pass), list(pass_to_pass)
    lookup = _Lookup(statuses)
    f2p_failed = [t for t in f2p if not _passes(lookup.get(t), skipped_ok=False)]
    p2p_failed = [t for t in p2p if not _passes(lookup.get(t), skipped_ok=True)]
    resolved = bool(f2p or p2p) and not f2p_failed and not p2p_failed
    return Grade(
        resolved=resolved,
        f2p_passed=len(f2p) - len(f2p_failed),
        f2p_total=len(f2p),
        p2p_passed=len(p2p) - len(p2p_failed),
        p2p_total=len(p2p),
        f2p_failed=f2p_failed,
        p2p_failed=p2p_failed,
    )


def _passes(statuses: list[str], *, skipped_ok: bool) -> bool:
    if not statuses:  # missing from the log
        return False
    return all(s in PASSING or (skipped_ok and s == SKIPPED) for s in statuses)


class _Lookup:
    def __init__(self, statuses: Mapping[str, str]):
        self._exact = statuses
        self._truncated: dict[str, list[str]] = {}
        for test_id, status in statuses.items():
            if " " in test_id:
                self._truncated.setdefault(test_id.split(" ", 1)[0], []).append(status)

    def get(self, test_id: str) -> list[str]:
        """The status(es) for a dataset id: one for an exact match, all the
        space-truncation matches otherwise, none when missing."""
        if test_id in self._exact:
            return [self._exact[test_id]]
        if test_id.count("[") <= test_id.count("]"):
            return []  # not a parametrized id cut short
        return self._truncated.get(test_id, [])
