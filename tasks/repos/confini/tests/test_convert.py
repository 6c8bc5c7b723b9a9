import pytest

from confini.convert import to_bool, to_float, to_int, to_list


@pytest.mark.parametrize("text", ["1", "yes", "True", " ON "])
def test_true_values(text):
    assert to_bool(text) is True


@pytest.mark.parametrize("text", ["0", "no", "FALSE", "off"])
def test_false_values(text):
    assert to_bool(text) is False


def test_bad_bool():
    with pytest.raises(ValueError):
        to_bool("maybe")


def test_numbers():
    assert to_int(" 42 ") == 42
    assert to_int("1_000") == 1000
    assert to_float("2.5") == 2.5
    with pytest.raises(ValueError):
        to_int("0x10")


def test_to_list():
    assert to_list("a, b,, c ,") == ["a", "b", "c"]
    assert to_list("") == []
    assert to_list("x|y", sep="|") == ["x", "y"]
