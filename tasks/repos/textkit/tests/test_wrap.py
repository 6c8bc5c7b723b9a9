import pytest

from textkit import dedent, fill, indent, truncate, wrap

TEXT = "The quick brown fox jumps over the lazy dog"


def test_wrap_basic():
    assert wrap(TEXT, 15) == ["The quick brown", "fox jumps over", "the lazy dog"]


def test_wrap_collapses_whitespace():
    assert wrap("one   two\n\nthree", 80) == ["one two three"]


def test_wrap_long_word_is_broken():
    assert wrap("abcdefghij kl", 4) == ["abcd", "efgh", "ij", "kl"]


def test_wrap_long_word_kept_whole():
    assert wrap("a abcdefghij b", 4, break_long_words=False) == ["a", "abcdefghij", "b"]


def test_wrap_rejects_zero_width():
    with pytest.raises(ValueError):
        wrap("text", 0)


def test_fill():
    assert fill(TEXT, 20) == "The quick brown fox\njumps over the lazy\ndog"


def test_truncate_short_text_unchanged():
    assert truncate("short", 10) == "short"
    assert truncate("exactly ten", 11) == "exactly ten"


def test_truncate_breaks_words_by_default():
    assert truncate(TEXT, 16) == "The quick bro..."
    assert len(truncate(TEXT, 16)) == 16


def test_truncate_custom_placeholder():
    assert truncate(TEXT, 10, placeholder="~") == "The quick~"


def test_truncate_whole_words():
    assert truncate(TEXT, 16, break_words=False) == "The quick..."


def test_truncate_placeholder_too_long():
    with pytest.raises(ValueError):
        truncate(TEXT, 2)


def test_indent_skips_blank_lines():
    assert indent("a\n\nb\n", "> ") == "> a\n\n> b\n"
    assert indent("a\n\nb", "> ", skip_blank=False) == "> a\n> \n> b"


def test_dedent():
    assert dedent("    def f():\n        return 1\n") == "def f():\n    return 1\n"


def test_dedent_blank_lines_do_not_count():
    assert dedent("  a\n\n    b\n   \n") == "a\n\n  b\n\n"
