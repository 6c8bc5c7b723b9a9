"""Converters from option strings to Python values."""

from __future__ import annotations

__all__ = ["to_bool", "to_float", "to_int", "to_list"]

_TRUE = frozenset({"1", "yes", "true", "on"})
_FALSE = frozenset({"0", "no", "false", "off"})


def to_bool(text: str) -> bool:
    """``yes/no``, ``true/false``, ``on/off`` or ``1/0``, in any case."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def to_int(text: str) -> int:
    """A decimal integer; ``_`` may group digits (``1_000``)."""
    return int(text.strip(), 10)


def to_float(text: str) -> float:
    return float(text.strip())


def to_list(text: str, sep: str = ",") -> list[str]:
    """Split a list value into its items, stripped; empty items are dropped.

    >>> to_list("a, b,, c")
    ['a', 'b', 'c']
    """
    return [item.strip() for item in text.split(sep) if item.strip()]
