"""Turn INI text into a Config."""

from __future__ import annotations

import os
import re

from confini.config import Config
from confini.errors import ParseError

__all__ = ["load", "parse"]

_SECTION = re.compile(r"\[(?P<name>[^\[\]]*)\]")
_OPTION = re.compile(r"(?P<key>[^=:\s][^=:]*?)\s*[=:]\s*(?P<value>.*)")
# An inline comment: "#" or ";" and everything after it.
_INLINE_COMMENT = re.compile(r"[#;].*$")


def _strip_inline_comment(value: str) -> str:
    return _INLINE_COMMENT.sub("", value).rstrip()


def parse(text: str, *, source: str = "<string>") -> Config:
    """Parse INI text; `source` names it in error messages."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last_key: str | None = None
    lineno = 0
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped:
            last_key = None  # a blank line ends a multi-line value
            continue
        if stripped[0] in "#;":
            continue
        lineno += 1

        if raw[0] in " \t":
            if current is None or last_key is None:
                raise ParseError("unexpected indented line", lineno, source)
            current[last_key] += "\n" + _strip_inline_comment(stripped)
            continue

        section = _SECTION.fullmatch(stripped)
        if section is not None:
            name = section.group("name").strip()
            if not name:
                raise ParseError("empty section name", lineno, source)
            if name in sections:
                raise ParseError(f"duplicate section {name!r}", lineno, source)
            current = sections[name] = {}
            last_key = None
            continue

        option = _OPTION.fullmatch(stripped)
        if option is None:
            raise ParseError(f"expected 'key = value' or '[section]', got {stripped!r}", lineno, source)
        if current is None:
            raise ParseError("option before the first section header", lineno, source)
        key = option.group("key").strip().lower()
        if key in current:
            raise ParseError(f"duplicate option {key!r}", lineno, source)
        current[key] = _strip_inline_comment(option.group("value"))
        last_key = key

    return Config({name: {k: v.strip() for k, v in options.items()} for name, options in sections.items()})


def load(path: str | os.PathLike[str], encoding: str = "utf-8") -> Config:
    """Read and parse an INI file."""
    with open(path, encoding=encoding) as handle:
        return parse(handle.read(), source=os.fspath(path))
