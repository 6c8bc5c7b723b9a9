import math

import pytest

from spans import EMPTY, Interval, parse


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[1, 5)", Interval.closedopen(1, 5)),
        ("(0, 10]", Interval.openclosed(0, 10)),
        ("[2.5, 3.75]", Interval.closed(2.5, 3.75)),
        ("( 1 ,2 )", Interval.open(1, 2)),
        ("[1e3, inf)", Interval.closedopen(1000.0, math.inf)),
    ],
)
def test_parse(text, expected):
    assert parse(text) == expected


def test_parse_empty():
    assert parse("()") == EMPTY


def test_parse_ints_stay_ints():
    iv = parse("[1, 2]")
    assert isinstance(iv.lower, int)
    assert isinstance(iv.upper, int)


@pytest.mark.parametrize("text", ["1, 5", "[1; 5]", "[5, 1]", "[a, b]", "[1, 2, 3]"])
def test_parse_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse(text)


@pytest.mark.parametrize(
    "interval",
    [Interval.closed(0, 1), Interval.open(0.5, 7), Interval.closedopen(3, 3.25)],
)
def test_str_round_trip(interval):
    assert parse(str(interval)) == interval
