"""Why an instance ended as it did: its listed tests' statuses, its logs' tails, its raw logs.

An unresolved instance's page must say why without a trip to the run folder: which
FAIL_TO_PASS / PASS_TO_PASS tests failed (failing ones first), the end of the test output,
apply log and build log, and links to the logs themselves, which are copied next to the
pages (the site stays whole, static and offline; a log over MAX_COPY_BYTES keeps its head
and tail). The listed tests come from the run's dataset when it can be read here; without
it, every parsed test is shown and the page says the lists are unknown.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from evalharness.core.results import InstanceRecord
from evalharness.report.load import TaskInfo
from evalharness.scorers.grading import grade
from evalharness.scorers.patching import cut_middle

F2P, P2P = "FAIL_TO_PASS", "PASS_TO_PASS"
TAIL_LINES = 40
TAIL_READ_BYTES = 256 << 10  # a tail is taken from the file's last bytes only
MAX_COPY_BYTES = 4 << 20  # a larger log is copied as its first and last halves of this
MISSING = "missing"  # a listed test the log does not mention
# Statuses of an instance whose tests ran (an empty log of them still says something).
TESTED_STATUSES = frozenset({"resolved", "unresolved", "test_timeout", "no_tests_parsed"})

# (file in logs/<id>/, title of its tail); a build's failure log stands in for the build log.
LOG_TAILS: tuple[tuple[str, str], ...] = (
    ("test_output.txt", "Test output"),
    ("apply.log", "Apply log"),
    ("build_failure.log", "Build failure"),
    ("build.log", "Build log"),
    ("harness_error.txt", "Harness error"),
    ("agent_error.txt", "Agent error"),
)
# Which tail a status opens: the one that says why.
OPEN_FOR = {"unresolved": "test_output.txt", "test_timeout": "test_output.txt", "no_tests_parsed": "test_output.txt",
            "patch_apply_failed": "apply.log", "env_build_failed": "build_failure.log",
            "harness_error": "harness_error.txt", "agent_error": "agent_error.txt"}


@dataclass(frozen=True)
class TestRow:
    test: str
    listed: str  # F2P, P2P, or "" when the lists are unknown
    status: str  # as parsed from the log (PASSED, FAILED, ...), or MISSING
    ok: bool  # passes as graded (a skipped FAIL_TO_PASS test does not)
    note: str = ""  # flaky, host-sensitive


@dataclass(frozen=True)
class LogTail:
    name: str  # the file in logs/<id>/
    title: str
    text: str
    href: str  # the copied raw log, relative to the instance page
    open: bool  # shown unfolded: the log that says why


@dataclass(frozen=True)
class LogLink:
    name: str
    href: str
    size: int
    cut: bool  # copied as head and tail only


@dataclass(frozen=True)
class Why:
    tests: list[TestRow]  # failing first
    lists_known: bool  # tests are the dataset's FAIL_TO_PASS / PASS_TO_PASS (else: every parsed test)
    tests_ran: bool  # a test_statuses.json exists
    tails: list[LogTail]
    logs: list[LogLink]
    headline: str  # one line for the run page's error column ("" when resolved and no error)

    @property
    def failing(self) -> list[TestRow]:
        return [row for row in self.tests if not row.ok]


def explain(record: InstanceRecord, logs_dir: Path, task: TaskInfo | None, copy_to: Path, href_prefix: str) -> Why:
    """The Why of one instance; its logs are copied into `copy_to`, linked as `href_prefix` + name."""
    statuses = read_statuses(logs_dir / "test_statuses.json")
    if not statuses and record.status not in TESTED_STATUSES:
        statuses = None  # the pipeline writes {} when the tests never ran (the patch did not apply, say)
    notes = _notes(record)
    if task is not None and (task.fail_to_pass or task.pass_to_pass):
        rows = test_rows(statuses or {}, task.fail_to_pass, task.pass_to_pass, notes) if statuses is not None else []
    else:
        rows = [TestRow(t, "", s, s in ("PASSED", "XFAIL", "SKIPPED"), notes.get(t, "")) for t, s in (statuses or {}).items()]
        rows.sort(key=lambda row: row.ok)
    links = copy_logs(logs_dir, copy_to, href_prefix)
    by_name = {link.name: link for link in links}
    opened = OPEN_FOR.get(record.status, "") if not record.resolved else ""
    if opened == "build_failure.log" and "build_failure.log" not in by_name:
        opened = "build.log"
    tails = []
    for name, title in LOG_TAILS:
        if name == "build.log" and "build_failure.log" in by_name:
            continue
        text = tail(logs_dir / name, collapse_passed=name == "test_output.txt")
        if text.strip():
            tails.append(LogTail(name, title, text, by_name[name].href if name in by_name else "", name == opened))
    known = task is not None and bool(task.fail_to_pass or task.pass_to_pass)
    return Why(rows, known, statuses is not None, tails, links, headline(record, rows))


def headline(record: InstanceRecord, rows: Sequence[TestRow]) -> str:
    """The one line that says why: the record's error, else the failing tests, else the agent's exit."""
    if record.error:
        first = record.error.strip().splitlines()[0] if record.error.strip() else ""
        return cut_middle(first, 160)
    if record.resolved:
        return ""
    failing = [row for row in rows if not row.ok]
    if failing:
        names = ", ".join(row.test.rsplit("::", 1)[-1] for row in failing[:2])  # the test, not its file
        more = f" (+{len(failing) - 2} more)" if len(failing) > 2 else ""
        return cut_middle(f"{len(failing)} failing: {names}", 160) + more
    if record.status == "empty_patch":
        return "no patch" + (f" (agent exit: {record.exit_reason})" if record.exit_reason else "")
    return ""


def test_rows(statuses: Mapping[str, str], fail_to_pass: Sequence[str], pass_to_pass: Sequence[str],
              notes: Mapping[str, str] | None = None) -> list[TestRow]:
    """A row per listed test, graded as the scorer grades (grading.grade), failing rows first."""
    notes = notes or {}
    rows = []
    for listed, tests in ((F2P, fail_to_pass), (P2P, pass_to_pass)):
        for test in tests:
            verdict = grade(statuses, [test], []) if listed == F2P else grade(statuses, [], [test])
            rows.append(TestRow(test, listed, _status(statuses, test), verdict.resolved, notes.get(test, "")))
    return sorted(rows, key=lambda row: row.ok)  # stable: list order kept within failing and passing


def _status(statuses: Mapping[str, str], test: str) -> str:
    if test in statuses:
        return statuses[test]
    cut = sorted({s for t, s in statuses.items() if " " in t and t.split(" ", 1)[0] == test})  # grading's cut ids
    return "/".join(cut) if cut and test.count("[") > test.count("]") else MISSING


def _notes(record: InstanceRecord) -> dict[str, str]:
    notes = {t: "flaky" for t in (record.flaky_failed or "").splitlines() if t}
    for line in (record.host_sensitive_failed or "").splitlines():
        test, _, why = line.partition(" (")
        notes.setdefault(test, f"host-sensitive: {why.rstrip(')')}" if why else "host-sensitive")
    return notes


def read_statuses(path: Path) -> dict[str, str] | None:
    """test_statuses.json as a dict; None when the tests never ran (no file) or it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def tail(path: Path, lines: int = TAIL_LINES, collapse_passed: bool = False) -> str:
    """The last `lines` lines of a log (read from its end only). With `collapse_passed`, runs
    of pytest's `PASSED <id>` summary lines count as one line saying how many were left out,
    so that a long -rA summary does not push the failures out of the tail."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_READ_BYTES))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    all_lines = text.splitlines()
    if size > TAIL_READ_BYTES and all_lines:
        all_lines = all_lines[1:]  # the first line read is most likely cut
    if collapse_passed:
        all_lines = _collapse_passed(all_lines)
    kept = all_lines[-lines:]
    skipped = len(all_lines) - len(kept)
    head = [f"… {skipped:,} earlier lines (see the whole log) …"] if skipped > 0 or size > TAIL_READ_BYTES else []
    return "\n".join(head + kept)


def _collapse_passed(lines: list[str]) -> list[str]:
    out: list[str] = []
    run = 0
    for line in lines + [""]:
        if line.startswith("PASSED "):
            run += 1
            continue
        if run:
            out.append(f"… {run} PASSED line{'s' if run > 1 else ''} left out …")
            run = 0
        out.append(line)
    return out[:-1]


def copy_logs(logs_dir: Path, dest: Path, href_prefix: str) -> list[LogLink]:
    """Copy the instance's log files (not folders) to `dest`; a file over MAX_COPY_BYTES keeps
    its head and tail with a line saying how much of the middle was cut."""
    try:
        files = sorted(p for p in logs_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []
    links = []
    for path in files:
        size = path.stat().st_size
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / path.name
        cut = size > MAX_COPY_BYTES
        if cut:
            half = MAX_COPY_BYTES // 2
            with open(path, "rb") as src, open(target, "wb") as out:
                out.write(src.read(half))
                out.write(f"\n… {size - 2 * half:,} bytes cut from the middle (the run folder has the whole log) …\n"
                          .encode())
                src.seek(size - half)
                out.write(src.read())
        else:
            shutil.copyfile(path, target)
        links.append(LogLink(path.name, href_prefix + path.name, size, cut))
    return links
