import pytest

from textkit import TokenizeError, join_args, quote_arg, split_args


@pytest.mark.parametrize(
    "line, expected",
    [
        ("ls -la /tmp", ["ls", "-la", "/tmp"]),
        ("cp 'my file.txt' backup/", ["cp", "my file.txt", "backup/"]),
        ('echo "say \\"hi\\""', ["echo", 'say "hi"']),
        ("echo 'a'\"b\"c", ["echo", "abc"]),
        ("a\\ b c", ["a b", "c"]),
        ("  spaced    out  ", ["spaced", "out"]),
    ],
)
def test_split_args(line, expected):
    assert split_args(line) == expected


def test_single_quotes_keep_backslashes():
    assert split_args("echo 'C:\\temp'") == ["echo", "C:\\temp"]


def test_line_continuation():
    assert split_args("make \\\nall") == ["make", "all"]


@pytest.mark.parametrize("line", ["echo 'oops", 'echo "oops', "echo oops\\"])
def test_malformed(line):
    with pytest.raises(TokenizeError):
        split_args(line)


def test_quote_arg():
    assert quote_arg("plain") == "plain"
    assert quote_arg("two words") == "'two words'"
    assert quote_arg("it's") == "'it'\"'\"'s'"


@pytest.mark.parametrize(
    "args",
    [
        ["grep", "-n", "two words", "file.txt"],
        ["echo", "it's", '"quoted"'],
        ["printf", "%s\\n", "$HOME"],
    ],
)
def test_join_round_trip(args):
    assert split_args(join_args(args)) == args
