"""Convert identifiers between naming conventions.

Every converter first splits its input into words with `split_identifier`, so
they all accept any style: ``"parse_json"``, ``"parseJson"``, ``"Parse JSON"``
and ``"parse-json"`` are the same two words.  Only ASCII letters and digits
form words; anything else separates them.
"""

from __future__ import annotations

import re

# Runs of characters that never belong to a word.
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")

# One word inside a separator-free chunk such as "parseJson2Value":
# a capitalised or lower-case word, a run of capitals, or a run of digits.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def split_identifier(text: str) -> list[str]:
    """Split an identifier or phrase into its words, keeping their case.

    >>> split_identifier("parseJson2Value")
    ['parse', 'Json', '2', 'Value']
    """
    words: list[str] = []
    for chunk in _SEPARATORS.split(text):
        words.extend(_WORD.findall(chunk))
    return words


def _capitalize(word: str) -> str:
    return word[:1].upper() + word[1:].lower()


def snake_case(text: str) -> str:
    """``"parseJsonValue"`` -> ``"parse_json_value"``."""
    return "_".join(word.lower() for word in split_identifier(text))


def kebab_case(text: str) -> str:
    """``"parseJsonValue"`` -> ``"parse-json-value"``."""
    return "-".join(word.lower() for word in split_identifier(text))


def constant_case(text: str) -> str:
    """``"parseJsonValue"`` -> ``"PARSE_JSON_VALUE"``."""
    return "_".join(word.upper() for word in split_identifier(text))


def pascal_case(text: str) -> str:
    """``"parse_json_value"`` -> ``"ParseJsonValue"``."""
    return "".join(_capitalize(word) for word in split_identifier(text))


def camel_case(text: str) -> str:
    """``"parse_json_value"`` -> ``"parseJsonValue"``."""
    words = split_identifier(text)
    if not words:
        return ""
    return words[0].lower() + "".join(_capitalize(word) for word in words[1:])
