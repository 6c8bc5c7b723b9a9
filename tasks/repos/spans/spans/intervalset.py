"""Finite unions of intervals, kept sorted, disjoint and free of empty parts."""

from __future__ import annotations

from typing import Iterable, Iterator

from spans.interval import EMPTY, Interval, Number

__all__ = ["IntervalSet"]


def _normalize(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    items = sorted((iv for iv in intervals if not iv.is_empty), key=Interval.sort_key)
    merged: list[Interval] = []
    for interval in items:
        if merged and merged[-1].overlaps(interval):
            merged[-1] = merged[-1].union(interval)
        else:
            merged.append(interval)
    return tuple(merged)


def _subtract(a: Interval, b: Interval) -> list[Interval]:
    """`a` minus `b`: zero, one or two intervals."""
    if not a.overlaps(b):
        return [a]
    pieces = []
    if b.lower >= a.lower:
        left = Interval(a.lower, b.lower, a.lower_closed, not b.lower_closed)
        if not left.is_empty:
            pieces.append(left)
    if b.upper <= a.upper:
        right = Interval(b.upper, a.upper, not b.upper_closed, a.upper_closed)
        if not right.is_empty:
            pieces.append(right)
    return pieces


class IntervalSet:
    """An immutable set of numbers made of disjoint intervals."""

    __slots__ = ("_intervals",)

    def __init__(self, intervals: Iterable[Interval] = ()):
        self._intervals = _normalize(intervals)

    def __iter__(self) -> Iterator[Interval]:
        return iter(self._intervals)

    def __len__(self) -> int:
        """The number of disjoint intervals (not the number of elements)."""
        return len(self._intervals)

    def __bool__(self) -> bool:
        return bool(self._intervals)

    def __contains__(self, value: Number) -> bool:
        return any(value in interval for interval in self._intervals)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self._intervals == other._intervals

    def __hash__(self) -> int:
        return hash(self._intervals)

    def __repr__(self) -> str:
        return f"IntervalSet({list(self._intervals)!r})"

    def __str__(self) -> str:
        return "{" + ", ".join(str(iv) for iv in self._intervals) + "}"

    @property
    def total_length(self) -> Number:
        return sum(iv.length for iv in self._intervals)

    def hull(self) -> Interval:
        """The smallest single interval covering the whole set."""
        if not self._intervals:
            return EMPTY
        first, last = self._intervals[0], self._intervals[-1]
        return Interval(first.lower, last.upper, first.lower_closed, last.upper_closed)

    def union(self, other: "IntervalSet") -> "IntervalSet":
        return IntervalSet(self._intervals + other._intervals)

    def intersection(self, other: "IntervalSet") -> "IntervalSet":
        return IntervalSet(a & b for a in self._intervals for b in other._intervals)

    def difference(self, other: "IntervalSet") -> "IntervalSet":
        pieces = list(self._intervals)
        for b in other._intervals:
            pieces = [piece for a in pieces for piece in _subtract(a, b)]
        return IntervalSet(pieces)

    __or__ = union
    __and__ = intersection
    __sub__ = difference
