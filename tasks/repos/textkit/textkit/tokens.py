"""Split and join command lines the way a POSIX shell would (no expansions).

Supported: whitespace separation, single quotes (everything literal), double
quotes (backslash escapes only ``\\``, ``"``, ``$`` and `````), and backslash
escapes outside quotes.  Globs, variables and redirections are left alone.
"""

from __future__ import annotations

import re

__all__ = ["TokenizeError", "join_args", "quote_arg", "split_args"]

_DQUOTE_ESCAPABLE = '\\"$`'
_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


class TokenizeError(ValueError):
    """The command line is malformed (unterminated quote, trailing backslash)."""


def split_args(text: str) -> list[str]:
    """Split a command line into its arguments.

    >>> split_args("cp 'my file.txt' backup/")
    ['cp', 'my file.txt', 'backup/']
    """
    args: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote == "'":
            if ch == "'":
                quote = None
            else:
                current.append(ch)
        elif quote == '"':
            if ch == '"':
                quote = None
            elif ch == "\\" and i + 1 < len(text) and text[i + 1] in _DQUOTE_ESCAPABLE:
                i += 1
                current.append(text[i])
            else:
                current.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            if i + 1 == len(text):
                raise TokenizeError("trailing backslash")
            i += 1
            if text[i] != "\n":  # backslash-newline is a line continuation
                current.append(text[i])
        elif ch.isspace():
            if current:
                args.append("".join(current))
                current = []
        else:
            current.append(ch)
        i += 1
    if quote is not None:
        raise TokenizeError(f"unterminated {quote} quote")
    if current:
        args.append("".join(current))
    return args


def quote_arg(arg: str) -> str:
    """Quote one argument so that `split_args` gives it back unchanged."""
    if _SAFE.fullmatch(arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def join_args(args: list[str]) -> str:
    """The inverse of `split_args`: one command line for a list of arguments."""
    return " ".join(quote_arg(arg) for arg in args)
