"""Scorers: grade a patch for a task in an environment."""

from __future__ import annotations

from typing import Callable

from evalharness.core.errors import UserError
from evalharness.scorers.base import ScoreResult, Scorer
from evalharness.scorers.grading import Grade, grade
from evalharness.scorers.log_parsers import LOG_PARSERS, get_log_parser, parse_pytest
from evalharness.scorers.patching import ApplyResult, apply_patch
from evalharness.scorers.tests_scorer import TestScorer, build_eval_script

# name -> factory; each call gives a fresh scorer.
SCORERS: dict[str, Callable[[], Scorer]] = {
    TestScorer.name: TestScorer,
}


def get_scorer(name: str) -> Scorer:
    try:
        factory = SCORERS[name]
    except KeyError:
        known = ", ".join(sorted(SCORERS))
        raise UserError(f"unknown scorer {name!r}; known: {known}") from None
    return factory()


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
