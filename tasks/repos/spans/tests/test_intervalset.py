import pytest

from spans import EMPTY, Interval, IntervalSet


class TestIntervalSet:
    def test_empty_set(self):
        s = IntervalSet()
        assert len(s) == 0
        assert not s
        assert str(s) == "{}"
        assert s.hull() == EMPTY

    def test_sorted_and_merged(self):
        s = IntervalSet([Interval.closed(5, 8), Interval.closed(0, 2), Interval.closedopen(1, 3)])
        assert list(s) == [Interval.closedopen(0, 3), Interval.closed(5, 8)]
        assert str(s) == "{[0, 3), [5, 8]}"

    def test_empty_intervals_are_dropped(self):
        s = IntervalSet([Interval(4, 4), Interval.closed(0, 1)])
        assert list(s) == [Interval.closed(0, 1)]

    def test_gap_is_kept(self):
        s = IntervalSet([Interval.closed(0, 1), Interval.closed(2, 3)])
        assert len(s) == 2
        assert 1.5 not in s
        assert 2.5 in s

    def test_total_length_and_hull(self):
        s = IntervalSet([Interval.closed(0, 1), Interval.open(2, 4)])
        assert s.total_length == 3
        assert s.hull() == Interval.closedopen(0, 4)

    def test_union(self):
        a = IntervalSet([Interval.closed(0, 2)])
        b = IntervalSet([Interval.closed(1, 3), Interval.closed(10, 11)])
        assert a | b == IntervalSet([Interval.closed(0, 3), Interval.closed(10, 11)])

    def test_intersection(self):
        a = IntervalSet([Interval.closed(0, 10)])
        b = IntervalSet([Interval.closedopen(2, 3), Interval.openclosed(8, 12)])
        assert a & b == IntervalSet([Interval.closedopen(2, 3), Interval.openclosed(8, 10)])

    def test_difference_splits(self):
        s = IntervalSet([Interval.closedopen(0, 10)]) - IntervalSet([Interval.closed(2, 3)])
        assert str(s) == "{[0, 2), (3, 10)}"

    def test_difference_removes_everything(self):
        s = IntervalSet([Interval.closed(2, 3)]) - IntervalSet([Interval.closed(0, 10)])
        assert s == IntervalSet()

    def test_equality_and_hash(self):
        a = IntervalSet([Interval.closed(0, 1), Interval.closed(0.5, 2)])
        b = IntervalSet([Interval.closed(0, 2)])
        assert a == b
        assert hash(a) == hash(b)


def test_difference_keeps_shared_closed_end_point():
    s = IntervalSet([Interval.closed(0, 5)]) - IntervalSet([Interval.open(0, 5)])
    assert list(s) == [Interval.point(0), Interval.point(5)]


@pytest.mark.parametrize("value, expected", [(0, True), (1, False), (2, True), (3, False)])
def test_membership(value, expected):
    s = IntervalSet([Interval.closedopen(0, 1), Interval.closed(2, 2)])
    assert (value in s) is expected
