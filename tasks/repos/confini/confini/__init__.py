"""confini: a small INI-style configuration parser."""

from confini.config import DEFAULT, Config
from confini.errors import ConfigError, ConversionError, InterpolationError, MissingError, ParseError
from confini.parser import load, parse

__version__ = "1.0.0"

__all__ = [
    "DEFAULT",
    "Config",
    "ConfigError",
    "ConversionError",
    "InterpolationError",
    "MissingError",
    "ParseError",
    "load",
    "parse",
]
