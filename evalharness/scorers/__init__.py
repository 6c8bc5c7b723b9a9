"""Scorers: grade a patch for a task in an environment."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from evalharness.core.errors import UserError
from evalharness.scorers.base import ScoreResult, Scorer
from evalharness.scorers.grading import Grade, grade
from evalharness.scorers.log_parsers import LOG_PARSERS, get_log_parser, parse_pytest
from evalharness.scorers.patching import ApplyResult, apply_patch
from evalharness.scorers.tests_scorer import TestScorer, build_eval_script

# name -> factory; each call gives a fresh scorer. A factory takes the scorer's options as keywords
# (the tests scorer: `flaky`, `flaky_policy`).
SCORERS: dict[str, Callable[..., Scorer]] = {
    TestScorer.name: TestScorer,
}


def get_scorer(name: str, **options: Any) -> Scorer:
    """A fresh scorer `name` with `options`; an unknown name, an option it does not take or a bad
    value is a UserError."""
    try:
        factory = SCORERS[name]
    except KeyError:
        known = ", ".join(sorted(SCORERS))
        raise UserError(f"unknown scorer {name!r}; known: {known}") from None
    if options:
        taken = inspect.signature(factory).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in taken.values()):
            wrong = sorted(set(options) - set(taken))
            if wrong:
                raise UserError(f"the {name} scorer takes no option {', '.join(wrong)}")
    try:
        return factory(**options)
    except ValueError as exc:
        raise UserError(f"{name} scorer: {exc}") from None


__all__ = [
    "ApplyResult",
    "Grade",
    "LOG_PARSERS",
    "SCORERS",
    "ScoreResult",
    "Scorer",
    "TestScorer",
    "apply_patch",
    "build_eval_script",
    "get_log_parser",
    "get_scorer",
    "grade",
    "parse_pytest",
]
