"""Exceptions raised by confini; all derive from ConfigError."""

from __future__ import annotations


class ConfigError(Exception):
    """Base class of every confini error."""


class ParseError(ConfigError):
    """The text is not valid configuration syntax."""

    def __init__(self, message: str, lineno: int, source: str = "<string>"):
        super().__init__(f"{source}, line {lineno}: {message}")
        self.message = message
        self.lineno = lineno
        self.source = source


class MissingError(ConfigError, LookupError):
    """A section or an option does not exist."""


class InterpolationError(ConfigError):
    """A ``${...}`` reference cannot be resolved."""


class ConversionError(ConfigError, ValueError):
    """A value cannot be converted to the requested type."""
