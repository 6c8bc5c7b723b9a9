"""Turn a test run's log into {test id: status}.

Statuses are the words pytest prints: PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS.
Parsers are registered by name in LOG_PARSERS: the short names an EnvSpec's
`log_parser` holds ("pytest", "django", "sympy", ...) and the names SWE-bench's
datasets carry in their `log_parser` column ("parse_log_django", ...).

Each parser produces the test ids the datasets' FAIL_TO_PASS / PASS_TO_PASS lists
use, per runner:

* pytest and its users (astropy, flask, pylint, pytest, requests, scikit-learn,
  seaborn, sphinx via tox, xarray): "path::Class::test[params]";
* Django's runner: "test_name (module.Class)" ("test_name (module.Class.test_name)"
  on Python 3.11+), or the first line of the test's docstring when it has one;
* sympy's bin/test: the bare function name, "test_name".

Only lines the runner itself writes are trusted, so text a test prints cannot
create or change a result (see each parser). Grading lives in grading.py.

Parsing time is linear in the log's size whatever the tests print (binary, lines of
megabytes, `a::a::a::...`): the patterns that could backtrack are only tried on lines
of at most `MAX_PATTERN_LINE` characters, or on the last that many of a longer one.
"""

from __future__ import annotations

import re
from typing import Callable

from evalharness.core.errors import UserError

PASSED = "PASSED"
FAILED = "FAILED"
ERROR = "ERROR"
SKIPPED = "SKIPPED"
XFAIL = "XFAIL"
XPASS = "XPASS"
STATUSES = (PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS)

LogParser = Callable[[str], dict[str, str]]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# Longer lines are no status line of any runner (the longest test id in SWE-bench Verified
# has 374 characters); the backtracking patterns see at most this many characters of one.
MAX_PATTERN_LINE = 2048

# ---- pytest ----------------------------------------------------------------------------

# A pytest section header: "==== title ====" (the final stats line has this shape too).
_HEADER = re.compile(r"^=+ (?P<title>.*?) =+$")
_STATUS_ALT = "|".join(STATUSES)
# pytest < 4 wrote "FAIL" and "SKIP" in its short summary, and "xfail" in verbose lines.
_OLD_WORDS = {"FAIL": FAILED, "SKIP": SKIPPED, "xfail": XFAIL}
_VERBOSE_ALT = _STATUS_ALT + "|xfail"
# Short test summary line: "FAILED tests/a.py::test_y - assert 1 == 2".
_SUMMARY = re.compile(rf"^(?P<status>{_STATUS_ALT}|FAIL|SKIP) (?P<rest>\S.*)$")
# Verbose (-v) progress line: "tests/a.py::test_x PASSED   [ 10%]",
# "tests/a.py::test_s SKIPPED (reason)  [ 50%]". The id must be "path::name" with no
# space before the "[" of its parameters, so a printed sentence or a warning such as
# "x.py:3: UserWarning: value PASSED" is not taken for a result.
_VERBOSE = re.compile(  # the lookahead and `++` keep "a::a::a::..." from backtracking
    rf"^(?P<id>(?=[^\s\[]+?::[^\s\[])[^\s\[]++(?:\[.*\])?) (?P<status>{_VERBOSE_ALT})"
    r"(?: \(.*\))?(?:\s+\[\s*\d+(?:%|/\d+)\])?\s*$"
)
# A verbose status whose test id was written on an earlier line, because output the
# test wrote to the terminal came in between: "PASSED   [ 50%]".
_BARE_STATUS = re.compile(rf"^(?P<status>{_VERBOSE_ALT})(?: \(.*\))?(?:\s+\[\s*\d+(?:%|/\d+)\])?\s*$")
# pytest-xdist verbose line: "[gw0] [ 10%] PASSED tests/a.py::test_x".
_XDIST = re.compile(rf"^\[gw\d+\] \[\s*\d+%\] (?P<status>{_STATUS_ALT}) (?P<id>\S.*)$")  # on rstripped lines
_WHEN_PREFIX = re.compile(r"^at (?:setup|call|teardown) of ")
# "PASSED [100%]": a status word followed by a bracketed token that is no test id.
_ARTIFACT = re.compile(rf"^(?P<status>{_STATUS_ALT})\s+(?P<token>\[[^\s:]*)")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _lines(log: str) -> list[str]:
    """The log's lines, colour codes removed (no code spans a newline), trailing spaces stripped."""
    return [line.rstrip() for line in strip_ansi(log).splitlines()]


# What a line the pytest parser uses can start with, when it holds no "::".
_PYTEST_LINE_STARTS = ("=", *STATUSES, "FAIL", "SKIP", "xfail", "[gw")


def parse_pytest(log: str) -> dict[str, str]:
    """Statuses from pytest output run with `-rA` (and optionally `-v`).

    Only two kinds of line are trusted, so that text a test prints (shown in the
    FAILURES/PASSES sections) cannot create or change results:
      * lines of a "short test summary info" section;
      * verbose status lines (`id STATUS [ NN%]`) in the "test session starts" section,
        also when output the test wrote to the terminal splits the id from its status.
    A log with no pytest section header at all (a bare excerpt) is read whole.
    When an id appears more than once, the later status wins (a test that passed and
    then errored in teardown ends up ERROR). Skips are only known from verbose lines or
    an unfolded summary: the folded `SKIPPED [n] file:line: reason` lines carry no id.

    One quirk is kept for parity with SWE-bench, whose parser reads every line that
    starts with a status word: in pytest's own test suite, inner runs print lines like
    "PASSED [100%]", and the dataset's PASS_TO_PASS lists hold "[100%]" as a test
    (pytest-dev__pytest-5262, -7521). Such bracketed tokens are recorded when no
    trusted line names them; they can never stand for a real test id (no "::").
    """
    lines = _lines(log)
    has_headers = any(line.startswith("=") and _HEADER.match(line) for line in lines)
    region = "any" if not has_headers else "preamble"
    statuses: dict[str, str] = {}
    artifacts: dict[str, str] = {}
    pending: str | None = None  # a verbose id still waiting for its status
    for line in lines:
        if "::" not in line and not line.startswith(_PYTEST_LINE_STARTS):
            continue  # no header, status or test id: most of a long log, skipped cheaply
        header = _HEADER.match(line)
        if header:
            title = header.group("title").strip().lower()
            if "test session starts" in title:
                region = "progress"
            elif title == "short test summary info":
                region = "summary"
            else:  # FAILURES, ERRORS, PASSES, warnings summary, final stats line, ...
                region = "other"
            pending = None
            continue
        artifact = _ARTIFACT.match(line)
        if artifact and not (artifact.group("status") == SKIPPED and re.fullmatch(r"\[\d+\]", artifact.group("token"))):
            artifacts[artifact.group("token")] = artifact.group("status")  # the later wins, as there
        if region in ("summary", "any"):
            parsed = _parse_summary_line(line)
            if parsed:
                statuses[parsed[0]] = parsed[1]
                continue
        if region in ("progress", "any"):
            parsed = _parse_verbose_line(line)
            if parsed:
                statuses[parsed[0]] = parsed[1]
                pending = None
                continue
            bare = _BARE_STATUS.match(line) if len(line) <= MAX_PATTERN_LINE else None
            if bare and pending:
                statuses[pending] = _OLD_WORDS.get(bare.group("status"), bare.group("status"))
                pending = None
                continue
            started = _leading_test_id(line)
            if started:
                pending = started
    for token, status in artifacts.items():
        statuses.setdefault(token, status)
    return statuses


def _parse_summary_line(line: str) -> tuple[str, str] | None:
    match = _SUMMARY.match(line)
    if not match:
        return None
    status, rest = match.group("status"), match.group("rest")
    status = _OLD_WORDS.get(status, status)
    if status == SKIPPED and rest.startswith("["):
        return None  # folded skip "SKIPPED [1] tests/a.py:12: reason": no test id
    if status in (XFAIL, ERROR):
        rest = _WHEN_PREFIX.sub("", rest)  # "XFAIL at setup of tests/a.py::t - why"
    test_id = _summary_test_id(rest, status)
    return (test_id, status) if test_id else None


def _summary_test_id(rest: str, status: str) -> str:
    """The id at the start of `rest`, which may go on with " - message".

    pytest writes a passed test as "PASSED <id>" and nothing after it, so that id is the
    whole rest, whatever it holds (`test_f[x: [warning] text]`). Other results may go on
    with " - message". A parametrized id may hold spaces, brackets and even " - " inside
    its brackets (`test_f[a - b] - assert ...`), so for an id whose "[" comes before any
    space the id runs to the first "]" that ends the text or is followed by " - ", else
    (pytest < 8's "XPASS <id> reason") by whitespace.
    """
    if status == PASSED:
        return rest.strip()
    bracketed = _bracketed_id(rest, followed_by=" - ") or _bracketed_id(rest)
    if bracketed:
        return bracketed
    dash = rest.find(" - ")
    if dash != -1:
        return rest[:dash].strip()
    space = _first_space(rest)
    if status == XPASS and space != -1:
        return rest[:space]  # pytest < 8: "XPASS tests/a.py::t reason", no " - "
    return rest.strip()


def _bracketed_id(text: str, followed_by: str | None = None) -> str | None:
    """`text`'s leading "name[params]", when a "[" comes before any space: up to the first
    "]" that ends `text` or is followed by `followed_by` (default: by whitespace)."""
    bracket = text.find("[")
    space = _first_space(text)
    if bracket == -1 or (space != -1 and space < bracket):
        return None
    end = text.find("]", bracket)
    while end != -1:
        after = end + 1
        if after == len(text) or (text.startswith(followed_by, after) if followed_by else text[after].isspace()):
            return text[:after]
        end = text.find("]", after)
    return None


def _first_space(text: str) -> int:
    for i, char in enumerate(text):
        if char.isspace():
            return i
    return -1


def _parse_verbose_line(line: str) -> tuple[str, str] | None:
    match = (_VERBOSE.match(line) or _XDIST.match(line)) if len(line) <= MAX_PATTERN_LINE else None
    if match:
        return match.group("id"), _OLD_WORDS.get(match.group("status"), match.group("status"))
    # "path::test <output the test wrote> PASSED [ 50%]": the id, noise, then the status.
    test_id = _leading_test_id(line)
    if test_id:
        tail = _TRAILING_STATUS.search(line[max(len(test_id), len(line) - MAX_PATTERN_LINE):])
        if tail:
            return test_id, _OLD_WORDS.get(tail.group("status"), tail.group("status"))
    return None


# A status ending a line, as pytest writes it after a test id: " PASSED  [ 50%]".
_TRAILING_STATUS = re.compile(rf"\s(?P<status>{_VERBOSE_ALT})(?: \(.*\))?(?:\s+\[\s*\d+(?:%|/\d+)\])?\s*$")


def _leading_test_id(line: str) -> str | None:
    """The pytest node id a line starts with ("path.py::name[params] ..."), if any."""
    first = line.split(" ", 1)[0]
    path, sep, name = first.partition("::")
    if not sep or not name or not (path.endswith(".py") or "/" in path):
        return None
    if "[" in first:
        return _bracketed_id(line)  # parameters may hold spaces
    return first


def parse_pytest_options(log: str) -> dict[str, str]:
    """pytest, with a parameter that is an absolute path cut to its last component.

    Ids like `test_stdin[/tmp/pytest-of-root/pytest-0/mymodule.py]` change from run
    to run; SWE-bench's requests and pylint parser keep `test_stdin[/mymodule.py]`
    ("/" + the last component, for a parameter starting with one "/" and holding no
    "*"), and so do their datasets.
    """
    return {_short_path_option(test_id): status for test_id, status in parse_pytest(log).items()}


_OPTION = re.compile(r"(.*?)\[(.*)\]")


def _short_path_option(test_id: str) -> str:
    match = _OPTION.search(test_id)
    if not match:
        return test_id
    main, option = match.groups()
    if option.startswith("/") and not option.startswith("//") and "*" not in option:
        option = "/" + option.split("/")[-1]
    return f"{main}[{option}]"


def parse_matplotlib(log: str) -> dict[str, str]:
    """pytest, with MouseButton parameters written as numbers, as matplotlib's datasets have them.

    Newer matplotlib prints `test_x[MouseButton.LEFT]` where older runs (and the
    dataset ids SWE-bench recorded) have `test_x[1]`; SWE-bench maps LEFT -> 1 and
    RIGHT -> 3 before parsing.
    """
    return parse_pytest(log.replace("MouseButton.LEFT", "1").replace("MouseButton.RIGHT", "3"))


# ---- Django's runner ---------------------------------------------------------------------

_DJANGO_WORDS = {
    "ok": PASSED,
    "OK": PASSED,
    "FAIL": FAILED,
    "ERROR": ERROR,
    "expected failure": XFAIL,
    "unexpected success": XPASS,
}
_UNITTEST_RULE = "=" * 70  # unittest's line above each FAIL:/ERROR: report
_DJANGO_SKIP = re.compile(r"^skipped(?:\s.*)?$")
# Migration progress written without a newline before a test's description.
_DJANGO_NOISE = re.compile(r"^\s*Applying \S+\.\.\.(?: OK)?\s*")


def parse_django(log: str) -> dict[str, str]:
    """Statuses from Django's `runtests.py --verbosity 2`.

    unittest writes "<description> ... " when a test starts and its result word when
    it ends: ok, FAIL, ERROR, "skipped 'why'", "expected failure", "unexpected
    success". The description is "test_name (module.Class)", or the first line of the
    docstring on a line of its own when the test has one ("Tests the RunSQL
    operation. ... ok"); the datasets use that text as the test id, and so do we.

    What a test (or Django: "System check identified no issues (0 silenced).")
    writes between " ... " and the result goes on the same line; the result then
    comes on a later line of its own, and is given to the test whose " ... " came
    last. A description followed by another one on the same line got no result
    (a test whose subtests failed); subtest results on Python 3.11+ are lines of their
    own ("  test_x (m.C.test_x) (i=1) ... FAIL") and count as ids of their own.
    Reading stops at the FAIL:/ERROR: report blocks at the end: they repeat results,
    and the tracebacks in them are the tests' own text.
    """
    statuses: dict[str, str] = {}
    pending: str | None = None
    lines = _lines(log)
    for i, line in enumerate(lines):
        if line == _UNITTEST_RULE and i + 1 < len(lines) and lines[i + 1].startswith(("ERROR: ", "FAIL: ")):
            break  # the report of failures: every test has finished, tracebacks follow
        if " ... " in line or line.endswith(" ..."):
            description, status = _django_result(line)
            test_id = _DJANGO_NOISE.sub("", description).strip()
            if status and test_id:
                statuses[test_id] = status
                pending = None
            else:
                pending = test_id or None
            continue
        if pending is None:
            continue
        status = _django_status(line.strip())
        if status and pending:
            statuses[pending] = status
            pending = None
    return statuses


def _django_result(line: str) -> tuple[str, str | None]:
    """The description and status of a line holding " ... ". The first " ... " whose tail is
    a result word ends the description: a skip reason may hold " ... " too ("skipped 'needs
    x ... y'"). Without one, the last description on the line is running (status None)."""
    parts = (line + " ").split(" ... ")
    for i in range(1, len(parts)):
        status = _django_status(" ... ".join(parts[i:]).strip())
        if status:
            return parts[i - 1], status
    return parts[-2], None


def _django_status(word: str) -> str | None:
    if word in _DJANGO_WORDS:
        return _DJANGO_WORDS[word]
    if _DJANGO_SKIP.match(word):
        return SKIPPED
    return None


# ---- sympy's bin/test ----------------------------------------------------------------------

_SYMPY_START = re.compile(r"^=+ test process starts =+$")
_SYMPY_END = re.compile(r"^(?:_{20,}|=+ tests finished\b.*|DO \*NOT\* COMMIT!)")
_SYMPY_TEST = re.compile(r"^(?P<name>test\w*) (?P<rest>.*)$")
_SYMPY_FILE_RESULTS = ("[OK]", "[FAIL]")
# The result characters of `bin/test --verbose`; a skip writes its reason first
# ("test_x requires numpy s"), a skip without a reason " - s".
_SYMPY_WORDS = {"ok": PASSED, "F": FAILED, "E": ERROR, "T": ERROR, "f": XFAIL, "X": XPASS}
_SYMPY_SKIP = re.compile(r"^(?:.*\S\s+)?[swKT]$")


def parse_sympy(log: str) -> dict[str, str]:
    """Statuses from sympy's `bin/test -C --verbose`.

    Each test is a line "test_name <result>": ok, F (failed), E (exception), T
    (timed out), f (expected failure), X (unexpected pass), or a skip: "<reason> s"
    ("Slow w", "Timeout T", "KeyboardInterrupt K"). The last test of a file also
    carries the file's right-aligned "[OK]" / "[FAIL]". Ids are bare function names,
    as in the datasets. When a test prints, its output follows the name and the
    result comes on a line of its own later. Only the region between "test process
    starts" and the failure reports / "tests finished" is read, so tracebacks and
    printed text cannot make results.
    """
    lines = _lines(log)
    reading = not any(line.startswith("=") and _SYMPY_START.match(line) for line in lines)
    statuses: dict[str, str] = {}
    pending: str | None = None
    for line in lines:
        if pending is None and not line.startswith(("=", "_", "DO", "test")):
            continue  # neither a marker nor a test line, and no test waits for its result
        if _SYMPY_START.match(line):
            reading = True
            continue
        if reading and _SYMPY_END.match(line):
            reading = False
            pending = None
        if not reading:
            continue
        line = _strip_file_result(line)
        match = _SYMPY_TEST.match(line)
        if match:
            status = _sympy_status(match.group("rest"))
            if status:
                statuses[match.group("name")] = status
                pending = None
            else:
                pending = match.group("name")
            continue
        status = _SYMPY_WORDS.get(line.strip())
        if status and pending:
            statuses[pending] = status
            pending = None
    return statuses


def _strip_file_result(line: str) -> str:
    """The line without the file's right-aligned "[OK]" / "[FAIL]" and the spaces before it.

    (Not a regex: `\\s*\\[OK\\]$` searched along a line of spaces takes quadratic time.)"""
    for mark in _SYMPY_FILE_RESULTS:
        if line.endswith(mark):
            return line[: -len(mark)].rstrip()
    return line


def _sympy_status(rest: str) -> str | None:
    rest = rest.strip()
    if rest in _SYMPY_WORDS:
        return _SYMPY_WORDS[rest]
    if _SYMPY_SKIP.match(rest) and (rest == "- s" or " " in rest):
        return SKIPPED
    return None


# ---- registry ------------------------------------------------------------------------------

LOG_PARSERS: dict[str, LogParser] = {
    # short names, for specs
    "pytest": parse_pytest,
    "pytest_options": parse_pytest_options,
    "django": parse_django,
    "sympy": parse_sympy,
    "matplotlib": parse_matplotlib,
    "seaborn": parse_pytest,
    "sphinx": parse_pytest,
    "astropy": parse_pytest,
    "scikit": parse_pytest,
    "xarray": parse_pytest,
    "flask": parse_pytest,
    "requests": parse_pytest_options,
    "pylint": parse_pytest_options,
    # the names SWE-bench datasets carry in their `log_parser` column
    "parse_log_pytest": parse_pytest,
    "parse_log_django": parse_django,
    "parse_log_sympy": parse_sympy,
    "parse_log_matplotlib": parse_matplotlib,
    "parse_log_seaborn": parse_pytest,
    "parse_log_sphinx": parse_pytest,
    "parse_log_astropy": parse_pytest,
    "parse_log_scikit": parse_pytest,
    "parse_log_xarray": parse_pytest,
    "parse_log_flask": parse_pytest,
    "parse_log_requests": parse_pytest_options,
    "parse_log_pylint": parse_pytest_options,
}


def get_log_parser(name: str) -> LogParser:
    try:
        return LOG_PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(LOG_PARSERS))
        raise UserError(f"unknown log parser {name!r}; known: {known}") from None
