import pytest

from textkit import camel_case, constant_case, kebab_case, pascal_case, snake_case, split_identifier


@pytest.mark.parametrize(
    "text, expected",
    [
        ("parseJsonValue", ["parse", "Json", "Value"]),
        ("parse_json_value", ["parse", "json", "value"]),
        ("  Parse JSON--value ", ["Parse", "JSON", "value"]),
        ("version2Update", ["version", "2", "Update"]),
        ("", []),
    ],
)
def test_split_identifier(text, expected):
    assert split_identifier(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("parseJsonValue", "parse_json_value"),
        ("ParseJsonValue", "parse_json_value"),
        ("parse-json value", "parse_json_value"),
        ("getURL", "get_url"),
        ("HTTP", "http"),
        ("already_snake", "already_snake"),
    ],
)
def test_snake_case(text, expected):
    assert snake_case(text) == expected


def test_kebab_case():
    assert kebab_case("parseJsonValue") == "parse-json-value"


def test_constant_case():
    assert constant_case("maxRetryCount") == "MAX_RETRY_COUNT"


def test_pascal_case():
    assert pascal_case("parse_json_value") == "ParseJsonValue"
    assert pascal_case("api version") == "ApiVersion"


def test_camel_case():
    assert camel_case("Parse_JSON_value") == "parseJsonValue"
    assert camel_case("") == ""


def test_round_trip_between_styles():
    name = "retry_count_limit"
    assert snake_case(camel_case(name)) == name
    assert snake_case(pascal_case(name)) == name
    assert snake_case(kebab_case(name)) == name
