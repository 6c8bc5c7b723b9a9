"""A single interval of real numbers whose ends may be open or closed."""

from __future__ import annotations

import math
import re
from typing import Tuple, Union

Number = Union[int, float]
Bound = Tuple[Number, bool]  # (value, closed)

__all__ = ["EMPTY", "Interval", "parse"]


class Interval:
    """The set of numbers between `lower` and `upper`.

    ``lower_closed`` / ``upper_closed`` say whether each end belongs to the
    interval; the default is half-open, ``[lower, upper)``.  An interval with
    ``lower == upper`` is a single point when both ends are closed and empty
    otherwise.  Intervals are immutable and hashable.
    """

    __slots__ = ("lower", "upper", "lower_closed", "upper_closed")

    def __init__(self, lower: Number, upper: Number, lower_closed: bool = True, upper_closed: bool = False):
        if math.isnan(lower) or math.isnan(upper):
            raise ValueError("interval bounds must not be NaN")
        if lower > upper:
            raise ValueError(f"lower bound {lower!r} is greater than upper bound {upper!r}")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "lower_closed", bool(lower_closed))
        object.__setattr__(self, "upper_closed", bool(upper_closed))

    def __setattr__(self, name, value):
        raise AttributeError("Interval is immutable")

    # -- constructors -------------------------------------------------------

    @classmethod
    def closed(cls, lower: Number, upper: Number) -> "Interval":
        """``[lower, upper]``"""
        return cls(lower, upper, True, True)

    @classmethod
    def open(cls, lower: Number, upper: Number) -> "Interval":
        """``(lower, upper)``"""
        return cls(lower, upper, False, False)

    @classmethod
    def closedopen(cls, lower: Number, upper: Number) -> "Interval":
        """``[lower, upper)``"""
        return cls(lower, upper, True, False)

    @classmethod
    def openclosed(cls, lower: Number, upper: Number) -> "Interval":
        """``(lower, upper]``"""
        return cls(lower, upper, False, True)

    @classmethod
    def point(cls, value: Number) -> "Interval":
        """``[value, value]``"""
        return cls(value, value, True, True)

    # -- basic properties ---------------------------------------------------

    @property
    def is_empty(self) -> bool:
        return self.lower == self.upper and not (self.lower_closed and self.upper_closed)

    @property
    def length(self) -> Number:
        return 0 if self.is_empty else self.upper - self.lower

    def __bool__(self) -> bool:
        return not self.is_empty

    def __contains__(self, value: Number) -> bool:
        if self.lower < value < self.upper:
            return True
        return (value == self.lower and self.lower_closed) or (value == self.upper and self.upper_closed)

    def sort_key(self) -> tuple:
        """Orders intervals by where they start; ``[1, ...`` sorts before ``(1, ...``."""
        return (self.lower, not self.lower_closed, self.upper, self.upper_closed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Interval):
            return NotImplemented
        if self.is_empty or other.is_empty:
            return self.is_empty and other.is_empty
        return (self.lower, self.upper, self.lower_closed, self.upper_closed) == (
            other.lower,
            other.upper,
            other.lower_closed,
            other.upper_closed,
        )

    def __hash__(self) -> int:
        if self.is_empty:
            return hash(("Interval", "empty"))
        return hash(("Interval", self.lower, self.upper, self.lower_closed, self.upper_closed))

    def __repr__(self) -> str:
        if self.is_empty:
            return "EMPTY"
        return (
            f"Interval({self.lower!r}, {self.upper!r}, "
            f"lower_closed={self.lower_closed}, upper_closed={self.upper_closed})"
        )

    def __str__(self) -> str:
        if self.is_empty:
            return "()"
        left = "[" if self.lower_closed else "("
        right = "]" if self.upper_closed else ")"
        return f"{left}{_format(self.lower)}, {_format(self.upper)}{right}"

    # -- set operations -----------------------------------------------------

    def intersection(self, other: "Interval") -> "Interval":
        """The numbers in both intervals (possibly `EMPTY`)."""
        if self.is_empty or other.is_empty:
            return EMPTY
        lower, lower_closed = _tighter_lower(self, other)
        upper, upper_closed = _tighter_upper(self, other)
        if lower > upper:
            return EMPTY
        result = Interval(lower, upper, lower_closed, upper_closed)
        return EMPTY if result.is_empty else result

    __and__ = intersection

    def overlaps(self, other: "Interval") -> bool:
        """True when the two intervals have at least one number in common."""
        return not self.intersection(other).is_empty

    def issubset(self, other: "Interval") -> bool:
        """True when every number of this interval is in `other`."""
        return self.intersection(other) == self

    def union(self, other: "Interval") -> "Interval":
        """The smallest interval holding both; they must overlap.

        Raises ValueError when the result would have a gap; use `IntervalSet`
        for unions of disjoint intervals.
        """
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        if not self.overlaps(other):
            raise ValueError(f"{self} and {other} are disjoint; use IntervalSet to combine them")
        lower, lower_closed = _looser_lower(self, other)
        upper, upper_closed = _looser_upper(self, other)
        return Interval(lower, upper, lower_closed, upper_closed)

    __or__ = union


def _tighter_lower(a: Interval, b: Interval) -> Bound:
    if a.lower != b.lower:
        return (a.lower, a.lower_closed) if a.lower > b.lower else (b.lower, b.lower_closed)
    return a.lower, a.lower_closed and b.lower_closed


def _tighter_upper(a: Interval, b: Interval) -> Bound:
    if a.upper != b.upper:
        return (a.upper, a.upper_closed) if a.upper < b.upper else (b.upper, b.upper_closed)
    return a.upper, a.upper_closed or b.upper_closed


def _looser_lower(a: Interval, b: Interval) -> Bound:
    if a.lower != b.lower:
        return (a.lower, a.lower_closed) if a.lower < b.lower else (b.lower, b.lower_closed)
    return a.lower, a.lower_closed or b.lower_closed


def _looser_upper(a: Interval, b: Interval) -> Bound:
    if a.upper != b.upper:
        return (a.upper, a.upper_closed) if a.upper > b.upper else (b.upper, b.upper_closed)
    return a.upper, a.upper_closed or b.upper_closed


EMPTY = Interval(0, 0, False, False)


def _format(value: Number) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_NUMBER = r"(?:inf|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
_INTERVAL = re.compile(rf"([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])")


def _number(text: str) -> Number:
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse(text: str) -> Interval:
    """Read an interval written as ``[a, b]``, ``(a, b)``, ``[a, b)`` or ``(a, b]``.

    ``"()"`` is the empty interval.  This is the inverse of ``str(interval)``.
    """
    stripped = text.strip()
    if stripped == "()":
        return EMPTY
    match = _INTERVAL.fullmatch(stripped)
    if match is None:
        raise ValueError(f"not an interval: {text!r}")
    left, lower, upper, right = match.groups()
    return Interval(_number(lower), _number(upper), left == "[", right == "]")
