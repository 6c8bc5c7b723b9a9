import math

import pytest

from spans import EMPTY, Interval


def test_default_is_half_open():
    iv = Interval(1, 5)
    assert (iv.lower_closed, iv.upper_closed) == (True, False)
    assert str(iv) == "[1, 5)"


def test_rejects_reversed_bounds():
    with pytest.raises(ValueError):
        Interval(5, 1)


def test_rejects_nan():
    with pytest.raises(ValueError):
        Interval(math.nan, 1)


def test_immutable():
    iv = Interval.closed(0, 1)
    with pytest.raises(AttributeError):
        iv.lower = 3


def test_membership():
    iv = Interval.closedopen(0, 10)
    assert 0 in iv
    assert 9.999 in iv
    assert 10 not in iv
    assert -1 not in iv


def test_empty_and_point():
    assert Interval(3, 3).is_empty
    assert Interval.open(3, 3) == EMPTY
    assert not Interval.point(3).is_empty
    assert Interval.point(3).length == 0
    assert 3 in Interval.point(3)


def test_all_empty_intervals_are_equal():
    assert Interval(1, 1) == Interval.open(7, 7)
    assert hash(Interval(1, 1)) == hash(EMPTY)


def test_length():
    assert Interval.closed(1.5, 4).length == 2.5
    assert EMPTY.length == 0


def test_str():
    assert str(Interval.open(0, 1.5)) == "(0, 1.5)"
    assert str(Interval.openclosed(2.0, 3.0)) == "(2, 3]"
    assert str(EMPTY) == "()"


def test_intersection():
    a = Interval.closedopen(0, 10)
    b = Interval.openclosed(5, 20)
    assert a & b == Interval.open(5, 10)
    assert b & a == Interval.open(5, 10)


def test_intersection_of_disjoint_intervals_is_empty():
    assert Interval.closed(0, 1) & Interval.closed(2, 3) == EMPTY
    assert Interval.closedopen(0, 1) & Interval.closed(1, 3) == EMPTY


def test_intersection_same_lower_bound():
    assert Interval.closed(0, 4) & Interval.openclosed(0, 2) == Interval.openclosed(0, 2)


def test_intersection_touching_closed_ends():
    assert Interval.closed(0, 1) & Interval.closed(1, 2) == Interval.point(1)


def test_overlaps():
    assert Interval.closed(0, 5).overlaps(Interval.closed(5, 9))
    assert not Interval.closedopen(0, 5).overlaps(Interval.closed(5, 9))


def test_issubset():
    assert Interval.closed(2, 3).issubset(Interval.closedopen(0, 10))
    assert not Interval.closed(2, 11).issubset(Interval.closedopen(0, 10))


def test_union_of_overlapping_intervals():
    assert Interval.closed(0, 5) | Interval.closedopen(3, 8) == Interval.closedopen(0, 8)
    assert Interval.closed(0, 5) | EMPTY == Interval.closed(0, 5)


def test_union_of_disjoint_intervals_raises():
    with pytest.raises(ValueError):
        Interval.closed(0, 1) | Interval.closed(2, 3)
