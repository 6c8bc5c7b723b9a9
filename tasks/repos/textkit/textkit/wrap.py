"""Line wrapping, truncation and indentation for plain text."""

from __future__ import annotations

__all__ = ["dedent", "fill", "indent", "truncate", "wrap"]


def wrap(text: str, width: int = 70, *, break_long_words: bool = True) -> list[str]:
    """Wrap `text` into lines of at most `width` characters.

    Runs of whitespace (newlines included) collapse to single spaces.  A word
    longer than `width` is split across lines unless `break_long_words` is
    false, in which case it gets a line of its own.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    lines: list[str] = []
    current: list[str] = []
    length = 0
    for word in text.split():
        if break_long_words:
            while len(word) > width:
                if current:
                    lines.append(" ".join(current))
                    current, length = [], 0
                lines.append(word[:width])
                word = word[width:]
        needed = len(word) + (1 if current else 0)
        if current and length + needed > width:
            lines.append(" ".join(current))
            current, length = [word], len(word)
        else:
            current.append(word)
            length += needed
    if current:
        lines.append(" ".join(current))
    return lines


def fill(text: str, width: int = 70, *, break_long_words: bool = True) -> str:
    """Like `wrap`, but returns one string with the lines joined by newlines."""
    return "\n".join(wrap(text, width, break_long_words=break_long_words))


def truncate(text: str, width: int, placeholder: str = "...", *, break_words: bool = True) -> str:
    """Shorten `text` to at most `width` characters, ending with `placeholder`.

    Text that already fits is returned unchanged.  With ``break_words=False``
    the cut moves back to the end of the last complete word, so no word is
    shown half-way.
    """
    if len(text) <= width:
        return text
    if len(placeholder) > width:
        raise ValueError(f"placeholder {placeholder!r} is longer than width {width}")
    cut = width - len(placeholder)
    head = text[:cut]
    if not break_words:
        last_space = head.rfind(" ")
        head = head[:last_space] if last_space >= 0 else ""
    return head.rstrip() + placeholder


def indent(text: str, prefix: str, *, skip_blank: bool = True) -> str:
    """Add `prefix` to the start of every line (blank lines too unless `skip_blank`)."""
    out = []
    for line in text.splitlines(keepends=True):
        if skip_blank and not line.strip():
            out.append(line)
        else:
            out.append(prefix + line)
    return "".join(out)


def dedent(text: str) -> str:
    """Remove the whitespace prefix common to all non-blank lines.

    Blank (whitespace-only) lines are normalised to empty lines.  Tabs and
    spaces are not treated as equivalent: only an identical prefix is removed.
    """
    lines = text.splitlines(keepends=True)
    margin: str | None = None
    for line in lines:
        stripped = line.lstrip(" \t")
        if not stripped.strip():
            continue
        lead = line[: len(line) - len(stripped)]
        if margin is None:
            margin = lead
        else:
            common = 0
            for a, b in zip(margin, lead):
                if a != b:
                    break
                common += 1
            margin = margin[:common]
    out = []
    for line in lines:
        if not line.strip():
            out.append(line[len(line.rstrip("\r\n")):])
        else:
            out.append(line[len(margin or ""):])
    return "".join(out)
