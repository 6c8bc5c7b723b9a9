import pytest

from textkit import slugify


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello, World!", "hello-world"),
        ("  leading and trailing  ", "leading-and-trailing"),
        ("Crème Brûlée", "creme-brulee"),
        ("2nd edition (revised)", "2nd-edition-revised"),
        ("¿¡!?", ""),
    ],
)
def test_slugify(text, expected):
    assert slugify(text) == expected


def test_custom_separator():
    assert slugify("Hello big World", sep="_") == "hello_big_world"


def test_max_length_cuts_long_slugs():
    assert slugify("abcdefghijklmnop", max_length=5) == "abcde"


def test_max_length_longer_than_slug():
    assert slugify("Hello World", max_length=50) == "hello-world"


def test_negative_max_length():
    with pytest.raises(ValueError):
        slugify("x", max_length=-1)
