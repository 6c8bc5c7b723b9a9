"""A Qwen3-Coder XML parameter's text as a JSON value, by the tool's JSON schema.

XML carries every value as text; vLLM's `qwen3_coder` parser types it from the schema, and
this is the same conversion rule for rule, so text mode hands the tools what a server with
the parser would (see qwen_xml's docstring for where newer vLLM and SGLang differ).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

_STRING_TYPES = ("string", "str", "text", "varchar", "char", "enum")
_INTEGER_PREFIXES = ("int", "uint", "long", "short", "unsigned")
_BOOLEAN_TYPES = ("boolean", "bool", "binary")


def convert_value(value: str, name: str, schemas: Mapping[str, Any]) -> Any:
    """A parameter's text converted by its JSON-schema type, exactly as vLLM converts it."""
    if value.lower() == "null":
        return None
    if name not in schemas:
        return value
    schema = schemas[name]
    has_type = isinstance(schema, Mapping) and "type" in schema
    kind = str(schema["type"]).strip().lower() if has_type else "string"
    if kind in _STRING_TYPES:
        return value
    if kind.startswith(_INTEGER_PREFIXES):
        try:
            return int(value)
        except (ValueError, TypeError):
            return value
    if kind.startswith(("num", "float")):
        try:
            number = float(value)
            return number if number - int(number) != 0 else int(number)
        except (ValueError, TypeError, OverflowError):
            return value
    if kind in _BOOLEAN_TYPES:
        return value.lower() == "true"
    if kind in ("object", "array", "arr") or kind.startswith(("dict", "list")):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, TypeError, ValueError):
            pass
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value
    # A set, bytes or complex literal has no JSON form (vLLM then loses the whole reply).
    return parsed if _json_safe(parsed) else value


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return True
