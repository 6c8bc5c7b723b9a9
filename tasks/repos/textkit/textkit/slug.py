"""URL- and filename-safe slugs."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["slugify"]

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str, sep: str = "-", *, max_length: int | None = None) -> str:
    """Lower-case ASCII slug of `text`, words joined by `sep`.

    Accented letters lose their accents (``"é"`` -> ``"e"``); other characters
    without an ASCII equivalent are dropped.  With `max_length` the slug is cut
    to at most that many characters.

    >>> slugify("Hello, World!")
    'hello-world'
    """
    if max_length is not None and max_length < 0:
        raise ValueError(f"max_length must not be negative, got {max_length}")
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_ALNUM.sub(lambda _match: sep, ascii_text).strip(sep)
    if max_length is not None and len(slug) > max_length:
        slug = slug[:max_length]
    return slug
