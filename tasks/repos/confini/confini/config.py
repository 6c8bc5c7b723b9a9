"""The parsed configuration: sections of options, with typed getters."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator, Mapping, TypeVar

from confini import convert
from confini.errors import ConversionError, InterpolationError, MissingError

__all__ = ["DEFAULT", "Config"]

DEFAULT = "DEFAULT"
MAX_INTERPOLATION_DEPTH = 10

# "$$", "${key}" or "${section:key}"
_REFERENCE = re.compile(r"\$(?:\$|\{(?P<first>[^{}:]+)(?::(?P<second>[^{}:]+))?\})")

_MISSING: Any = object()
T = TypeVar("T")


class Config:
    """Sections (in file order) mapping lower-case keys to raw string values."""

    def __init__(self, sections: Mapping[str, Mapping[str, str]] | None = None):
        self._sections: dict[str, dict[str, str]] = {}
        for name, options in (sections or {}).items():
            self.add_section(name)
            for key, value in options.items():
                self.set(name, key, value)

    # -- structure ----------------------------------------------------------

    def sections(self) -> list[str]:
        """Section names in file order, without DEFAULT."""
        return [name for name in self._sections if name != DEFAULT]

    def has_section(self, section: str) -> bool:
        return section in self._sections

    def add_section(self, section: str) -> None:
        self._sections.setdefault(section, {})

    def options(self, section: str) -> list[str]:
        """The keys visible in `section`: its own, then DEFAULT's."""
        own = self._section(section)
        defaults = self._sections.get(DEFAULT, {}) if section != DEFAULT else {}
        return list(own) + [key for key in defaults if key not in own]

    def has_option(self, section: str, key: str) -> bool:
        try:
            self._raw(section, key)
        except MissingError:
            return False
        return True

    def set(self, section: str, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"option values must be strings, got {type(value).__name__}")
        self._sections.setdefault(section, {})[key.strip().lower()] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self.sections())

    def __contains__(self, section: object) -> bool:
        return section in self._sections

    # -- values -------------------------------------------------------------

    def get(self, section: str, key: str, default: Any = _MISSING, *, raw: bool = False) -> Any:
        """The value of `key` in `section` (or DEFAULT), with references expanded.

        Returns `default` when given and the option is missing; otherwise a
        missing section or option raises MissingError.
        """
        try:
            value = self._raw(section, key)
        except MissingError:
            if default is _MISSING:
                raise
            return default
        return value if raw else self._interpolate(section, value, 0)

    def getint(self, section: str, key: str, default: Any = _MISSING) -> Any:
        return self._typed(section, key, default, convert.to_int, "integer")

    def getfloat(self, section: str, key: str, default: Any = _MISSING) -> Any:
        return self._typed(section, key, default, convert.to_float, "number")

    def getbool(self, section: str, key: str, default: Any = _MISSING) -> Any:
        return self._typed(section, key, default, convert.to_bool, "boolean")

    def getlist(self, section: str, key: str, default: Any = _MISSING) -> Any:
        return self._typed(section, key, default, convert.to_list, "list")

    def items(self, section: str) -> list[tuple[str, str]]:
        return [(key, self.get(section, key)) for key in self.options(section)]

    def to_dict(self) -> dict[str, dict[str, str]]:
        """Every section (DEFAULT merged in) with expanded values."""
        return {name: dict(self.items(name)) for name in self.sections()}

    def dumps(self) -> str:
        """INI text that `confini.parse` reads back into an equal configuration."""
        lines: list[str] = []
        for name, options in self._sections.items():
            if lines:
                lines.append("")
            lines.append(f"[{name}]")
            for key, value in options.items():
                first, *rest = value.split("\n")
                lines.append(f"{key} = {first}".rstrip())
                lines.extend(f"    {line}" for line in rest)
        return "\n".join(lines) + "\n"

    # -- internals ----------------------------------------------------------

    def _section(self, section: str) -> dict[str, str]:
        try:
            return self._sections[section]
        except KeyError:
            raise MissingError(f"no section {section!r}") from None

    def _raw(self, section: str, key: str) -> str:
        options = self._section(section)
        key = key.strip().lower()
        if key in options:
            return options[key]
        defaults = self._sections.get(DEFAULT, {})
        if key in defaults:
            return defaults[key]
        raise MissingError(f"no option {key!r} in section {section!r}")

    def _interpolate(self, section: str, value: str, depth: int) -> str:
        def expand(match: re.Match) -> str:
            if match.group(0) == "$$":
                return "$"
            if match.group("second") is None:
                ref_section, ref_key = section, match.group("first")
            else:
                ref_section, ref_key = match.group("first"), match.group("second")
            try:
                return self._raw(ref_section.strip(), ref_key)
            except MissingError as exc:
                raise InterpolationError(f"cannot expand {match.group(0)} in section {section!r}: {exc}") from None

        return _REFERENCE.sub(expand, value)

    def _typed(self, section: str, key: str, default: Any, func: Callable[[str], T], kind: str) -> Any:
        try:
            value = self.get(section, key)
        except MissingError:
            if default is _MISSING:
                raise
            return default
        try:
            return func(value)
        except ValueError:
            raise ConversionError(f"[{section}] {key} = {value!r} is not a valid {kind}") from None
