"""Turn a test run's log into {test id: status}.

Statuses are the words pytest prints: PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS.
Parsers are registered by name in LOG_PARSERS (the name an EnvSpec's `log_parser`
holds); other test runners (Django, sympy) add their own entries.
"""

from __future__ import annotations

import re
from typing import Callable

from evalharness.errors import UserError

PASSED = "PASSED"
FAILED = "FAILED"
ERROR = "ERROR"
SKIPPED = "SKIPPED"
XFAIL = "XFAIL"
XPASS = "XPASS"
STATUSES = (PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS)

LogParser = Callable[[str], dict[str, str]]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# A pytest section header: "==== title ====" (the final stats line has this shape too).
_HEADER = re.compile(r"^=+ (?P<title>.*?) =+$")
_STATUS_ALT = "|".join(STATUSES)
# Short test summary line: "FAILED tests/a.py::test_y - assert 1 == 2".
_SUMMARY = re.compile(rf"^(?P<status>{_STATUS_ALT}) (?P<rest>\S.*)$")
# Verbose (-v) progress line: "tests/a.py::test_x PASSED   [ 10%]",
# "tests/a.py::test_s SKIPPED (reason)  [ 50%]". The id must be "path::name" with no
# space before the "[" of its parameters, so a printed sentence or a warning such as
# "x.py:3: UserWarning: value PASSED" is not taken for a result.
_VERBOSE = re.compile(
    rf"^(?P<id>[^\s\[]+?::[^\s\[]+(?:\[.*\])?) (?P<status>{_STATUS_ALT})"
    r"(?: \(.*\))?(?:\s+\[\s*\d+(?:%|/\d+)\])?\s*$"
)
# pytest-xdist verbose line: "[gw0] [ 10%] PASSED tests/a.py::test_x".
_XDIST = re.compile(rf"^\[gw\d+\] \[\s*\d+%\] (?P<status>{_STATUS_ALT}) (?P<id>\S.*?)\s*$")
_WHEN_PREFIX = re.compile(r"^at (?:setup|call|teardown) of ")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def parse_pytest(log: str) -> dict[str, str]:
    """Statuses from pytest output run with `-rA` (and optionally `-v`).

    Only two kinds of line are trusted, so that text a test prints (shown in the
    FAILURES/PASSES sections) cannot create or change results:
      * lines of a "short test summary info" section;
      * verbose status lines (`id STATUS [ NN%]`) in the "test session starts" section.
    A log with no pytest section header at all (a bare excerpt) is read whole.
    When an id appears more than once, the later status wins (a test that passed and
    then errored in teardown ends up ERROR). Skips are only known from verbose lines or
    an unfolded summary: the folded `SKIPPED [n] file:line: reason` lines carry no id.
    """
    lines = [strip_ansi(line).rstrip() for line in log.splitlines()]
    has_headers = any(_HEADER.match(line) for line in lines)
    region = "any" if not has_headers else "preamble"
    statuses: dict[str, str] = {}
    for line in lines:
        header = _HEADER.match(line)
        if header:
            title = header.group("title").strip().lower()
            if "test session starts" in title:
                region = "progress"
            elif title == "short test summary info":
                region = "summary"
            else:  # FAILURES, ERRORS, PASSES, warnings summary, final stats line, ...
                region = "other"
            continue
        if region in ("summary", "any"):
            parsed = _parse_summary_line(line)
            if parsed:
                statuses[parsed[0]] = parsed[1]
                continue
        if region in ("progress", "any"):
            parsed = _parse_verbose_line(line)
            if parsed:
                statuses[parsed[0]] = parsed[1]
    return statuses


def _parse_summary_line(line: str) -> tuple[str, str] | None:
    match = _SUMMARY.match(line)
    if not match:
        return None
    status, rest = match.group("status"), match.group("rest")
    if status == SKIPPED and rest.startswith("["):
        return None  # folded skip "SKIPPED [1] tests/a.py:12: reason": no test id
    if status in (XFAIL, ERROR):
        rest = _WHEN_PREFIX.sub("", rest)  # "XFAIL at setup of tests/a.py::t - why"
    test_id = _summary_test_id(rest, status)
    return (test_id, status) if test_id else None


def _summary_test_id(rest: str, status: str) -> str:
    """The id at the start of `rest`, which may go on with " - message".

    A parametrized id may hold spaces, brackets and even " - " inside its brackets
    (`test_f[a - b] - assert ...`), so for an id whose "[" comes before any space the
    id runs to the first "]" that ends the text or is followed by whitespace.
    """
    bracket = rest.find("[")
    space = _first_space(rest)
    if bracket != -1 and (space == -1 or bracket < space):
        end = rest.find("]", bracket)
        while end != -1:
            if end + 1 == len(rest) or rest[end + 1].isspace():
                return rest[: end + 1]
            end = rest.find("]", end + 1)
    dash = rest.find(" - ")
    if dash != -1:
        return rest[:dash].strip()
    if status == XPASS and space != -1:
        return rest[:space]  # pytest < 8: "XPASS tests/a.py::t reason", no " - "
    return rest.strip()


def _first_space(text: str) -> int:
    for i, char in enumerate(text):
        if char.isspace():
            return i
    return -1


def _parse_verbose_line(line: str) -> tuple[str, str] | None:
    match = _VERBOSE.match(line) or _XDIST.match(line)
    if not match:
        return None
    return match.group("id"), match.group("status")


LOG_PARSERS: dict[str, LogParser] = {
    "pytest": parse_pytest,
}


def get_log_parser(name: str) -> LogParser:
    try:
        return LOG_PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(LOG_PARSERS))
        raise UserError(f"unknown log parser {name!r}; known: {known}") from None
