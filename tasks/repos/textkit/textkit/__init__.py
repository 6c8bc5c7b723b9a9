"""textkit: small, dependency-free helpers for everyday text munging."""

from textkit.case import (
    camel_case,
    constant_case,
    kebab_case,
    pascal_case,
    snake_case,
    split_identifier,
)
from textkit.slug import slugify
from textkit.tokens import TokenizeError, join_args, quote_arg, split_args
from textkit.wrap import dedent, fill, indent, truncate, wrap

__version__ = "1.0.0"

__all__ = [
    "TokenizeError",
    "camel_case",
    "constant_case",
    "dedent",
    "fill",
    "indent",
    "join_args",
    "kebab_case",
    "pascal_case",
    "quote_arg",
    "slugify",
    "snake_case",
    "split_args",
    "split_identifier",
    "truncate",
    "wrap",
]
