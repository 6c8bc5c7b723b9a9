import pytest

import confini
from confini import ParseError, parse

SAMPLE = """\
[server]
host = 0.0.0.0
Port: 8080

[paths]
root = /srv/app
"""


def test_sections_and_options():
    cfg = parse(SAMPLE)
    assert cfg.sections() == ["server", "paths"]
    assert cfg.get("server", "host") == "0.0.0.0"
    assert cfg.get("paths", "root") == "/srv/app"


def test_keys_are_case_insensitive():
    cfg = parse(SAMPLE)
    assert cfg.options("server") == ["host", "port"]
    assert cfg.get("server", "PORT") == "8080"


def test_full_line_comments_and_blank_lines():
    cfg = parse("# header\n[a]\n; note\n\nx = 1\n   # indented comment\n")
    assert cfg.items("a") == [("x", "1")]


def test_inline_comments():
    cfg = parse("[a]\nx = 1   # one\ny = two ; second\n")
    assert cfg.get("a", "x") == "1"
    assert cfg.get("a", "y") == "two"


def test_empty_value():
    cfg = parse("[a]\nx =\n")
    assert cfg.get("a", "x") == ""


def test_multiline_value():
    cfg = parse("[a]\ndescription = first line\n    second line\n\tthird line\nnext = 1\n")
    assert cfg.get("a", "description") == "first line\nsecond line\nthird line"
    assert cfg.get("a", "next") == "1"


def test_blank_line_ends_multiline_value():
    with pytest.raises(ParseError):
        parse("[a]\nx = 1\n\n    stray\n")


def test_option_before_section():
    with pytest.raises(ParseError, match="before the first section"):
        parse("x = 1\n[a]\n")


def test_duplicate_option():
    with pytest.raises(ParseError, match="duplicate option 'x'") as info:
        parse("[a]\nx = 1\nX = 2\n")
    assert info.value.lineno == 3


def test_duplicate_section():
    with pytest.raises(ParseError, match="duplicate section"):
        parse("[a]\n[b]\n[a]\n")


def test_garbage_line():
    with pytest.raises(ParseError, match="expected 'key = value'") as info:
        parse("[a]\nthis is not an option\n")
    assert info.value.lineno == 2
    assert str(info.value).startswith("<string>, line 2:")


def test_load(tmp_path):
    path = tmp_path / "app.ini"
    path.write_text(SAMPLE, encoding="utf-8")
    cfg = confini.load(path)
    assert cfg.getint("server", "port") == 8080


def test_load_error_names_the_file(tmp_path):
    path = tmp_path / "bad.ini"
    path.write_text("[a\n", encoding="utf-8")
    with pytest.raises(ParseError) as info:
        confini.load(path)
    assert info.value.source == str(path)
