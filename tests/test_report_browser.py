"""The leaderboard in a real browser: Debian's chromium, headless, reads the DOM it rendered and
takes a screenshot (saved in the test's tmp dir; the path is printed, run with -s to see it)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_report import make_run

from evalharness.cli import main

pytestmark = pytest.mark.browser


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no chromium on PATH: install Debian's package with scripts/chromium-up (as root)")


def _run_chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


class _Table(HTMLParser):
    """Text of each cell of the rows of one table (by id), as the browser's DOM has them
    (charts' tooltips left out: the text a person reads)."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.depth, self.rows, self._cell, self._svg = table_id, 0, [], None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._cell is not None:
            self._cell.append(" ")  # element boundaries separate words, as on screen
        if tag == "svg":
            self._svg += 1
        elif tag == "table" and attrs.get("id") == self.table_id:
            self.depth = 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self._cell is not None:
            self._cell.append(" ")
        if tag == "svg":
            self._svg -= 1
        elif self.depth and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif self.depth and tag == "table":
            self.depth = 0

    def handle_data(self, data):
        if self._cell is not None and not self._svg:
            self._cell.append(data)


def _three_runs(root: Path) -> None:
    big = [{"instance_id": f"django__django-{i}", "repo": "django/django" if i < 6 else "sympy/sympy",
            "status": status, "total_seconds": 10.0 * (i + 1), "prompt_tokens": 20_000, "completion_tokens": 2_000,
            "cost": 0.25, "turns": 12}
           for i, status in enumerate(["resolved"] * 8 + ["unresolved", "env_build_failed"])]
    small = [{"instance_id": f"django__django-{i}", "repo": "django/django" if i < 6 else "sympy/sympy",
              "status": status, "total_seconds": 5.0, "prompt_tokens": 10_000, "cost": 0.05}
             for i, status in enumerate(["resolved"] * 5 + ["unresolved"] * 3 + ["empty_patch"] * 2)]
    empty = [{"instance_id": f"django__django-{i}", "repo": "django/django" if i < 6 else "sympy/sympy",
              "status": "empty_patch", "total_seconds": 2.0} for i in range(10)]
    make_run(root, "qwen-480b", big, model="qwen3-coder-480b", agent="llm", created_at="2025-09-14T03:00:00+00:00")
    make_run(root, "qwen-30b", small, model="qwen3-coder-30b", agent="llm", created_at="2025-09-15T03:00:00+00:00")
    make_run(root, "empty", empty, agent="empty", created_at="2025-09-16T03:00:00+00:00")


def test_leaderboard_of_three_runs_in_headless_chromium(tmp_path):
    _three_runs(tmp_path / "reports")
    site = tmp_path / "site"
    assert main(["report", str(tmp_path / "reports"), "--out", str(site),
                 "--compare", str(tmp_path / "reports" / "qwen-480b"), str(tmp_path / "reports" / "qwen-30b")]) == 0
    url = (site / "index.html").resolve().as_uri()

    dom = _run_chromium(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    table = _Table("leaderboard")
    table.feed(dom.stdout)
    header, *rows = table.rows
    assert header[:5] == ["#", "Model / agent", "Dataset", "Date", "Resolved · 95% CI"]
    assert len(rows) == 3
    # rank, who, dataset, date, resolved % and CI, resolved/total, statuses, median, p90, tokens, cost
    first, second, third = rows
    assert first[0] == "1" and first[1] == "qwen3-coder-480b BASE agent llm · qwen-480b"
    assert first[3] == "2025-09-14" and first[4] == "80.0% 49.0% – 94.3%" and first[5] == "8/10"
    assert first[6] == "resolved 8 unresolved 1 env_build_failed 1"
    assert first[7:] == ["55 s", "1m 31s", "22.0k", "$0.250"]  # median, p90 of 10..100 s
    assert second[0] == "2" and second[1] == "qwen3-coder-30b NEW agent llm · qwen-30b"
    assert second[4] == "50.0% 23.7% – 76.3%" and second[5] == "5/10"
    assert second[6] == "resolved 5 unresolved 3 empty_patch 2" and second[7:] == ["5.0 s", "5.0 s", "10.0k", "$0.050"]
    assert third[0] == "3" and third[1] == "empty empty" and third[4] == "0.0% 0.0% – 27.8%" and third[5] == "0/10"

    repos = _Table("repos")
    repos.feed(dom.stdout)
    assert repos.rows[1:] == [["django/django", "6/6 100%", "5/6 83%", "0/6 0%"],
                              ["sympy/sympy", "2/4 50%", "0/4 0%", "0/4 0%"]]
    assert "flipped to fail" in dom.stdout and "McNemar" in dom.stdout

    shot = tmp_path / "leaderboard.png"
    taken = _run_chromium([f"--screenshot={shot}", "--window-size=1500,1300", url], tmp_path)
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1500, 1300)
    assert len(data) > 50_000  # a rendered page, not a blank one
    print(f"\nleaderboard screenshot: {shot}")
