"""Issue 20 §1 and §4 in a real browser: an unresolved instance's page (its test table, log
tails, raw-log links, and a trajectory of editor calls) as headless Chromium renders it, read
back from the DOM, with a screenshot (its path printed; run with -s)."""

from __future__ import annotations

import json
import re
import struct
from html.parser import HTMLParser

import pytest
from test_report_browser import _run_chromium, _Table
from test_report_why import _unresolved_run

from evalharness.report.load import load_run
from evalharness.report.site import build_site

pytestmark = pytest.mark.browser

OLD = "def parse(text):\n    value = text.strip()\n    return value\n"
TRAJECTORY = [
    {"type": "assistant", "turn": 1, "t": 2.0, "content": "Let me look at the parser.", "tool_calls": [
        {"id": "c1", "name": "str_replace_editor", "arguments": {"command": "view", "path": "/testbed/pkg/parser.py",
                                                                 "view_range": [1, 40]}}]},
    {"type": "tool", "turn": 1, "t": 2.1, "tool_call_id": "c1", "name": "str_replace_editor",
     "arguments": {}, "output": "     1\tdef parse(text):", "exit_code": None, "seconds": 0.01},
    {"type": "assistant", "turn": 2, "t": 4.0, "content": "", "tool_calls": [
        {"id": "c2", "name": "str_replace_editor", "arguments": {
            "command": "str_replace", "path": "/testbed/pkg/parser.py", "old_str": OLD,
            "new_str": OLD.replace("text.strip()", "text.strip().lower()")}},
        {"id": "c3", "name": "bash", "arguments": {"command": "cd /testbed && python -m pytest -x tests/t.py"}}]},
    {"type": "tool", "turn": 2, "t": 5.0, "tool_call_id": "c3", "name": "bash", "arguments": {},
     "output": "1 failed", "exit_code": 1, "seconds": 0.9},
]


class _Calls(HTMLParser):
    """Each tool call's text as the DOM has it: tool, action, path, and its diff lines by kind."""

    def __init__(self):
        super().__init__()
        self.calls, self._stack, self._cls = [], [], None

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if cls == "call":
            self.calls.append({"head": [], "del": [], "add": [], "ctx": [], "cmd": []})
        self._stack.append(cls)

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if not self.calls or not self._stack:
            return
        cls = self._stack[-1]
        if cls in ("tool", "action", "path"):
            self.calls[-1]["head"].append(data)
        elif cls in ("del", "add", "ctx"):
            self.calls[-1][cls].append(data)
        elif cls == "cmd":
            self.calls[-1]["cmd"].append(data)


def test_an_unresolved_instance_says_why_in_headless_chromium(tmp_path):
    run_dir = _unresolved_run(tmp_path)
    (run_dir / "logs" / "u-1" / "trajectory.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in TRAJECTORY))
    site = build_site([load_run(run_dir)], tmp_path / "site").parent
    url = (site / "runs" / "r" / "i" / "u-1.html").resolve().as_uri()

    dom = _run_chromium(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    tests = _Table("tests")
    tests.feed(dom.stdout)
    assert tests.rows[0] == ["Test", "List", "Status in the log", "Verdict"]
    assert [(r[0], r[3]) for r in tests.rows[1:]] == [
        ("tests/t.py::test_new", "fails"), ("tests/t.py::test_gone", "fails"),
        ("tests/t.py::test_fix[a b]", "passes"), ("tests/t.py::test_old", "passes")]
    assert re.search(r'<details id="tail-test_output-txt" open="">', dom.stdout)
    assert 'href="../logs/u-1/test_output.txt"' in dom.stdout

    calls = _Calls()
    calls.feed(dom.stdout)
    view, edit, bash = calls.calls[:3]
    assert view["head"] == ["str_replace_editor", "view", "/testbed/pkg/parser.py"]
    assert edit["head"] == ["str_replace_editor", "str_replace", "/testbed/pkg/parser.py"]
    assert edit["del"] == ["-    value = text.strip()"] and edit["add"] == ["+    value = text.strip().lower()"]
    assert edit["ctx"] == [" def parse(text):", "     return value"]
    assert bash["head"] == ["bash"] and bash["cmd"] == ["cd /testbed && python -m pytest -x tests/t.py"]
    assert "view_range" in dom.stdout and "[1, 40]" in dom.stdout

    for name, size in (("why", "1400,2600"), ("why-run", "1400,900")):
        shot = tmp_path / f"{name}.png"
        page = url if name == "why" else (site / "runs" / "r" / "index.html").resolve().as_uri()
        taken = _run_chromium([f"--screenshot={shot}", f"--window-size={size}", page], tmp_path)
        assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == tuple(map(int, size.split(",")))
        assert len(data) > 40_000  # a rendered page, not a blank one
        print(f"\n{name} screenshot: {shot}")
