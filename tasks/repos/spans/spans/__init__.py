"""spans: interval and interval-set arithmetic with open and closed ends."""

from spans.interval import EMPTY, Interval, parse
from spans.intervalset import IntervalSet

__version__ = "1.0.0"

__all__ = ["EMPTY", "Interval", "IntervalSet", "parse"]
