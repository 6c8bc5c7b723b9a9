"""Issue 20: reports that say why. The apply error keeps the failing file and line; an instance
page shows its listed tests (failing first), its logs' tails and links to the raw logs (copied
into the site); the run page has an error column; the leaderboard ranks runs only against runs
over the same instances and leaves partial runs unranked; tool calls show their arguments,
str_replace as path plus old → new. Run folders are written here (no Docker); the apply test
runs real git and patch in a host folder."""

from __future__ import annotations

import json
import re
import subprocess
from html import unescape
from pathlib import Path

from test_report import make_run, rows_from

from evalharness.core.task import SWEBENCH_FIELDS
from evalharness.env.local import LocalEnvironment
from evalharness.report import why as why_module
from evalharness.report.board import group_by_instance_set
from evalharness.report.calls import describe_call
from evalharness.report.load import load_run
from evalharness.report.site import build_site
from evalharness.report.summary import summarize_run
from evalharness.report.why import tail
from evalharness.scorers.patching import MAX_REASON_CHARS, apply_patch

PARSER = "".join(f"line {i}\n" for i in range(1, 30))


# ---- the apply error ----------------------------------------------------------------------
def test_a_failed_apply_names_the_file_and_line_not_just_while_searching_for(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "parser.py").write_text(PARSER)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base"]):
        subprocess.run(cmd, cwd=repo, check=True)
    # a hunk whose removed line is not in the file: git says "while searching for:" first
    patch = ("diff --git a/pkg/parser.py b/pkg/parser.py\n--- a/pkg/parser.py\n+++ b/pkg/parser.py\n"
             "@@ -12,3 +12,3 @@\n line 12\n-line thirteen\n+line 13 fixed\n line 14\n")
    result = apply_patch(LocalEnvironment(repo), patch, path=str(tmp_path / "model.patch"))
    assert not result.applied
    assert "error: while searching for:" in result.log  # what git printed first
    reason = result.reason
    assert "patch failed: pkg/parser.py:12 (while searching for: line 12)" in reason
    assert "pkg/parser.py: patch does not apply" in reason
    assert "Hunk #1 FAILED at 12 in pkg/parser.py" in reason  # GNU patch's verdict, with its file
    assert not reason.endswith("while searching for:")


def test_a_long_apply_reason_loses_its_middle_not_its_end():
    from evalharness.scorers.patching import _failure_reason

    log = "".join(f"error: pkg/f{i}.py: No such file or directory\n" for i in range(200))
    reason = _failure_reason(log + "patch: **** malformed patch at line 9\n")
    details = reason.split(": ", 1)[1]
    assert len(details) <= MAX_REASON_CHARS
    assert details.startswith("pkg/f0.py: No such file") and details.endswith("malformed patch at line 9")
    assert " … " in details


# ---- an instance page says why -----------------------------------------------------------
def _dataset(path: Path, tests: dict[str, tuple[list[str], list[str]]]) -> Path:
    lines = []
    for iid, (f2p, p2p) in tests.items():
        row = {name: "" for name in SWEBENCH_FIELDS}
        row.update(instance_id=iid, repo="o/r", base_commit="0" * 40, problem_statement=f"fix {iid}", version="1.0",
                   patch="diff --git a/f.py b/f.py\n", test_patch="diff --git a/t.py b/t.py\n",
                   FAIL_TO_PASS=f2p, PASS_TO_PASS=p2p, difficulty=None)
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_logs(run_dir: Path, iid: str, **files: str) -> None:
    logs = run_dir / "logs" / iid
    logs.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (logs / name.replace("__", ".")).write_text(text)


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)]
            for r in rows]


def _unresolved_run(tmp_path: Path, dataset: str | None = None) -> Path:
    f2p = ["tests/t.py::test_fix[a b]", "tests/t.py::test_new"]
    p2p = ["tests/t.py::test_old", "tests/t.py::test_gone"]
    data = dataset or str(_dataset(tmp_path / "tasks.jsonl", {"u-1": (f2p, p2p), "a-1": (f2p, p2p)}))
    rows = [{"instance_id": "u-1", "status": "unresolved", "f2p_passed": 1, "f2p_total": 2, "p2p_passed": 1,
             "p2p_total": 2, "patch": "diff --git a/f.py b/f.py\n"},
            {"instance_id": "a-1", "status": "patch_apply_failed", "patch": "diff --git a/f.py b/f.py\n",
             "error": "the patch did not apply: no method applied it (git apply): patch failed: f.py:3"}]
    run_dir = make_run(tmp_path / "runs", "r", rows, dataset=data)
    statuses = {"tests/t.py::test_fix[a b]": "PASSED", "tests/t.py::test_new": "FAILED",
                "tests/t.py::test_old": "PASSED", "tests/t.py::test_other": "ERROR"}
    output = "".join(f"setup line {i}\n" for i in range(100)) + "".join(
        f"PASSED tests/t.py::test_p{i}\n" for i in range(300)) + "FAILED tests/t.py::test_new - assert 1 == 2\n=== 1 failed ===\n"
    _write_logs(run_dir, "u-1", test_statuses__json=json.dumps(statuses), test_output__txt=output,
                apply__log="Applied patch f.py cleanly.\n", build__log="using cached image x\n")
    _write_logs(run_dir, "a-1", test_statuses__json="{}", apply__log="error: while searching for:\nx\n"
                "error: patch failed: f.py:3\nerror: f.py: patch does not apply\n>>>>> APPLY FAILED\n")
    return run_dir


def test_an_unresolved_instance_page_lists_its_tests_failing_first_with_log_tails(tmp_path):
    site = build_site([load_run(_unresolved_run(tmp_path))], tmp_path / "site").parent
    page = (site / "runs" / "r" / "i" / "u-1.html").read_text()
    header, *rows = _cells(page, "tests")
    assert header == ["Test", "List", "Status in the log", "Verdict"]
    assert rows == [["tests/t.py::test_new", "FAIL_TO_PASS", "FAILED", "fails"],
                    ["tests/t.py::test_gone", "PASS_TO_PASS", "missing", "fails"],
                    ["tests/t.py::test_fix[a b]", "FAIL_TO_PASS", "PASSED", "passes"],
                    ["tests/t.py::test_old", "PASS_TO_PASS", "PASSED", "passes"]]
    assert "2 of 4 listed failing" in unescape(re.sub(r"<[^>]+>", "", page))
    # the test output's tail is open, ends with the failure, and its -rA PASSED lines are one line
    tail_html = page.split('id="tail-test_output-txt" open>', 1)[1].split("</details>", 1)[0]
    assert "FAILED tests/t.py::test_new - assert 1 == 2" in tail_html and "setup line 0\n" not in tail_html
    assert "… 300 PASSED lines left out …" in tail_html and "PASSED tests/t.py::test_p1" not in tail_html
    assert 'id="tail-apply-log">' in page and 'id="tail-build-log">' in page  # there, folded
    # raw logs: copied next to the pages, linked relatively
    links = re.findall(r'href="(\.\./logs/[^"]+)"', page)
    assert "../logs/u-1/test_output.txt" in links and "../logs/u-1/test_statuses.json" in links
    for link in links:
        copied = (site / "runs" / "r" / "i" / link).resolve()
        assert copied.read_bytes() == (tmp_path / "runs" / "r" / "logs" / "u-1" / copied.name).read_bytes()


def test_a_patch_that_did_not_apply_shows_the_apply_log_and_no_test_table(tmp_path):
    site = build_site([load_run(_unresolved_run(tmp_path))], tmp_path / "site").parent
    page = (site / "runs" / "r" / "i" / "a-1.html").read_text()
    assert 'id="tests"' not in page and "The tests did not run (patch_apply_failed" in page
    assert 'id="tail-apply-log" open>' in page and "error: patch failed: f.py:3" in page


def test_the_run_page_has_an_error_column(tmp_path):
    site = build_site([load_run(_unresolved_run(tmp_path))], tmp_path / "site").parent
    header, *rows = _cells((site / "runs" / "r" / "index.html").read_text(), "instances")
    assert header[-1] == "Error / why"
    why = {row[0]: row[-1] for row in rows}
    assert why["a-1"] == "the patch did not apply: no method applied it (git apply): patch failed: f.py:3"
    assert why["u-1"] == "2 failing: test_new, test_gone"


def test_without_the_dataset_every_parsed_test_is_shown_failing_first(tmp_path):
    site = build_site([load_run(_unresolved_run(tmp_path, dataset="verified"))], tmp_path / "site").parent
    page = (site / "runs" / "r" / "i" / "u-1.html").read_text()
    header, *rows = _cells(page, "tests")
    assert header == ["Test", "Status in the log", "Verdict"]
    assert [r[0] for r in rows] == ["tests/t.py::test_new", "tests/t.py::test_other",
                                    "tests/t.py::test_fix[a b]", "tests/t.py::test_old"]
    assert "which tests are FAIL_TO_PASS or PASS_TO_PASS is unknown" in page


def test_a_huge_log_is_copied_as_head_and_tail(tmp_path, monkeypatch):
    monkeypatch.setattr(why_module, "MAX_COPY_BYTES", 1000)
    run_dir = _unresolved_run(tmp_path)
    site = build_site([load_run(run_dir)], tmp_path / "site").parent
    copied = (site / "runs" / "r" / "logs" / "u-1" / "test_output.txt").read_text()
    original = (run_dir / "logs" / "u-1" / "test_output.txt").read_text()
    assert copied.startswith(original[:500]) and copied.endswith(original[-500:])
    assert "bytes cut from the middle" in copied and len(copied) < 1200
    assert "middle cut" in (site / "runs" / "r" / "i" / "u-1.html").read_text()


def test_tail_reads_only_the_end_of_a_log(tmp_path, monkeypatch):
    monkeypatch.setattr(why_module, "TAIL_READ_BYTES", 100)
    path = tmp_path / "log.txt"
    path.write_text("".join(f"line {i:04d}\n" for i in range(1000)))
    lines = tail(path, lines=3).splitlines()
    assert lines[1:] == ["line 0997", "line 0998", "line 0999"] and "earlier lines" in lines[0]
    assert tail(tmp_path / "missing.txt") == ""


# ---- the leaderboard ranks like with like --------------------------------------------------
def _board(tmp_path: Path):
    eleven = {f"b-{i}": "resolved" for i in range(11)}
    root = tmp_path / "reports"
    make_run(root, "gold", rows_from(eleven), created_at="2025-09-14T01:00:00+00:00")
    make_run(root, "half", rows_from({k: "resolved" if i < 6 else "unresolved" for i, k in enumerate(eleven)}),
             model="m", agent="llm", created_at="2025-09-14T02:00:00+00:00")
    make_run(root, "killed", rows_from({"b-0": "resolved", "b-1": "resolved"}), planned=11, compact=False,
             model="k", agent="llm", created_at="2025-09-14T03:00:00+00:00")
    make_run(root, "slice", rows_from({"s-1": "resolved", "s-2": "unresolved", "s-3": "resolved"}),
             model="s", agent="llm", created_at="2025-09-14T04:00:00+00:00")
    make_run(root, "stray", rows_from({"x-1": "resolved"}), planned=5, model="x", agent="llm")
    return [load_run(p) for p in sorted(root.iterdir())]


def test_runs_are_grouped_by_instance_set_and_partial_runs_are_not_ranked(tmp_path):
    sets = group_by_instance_set([summarize_run(r) for r in _board(tmp_path)])
    assert [(g.label, g.size, [s.run.meta.run_id for s in g.ranked], [s.run.meta.run_id for s in g.partial])
            for g in sets] == [("A", 11, ["gold", "half"], ["killed"]), ("B", 3, ["slice"], []),
                               ("C", 0, [], ["stray"])]


def test_the_leaderboard_page_says_which_set_each_ranking_is_over(tmp_path):
    index = build_site(_board(tmp_path), tmp_path / "site")
    html = index.read_text()
    header, *a = _cells(html, "leaderboard")
    assert [(r[0], r[1].split()[0]) for r in a] == [("A1", "gold"), ("A2", "m"), ("A–", "k")]
    killed = a[2]
    assert "in progress · 2/11" in killed[1] and killed[4].startswith("100.0%") and "over 2 of 11 planned" in killed[4]
    assert [r[0] for r in _cells(html, "leaderboard-B")[1:]] == ["B1"]
    assert [r[0] for r in _cells(html, "leaderboard-C")[1:]] == ["C–"]
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert "Set A 11 instances · builtin · 2 runs ranked on these same instances; 1 incomplete run listed below" in text
    assert "Incomplete runs · not ranked" in text
    assert _cells(html, "repos")[0][1:] == ["A1", "A2", "A–", "B1", "C–"]


def test_one_set_of_complete_runs_reads_as_before(tmp_path):
    root = tmp_path / "reports"
    make_run(root, "one", rows_from({"a-1": "resolved", "a-2": "unresolved"}))
    make_run(root, "two", rows_from({"a-1": "resolved", "a-2": "resolved"}))
    html = build_site([load_run(p) for p in sorted(root.iterdir())], tmp_path / "site").read_text()
    assert [r[0] for r in _cells(html, "leaderboard")[1:]] == ["1", "2"]
    assert "Set " not in html and "2 runs ranked on these same instances" in html


# ---- tool calls show their arguments --------------------------------------------------------
def test_str_replace_is_its_path_and_an_old_to_new_diff():
    old = "def f(x):\n    return x\n"
    call = describe_call("str_replace_editor", {"command": "str_replace", "path": "/testbed/m.py",
                                                "old_str": old, "new_str": old.replace("x\n", "x + 1\n")})
    assert (call.action, call.path, call.args) == ("str_replace", "/testbed/m.py", ())
    assert [(d.kind, d.text) for d in call.diff] == [("ctx", "def f(x):"), ("del", "    return x"),
                                                     ("add", "    return x + 1")]


def test_every_other_call_shows_all_its_arguments():
    view = describe_call("str_replace_editor", '{"command": "view", "path": "/testbed", "view_range": [1, 20]}')
    assert (view.action, view.path, view.args) == ("view", "/testbed", (("view_range", "[1, 20]"),))
    insert = describe_call("str_replace_editor", {"command": "insert", "path": "a.py", "insert_line": 3,
                                                  "new_str": "x = 1"})
    assert insert.args == (("insert_line", "3"),) and [(d.kind, d.text) for d in insert.diff] == [("add", "x = 1")]
    create = describe_call("str_replace_editor", {"command": "create", "path": "n.py", "file_text": "a\nb\n"})
    assert [d.kind for d in create.diff] == ["add", "add"]
    assert describe_call("bash", {"command": "pytest -x", "timeout": 30}).command == "pytest -x"
    assert describe_call("bash", {"command": "ls", "timeout": 30}).args == (("timeout", "30"),)
    edit = describe_call("edit", {"file_path": "/w/a.py", "old_string": "a", "new_string": "b"})  # Qwen Code's
    assert edit.path == "/w/a.py" and [d.kind for d in edit.diff] == ["del", "add"]
    assert describe_call("bash", '{"command": "ls"').raw == '{"command": "ls"'  # cut JSON, shown as it came
    long = describe_call("str_replace_editor", {"command": "str_replace", "path": "p",
                                                "old_str": "".join(f"{i}\n" for i in range(40)),
                                                "new_str": "".join(f"{i}\n" for i in range(40)).replace("20\n", "X\n")})
    assert long.diff[0].kind == "gap" and long.diff[0].text == "… 15 unchanged lines …" and long.diff[-1].kind == "gap"


def test_the_trajectory_shows_the_editor_arguments(tmp_path):
    trajectory = [{"type": "assistant", "turn": 1, "t": 1.0, "content": "", "tool_calls": [
        {"id": "c1", "name": "str_replace_editor", "arguments": {"command": "str_replace", "path": "/testbed/m.py",
                                                                 "old_str": "return x", "new_str": "return x + 1"}},
        {"id": "c2", "name": "str_replace_editor", "arguments": {"command": "view", "path": "/testbed/m.py",
                                                                 "view_range": [1, 9]}}]}]
    run_dir = make_run(tmp_path / "runs", "r", rows_from({"t-1": "unresolved"}), trajectories={"t-1": trajectory})
    page = (build_site([load_run(run_dir)], tmp_path / "site").parent / "runs" / "r" / "i" / "t-1.html").read_text()
    assert '<span class="action">str_replace</span><span class="path">/testbed/m.py</span>' in page
    assert '<span class="del">-return x</span><span class="add">+return x + 1</span>' in page
    assert "<dt>view_range</dt><dd>[1, 9]</dd>" in page


def test_a_long_test_list_folds_its_passing_tests_and_reads_cut_ids(tmp_path):
    passing = [f"tests/t.py::test_p{i}" for i in range(50)]
    data = _dataset(tmp_path / "tasks.jsonl", {"l-1": (["tests/t.py::test_f[a", "tests/t.py::test_g[x"], passing)})
    run_dir = make_run(tmp_path / "runs", "r", rows_from({"l-1": "unresolved"}), dataset=str(data))
    statuses = {t: "PASSED" for t in passing} | {"tests/t.py::test_f[a b]": "PASSED", "tests/t.py::test_f[a c]": "FAILED",
                                                 "tests/t.py::test_g[x y]": "PASSED"}
    _write_logs(run_dir, "l-1", test_statuses__json=json.dumps(statuses))
    page = (build_site([load_run(run_dir)], tmp_path / "site").parent / "runs" / "r" / "i" / "l-1.html").read_text()
    # a dataset id cut at its first space stands for every test it may mean (grading.py's rule)
    assert _cells(page, "tests")[1:] == [["tests/t.py::test_f[a", "FAIL_TO_PASS", "FAILED/PASSED", "fails"]]
    folded = _cells(page, "tests-passing")[1:]
    assert len(folded) == 51 and folded[0] == ["tests/t.py::test_g[x", "FAIL_TO_PASS", "PASSED", "passes"]
    assert "51 passing tests" in page


def test_a_resolved_instance_folds_its_all_passing_table(tmp_path):
    data = _dataset(tmp_path / "tasks.jsonl", {"ok-1": (["t::a"], ["t::b"])})
    run_dir = make_run(tmp_path / "runs", "r", rows_from({"ok-1": "resolved"}), dataset=str(data))
    _write_logs(run_dir, "ok-1", test_statuses__json=json.dumps({"t::a": "PASSED", "t::b": "PASSED"}))
    page = (build_site([load_run(run_dir)], tmp_path / "site").parent / "runs" / "r" / "i" / "ok-1.html").read_text()
    assert "<summary>all 2 listed tests pass</summary>" in page and len(_cells(page, "tests")) == 3
    assert " open>" not in page  # no log is the one that says why
