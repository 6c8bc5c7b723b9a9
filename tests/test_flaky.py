"""Flakiness: `validate --repeats N` finds the tests whose status changes between repeats
(flaky.json, the report), and `eval --flaky FILE --flaky-policy ignore|flag` grades with that list.

The Docker tests plant a flaky test (it passes or fails at random) in a copy of a built-in
task, made here: the built-in tasks themselves stay deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.core.errors import UserError
from evalharness.core.results import InstanceRecord, ResultStore, safe_name
from evalharness.scorers import SCORERS
from evalharness.scorers.tests_scorer import TestScorer
from evalharness.tasks.specs import EnvSpec
from evalharness.core.status import Status
from evalharness.core.task import Task
from evalharness.run.validate import (
    FLAKY_GRADED,
    GOLD_NOT_RESOLVED,
    VERDICT_CHANGED,
    ValidationReport,
    ValidationRow,
    flaky_tests,
    read_flaky_file,
    repeat_run_id,
)
from gitrepo import commit_all, git, make_diff, python_env

# ---------------------------------------------------------------- finding flaky tests


def test_flaky_tests_are_those_whose_status_changes_between_repeats():
    a = {"t::ok": "PASSED", "t::coin": "PASSED", "t::gone": "PASSED", "t::skip": "SKIPPED"}
    b = {"t::ok": "PASSED", "t::coin": "FAILED", "t::skip": "SKIPPED"}
    assert flaky_tests([a, b, a]) == {"t::coin": ["PASSED", "FAILED", "PASSED"],
                                      "t::gone": ["PASSED", "missing", "PASSED"]}
    assert flaky_tests([a, None, a]) == {}  # a repeat whose tests did not run to the end is not compared
    assert flaky_tests([a, None]) == {} and flaky_tests([]) == {}
    assert repeat_run_id("gold", 1) == "gold" and repeat_run_id("empty", 3) == "empty-3"


def _row(iid: str, **kw) -> ValidationRow:
    return ValidationRow(iid, "o/r", "1", **{"gold_status": "resolved", "empty_status": "unresolved", **kw})


def test_report_names_flaky_tests_and_changed_verdicts():
    coin = {"gold": ["PASSED", "FAILED", "PASSED"]}
    rows = [
        _row("a", gold_verdicts=("resolved",) * 3, empty_verdicts=("unresolved",) * 3),
        _row("b", gold_verdicts=("resolved", "unresolved", "resolved"), empty_verdicts=("unresolved",) * 3,
             flaky={"t::coin": coin}, flaky_graded=("t::coin",)),
        _row("c", gold_verdicts=("resolved",) * 3, empty_verdicts=("unresolved",) * 3,
             flaky={"t::other": {"empty": ["FAILED", "PASSED", "PASSED"]}}),
        _row("d", gold_verdicts=("resolved",) * 3, empty_verdicts=("unresolved",) * 3,
             flaky={"t::p2p": {"empty": ["PASSED", "FAILED", "FAILED"]}}, flaky_graded=("t::p2p",)),
        _row("e", gold_status="unresolved", gold_verdicts=("unresolved",) * 3, empty_verdicts=("unresolved",) * 3),
    ]
    report = ValidationReport(rows, repeats=3)
    assert [r.instance_id for r in report.problems] == ["b", "d", "e"]  # c's flaky test is graded by nobody
    assert list(report.grouped()) == [f"{GOLD_NOT_RESOLVED}: unresolved", FLAKY_GRADED, f"{VERDICT_CHANGED}: gold"]
    text = report.text()
    assert f"{VERDICT_CHANGED}: gold (1)\n  {'b':<40} gold: resolved, unresolved, resolved" in text
    assert "flaky tests in 3 repeats: 3 in 3 instance(s)" in text
    assert "    t::coin (graded)  [gold: PASSED FAILED PASSED]" in text
    assert "    t::other  [empty: FAILED PASSED PASSED]" in text
    assert report.flaky() == {"b": ["t::coin"], "c": ["t::other"], "d": ["t::p2p"]}
    saved = json.loads(report.to_json())
    assert saved["repeats"] == 3 and saved["flaky"] == report.flaky()
    assert saved["problems"][f"{VERDICT_CHANGED}: gold"] == ["b"]
    md = report.markdown()
    assert "| instance | gold | empty | build (s) | image (MB) | instance layers (MB) | flaky tests |" in md
    assert "| b | resolved, unresolved, resolved | unresolved |" in md and md.count(" 1 |") == 3
    assert "## Flakiness (3 repeats)" in md and "- b: gold: resolved, unresolved, resolved" in md
    quiet = ValidationReport(rows[:1], repeats=3)
    assert quiet.text().endswith("no flaky tests in 3 repeats") and quiet.flaky() == {}
    assert "flaky" not in ValidationReport(rows[:1]).text()  # one repeat: nothing to say about flakiness


# ---------------------------------------------------------------- grading with a flaky list

FIX = "tests/test_x.py::test_fix"
OK = "tests/test_x.py::test_ok"
BROKEN = "tests/test_x.py::test_broken"
CUT = "tests/test_x.py::test_param[a"  # the dataset's id, cut at its first space (the official parser)
FULL = "tests/test_x.py::test_param[a b]"
TESTS = """\
import pytest

from pkg import VALUE


def test_fix():
    assert VALUE == 2


def test_ok():
    pass


def test_broken():
    assert False, "fails every time: stands for a flaky test that failed this time"


@pytest.mark.parametrize("v", ["a b"])
def test_param(v):
    assert False
"""


@pytest.fixture
def graded(tmp_path: Path):
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    commit_all(root)
    task = Task(
        instance_id="acme__x-1", repo="acme/x", base_commit=git(root, "rev-parse", "HEAD").strip(),
        patch=make_diff(root, {"pkg/__init__.py": "VALUE = 2\n"}), test_patch=make_diff(root, {"tests/test_x.py": TESTS}),
        problem_statement="-", version="1.0", FAIL_TO_PASS=(FIX,), PASS_TO_PASS=(OK, BROKEN, CUT),
    )
    spec = EnvSpec(repo="acme/x", version="1.0", python="3.11", test_cmd="python -m pytest -rA -p no:cacheprovider",
                   test_timeout=120)

    def score(flaky=None, policy="flag"):
        scorer = TestScorer(patch_path=str(tmp_path / "model.patch"), script_path=str(tmp_path / "eval.sh"),
                            flaky=flaky, flaky_policy=policy)
        return scorer.score(task, task.patch, python_env(root), spec)

    return score


def test_flaky_policies(graded):
    plain = graded()
    assert plain.status == Status.UNRESOLVED and (plain.p2p_passed, plain.p2p_total) == (1, 3)
    assert plain.flaky_tests == 0 and plain.flaky_failed == [] and plain.error is None
    # "test_ok (x)" cut at its space is "test_ok", but only a parametrized id is ever cut: test_ok is not flaky
    flaky = {"acme__x-1": [BROKEN, FULL, "tests/test_x.py::test_not_in_the_task", f"{OK} (x)"], "other-1": [OK]}
    # flag: graded as before; the result names the failing flaky tests (the cut id matches the full one)
    flagged = graded(flaky, "flag")
    assert flagged.status == Status.UNRESOLVED and (flagged.p2p_passed, flagged.p2p_total) == (1, 3)
    assert flagged.flaky_tests == 2 and flagged.flaky_failed == [BROKEN, CUT]
    assert flagged.error.startswith("2 of the failing tests are known to be flaky: ")
    # ignore: the flaky tests are left out, so they can't fail the instance
    ignored = graded(flaky, "ignore")
    assert ignored.status == Status.RESOLVED, ignored.test_output
    assert (ignored.f2p_passed, ignored.f2p_total, ignored.p2p_passed, ignored.p2p_total) == (1, 1, 1, 1)
    assert ignored.flaky_tests == 2 and ignored.flaky_failed == [] and ignored.error is None
    # ...nor pass it: with every FAIL_TO_PASS test ignored, nothing shows the fix works
    no_f2p = graded({"acme__x-1": [FIX, BROKEN, FULL]}, "ignore")
    assert no_f2p.status == Status.UNRESOLVED and not no_f2p.resolved
    assert "every FAIL_TO_PASS test is flaky" in no_f2p.error
    # a flaky test that passed this time: nothing to flag
    calm = graded({"acme__x-1": [OK]}, "flag")
    assert calm.flaky_tests == 1 and calm.flaky_failed == [] and calm.error is None
    with pytest.raises(ValueError, match="flaky policy"):
        TestScorer(flaky_policy="sometimes")


def test_flaky_file_is_checked(tmp_path):
    good = tmp_path / "flaky.json"
    good.write_text(json.dumps({"a-1": ["t::x"]}))
    assert read_flaky_file(good) == {"a-1": ["t::x"]}
    for text in ("[]", '{"a-1": "t::x"}', '{"a-1": [1]}', "{"):
        good.write_text(text)
        with pytest.raises(UserError, match="--flaky"):
            read_flaky_file(good)
    with pytest.raises(UserError, match="cannot read"):
        read_flaky_file(tmp_path / "nowhere.json")


@pytest.mark.parametrize("args, message", [
    (["--flaky-policy", "ignore"], "--flaky-policy needs --flaky FILE"),
    (["--flaky", "nowhere.json"], "--flaky nowhere.json: cannot read it"),
    (["--flaky", "flaky.json", "--scorer", "other"], "--flaky: the other scorer takes no option flaky"),
    (["--flaky", "flaky.json", "--scorer", "nosuch"], "--flaky: unknown scorer 'nosuch'"),
])
def test_eval_flaky_option_errors(tmp_path, capsys, monkeypatch, args, message):
    class _Other:  # a scorer with no options
        name = "other"

    monkeypatch.setitem(SCORERS, "other", _Other)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flaky.json").write_text("{}")
    assert main(["eval", "--agent", "gold", "--reports-dir", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_report_shows_flaky_tests(tmp_path):
    from evalharness.report.load import load_run
    from evalharness.report.site import build_site

    run_dir = tmp_path / "r"
    run_dir.mkdir()
    store = ResultStore(run_dir)
    (run_dir / "run.json").write_text(json.dumps({
        "run_id": "r", "dataset": "d", "agent": "gold", "instances": 2,
        "settings": {"flaky": {"file": "flaky.json", "policy": "flag", "instances": 1, "tests": 2}},
        "test_env": {"TZ": "UTC", "PYTHONHASHSEED": "0"}}))
    common = dict(run_id="r", model="", agent="gold", dataset="d", repo="o/r", version="1")
    store.add(InstanceRecord(instance_id="a-1", status="unresolved", resolved=False, flaky_tests=2,
                             flaky_failed="t::coin[x, y]\nt::other", **common))
    store.add(InstanceRecord(instance_id="b-1", status="resolved", resolved=True, **common))
    store.compact()
    run = load_run(run_dir)
    assert run.by_id["a-1"].flaky_failed == "t::coin[x, y]\nt::other"  # through Parquet
    index = build_site([run], tmp_path / "site")
    page = (index.parent / "runs" / "r" / "index.html").read_text()
    assert ">Flaky</th>" in page and '2 <span class="neg">(2 failed)</span>' in page
    assert "flaky tests: policy <b>flag</b>, 2 test(s) of 1 instance(s) listed" in page
    assert '<span class="mono">PYTHONHASHSEED=0</span> <span class="mono">TZ=UTC</span>' in page
    instance = (index.parent / "runs" / "r" / "i" / "a-1.html").read_text()
    assert "2 test(s) of FAIL_TO_PASS/PASS_TO_PASS are known to be flaky (policy flag); failing here:" in instance
    assert "<li>t::coin[x, y]</li>" in instance
    assert "known to be flaky" not in (index.parent / "runs" / "r" / "i" / "b-1.html").read_text()


# ---------------------------------------------------------------- Docker: a planted flaky test

PLANTED_FILE = "tests/test_planted_flaky.py"
COIN = f"{PLANTED_FILE}::test_coin"
STEADY = f"{PLANTED_FILE}::test_fixed_environment"
PLANTED = """\
import os
import random
import sys
import time


def test_coin():
    # unseeded: the interpreter seeds random from os.urandom, whatever PYTHONHASHSEED is
    assert random.random() < 0.5


def test_fixed_environment():
    assert os.environ["TZ"] == "UTC" and time.strftime("%Z", time.localtime(0)) == "UTC"
    assert os.environ["LANG"] == os.environ["LC_ALL"] == "C.UTF-8"
    assert os.environ["PYTHONHASHSEED"] == "0" and sys.flags.hash_randomization == 0
    print("HASH_OF_A=%d" % hash("a"))
"""


def _new_file_diff(path: str, text: str) -> str:
    lines = text.splitlines()
    return (f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
            f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}\n" for line in lines))


def planted(task: Task, text: str = PLANTED, p2p: tuple[str, ...] = (COIN, STEADY)) -> Task:
    """A copy of a built-in task whose test_patch also adds PLANTED_FILE, its tests in PASS_TO_PASS."""
    return dataclasses.replace(task, test_patch=task.test_patch + _new_file_diff(PLANTED_FILE, text),
                               PASS_TO_PASS=(*task.PASS_TO_PASS, *p2p))


def _builtin(instance_id: str) -> Task:
    from evalharness.tasks.datasets import load_tasks

    return next(t for t in load_tasks("builtin") if t.instance_id == instance_id)


def _statuses(run_dir: Path, instance_id: str) -> dict[str, str]:
    return json.loads((run_dir / "logs" / safe_name(instance_id) / "test_statuses.json").read_text())


@pytest.mark.docker
def test_validate_repeats_catches_a_planted_flaky_test(tmp_path, docker_client, cache_dir, capsys):
    from evalharness.tasks.datasets import write_jsonl

    flaky_task = planted(_builtin("evalharness__textkit-1"))
    steady_task = _builtin("evalharness__spans-2")
    dataset = write_jsonl([flaky_task, steady_task], tmp_path / "tasks.jsonl")
    root = tmp_path / "reports" / "check"
    repeats = 3
    while True:
        argv = ["validate", "--dataset", str(dataset), "--reports-dir", str(root.parent), "--run-id", "check",
                "--cache-dir", str(cache_dir), "--no-progress", "--workers", "2", "--repeats", str(repeats)]
        code = main(argv)
        out = capsys.readouterr().out
        runs = [root / repeat_run_id(control, n) for control in ("gold", "empty") for n in range(1, repeats + 1)]
        coins = [{_statuses(root / repeat_run_id(control, n), flaky_task.instance_id)[COIN]
                  for n in range(1, repeats + 1)} for control in ("gold", "empty")]
        # Neither control's N coins changed: 4 in 2**(2N) (1/16 at N=3); then more repeats (the first are kept).
        if any(len(seen) > 1 for seen in coins) or repeats >= 12:
            break
        repeats += 3
    assert {"PASSED", "FAILED"} in coins, "the planted test never changed its verdict"
    assert code == 1  # a graded test that is flaky is a problem
    assert json.loads((root / "flaky.json").read_text()) == {flaky_task.instance_id: [COIN]}
    assert f"flaky tests in {repeats} repeats: 1 in 1 instance(s)\n  {flaky_task.instance_id}\n    {COIN} (graded)" in out
    saved = json.loads((root / "validation.json").read_text())
    rows = {r["instance_id"]: r for r in saved["rows"]}
    assert rows[steady_task.instance_id]["problem"] is None and rows[steady_task.instance_id]["flaky"] == {}
    assert rows[steady_task.instance_id]["gold_verdicts"] == ["resolved"] * repeats
    row = rows[flaky_task.instance_id]
    gold_coins = [_statuses(root / repeat_run_id("gold", n), flaky_task.instance_id)[COIN]
                  for n in range(1, repeats + 1)]
    expected = {"PASSED": "resolved", "FAILED": "unresolved"}
    assert row["gold_verdicts"] == [expected[c] for c in gold_coins]  # gold resolves exactly when the coin passes
    if len(set(gold_coins)) > 1:
        assert row["problem"] == VERDICT_CHANGED and f"{VERDICT_CHANGED}: gold (1)" in out
    else:
        assert row["problem"] in (FLAKY_GRADED, GOLD_NOT_RESOLVED)
    # everything else ran the same every time, in the one fixed environment
    for run in runs:
        statuses = _statuses(run, flaky_task.instance_id)
        assert statuses[STEADY] == "PASSED", run
    hashes = {m for run in runs for m in re.findall(r"HASH_OF_A=(-?\d+)",
                                                    (run / "logs" / flaky_task.instance_id / "test_output.txt").read_text())}
    assert len(hashes) == 1, hashes
    meta = json.loads((root / "gold-2" / "run.json").read_text())
    assert meta["test_env"]["PYTHONHASHSEED"] == "0" and meta["agent"] == "gold"
    assert "## Flakiness" in (root / "validation.md").read_text()


@pytest.mark.docker
def test_tests_run_in_the_fixed_environment_whatever_the_image_sets(tmp_path, docker_client, cache_dir):
    """An image (like SWE-bench's official ones) that sets another zone, locale and a random hash seed."""
    import io

    from evalharness.env.docker import running_container
    from evalharness.tasks.datasets import default_tasks_dir
    from evalharness.env.images import BuildConfig, ImageBuilder
    from evalharness.tasks.repos import BuiltinRepos
    from evalharness.tasks.specs import SpecRegistry

    task = planted(_builtin("evalharness__textkit-1"))
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir),
                           [BuiltinRepos(default_tasks_dir() / "repos", cache_dir)])
    spec = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"]).get(task.repo, task.version)
    base = builder.image_for(task, spec).tag
    tag = "evalharness-test-ambient:" + re.sub(r"[^a-z0-9]", "", base.split(":")[-1])[:40]
    dockerfile = f"FROM {base}\nENV TZ=America/New_York LANG=C LC_ALL=POSIX PYTHONHASHSEED=random\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    try:
        with running_container(docker_client, tag, run_id="ambient-env", instance_id=task.instance_id,
                               purpose="eval") as env:
            assert env.exec("echo $TZ $PYTHONHASHSEED").output.split() == ["America/New_York", "random"]
            result = TestScorer().score(task, task.patch, env, spec)
    finally:
        docker_client.images.remove(tag, force=True)
    assert result.test_statuses[STEADY] == "PASSED", result.test_output
    assert "+ export PYTHONHASHSEED=0" in result.test_output


@pytest.mark.docker
def test_eval_grades_by_the_flaky_policy(tmp_path, docker_client, cache_dir, capsys):
    """A P2P test that always fails stands for a flaky one that failed this time."""
    from evalharness.tasks.datasets import write_jsonl

    broken = "def test_coin():\n    assert False\n"
    task = planted(_builtin("evalharness__confini-4"), text=broken, p2p=(COIN,))
    dataset = write_jsonl([task], tmp_path / "tasks.jsonl")
    flaky = tmp_path / "flaky.json"
    flaky.write_text(json.dumps({task.instance_id: [COIN]}))
    reports = tmp_path / "reports"
    base = ["eval", "--agent", "gold", "--dataset", str(dataset), "--reports-dir", str(reports),
            "--cache-dir", str(cache_dir), "--no-progress"]
    records = {}
    for name, extra in (("plain", []), ("flag", ["--flaky", str(flaky)]),
                        ("ignore", ["--flaky", str(flaky), "--flaky-policy", "ignore"])):
        assert main([*base, "--run-id", name, *extra]) == 0
        records[name] = ResultStore(reports / name).load()[task.instance_id]
    capsys.readouterr()
    total = len(task.PASS_TO_PASS)
    assert records["plain"].status == "unresolved" and records["plain"].p2p_passed == total - 1
    assert records["flag"].status == "unresolved" and records["flag"].p2p_total == total
    assert records["flag"].error == f"1 of the failing tests are known to be flaky: {COIN}"
    assert records["ignore"].status == "resolved", records["ignore"].error
    assert records["ignore"].p2p_passed == records["ignore"].p2p_total == total - 1
    meta = json.loads((reports / "ignore" / "run.json").read_text())
    assert meta["settings"]["flaky"] == {"file": str(flaky), "policy": "ignore", "instances": 1, "tests": 1}
    assert "flaky" not in json.loads((reports / "plain" / "run.json").read_text())["settings"]


@pytest.mark.docker
def test_the_record_carries_the_flaky_fields(tmp_path, docker_client, cache_dir, capsys):
    from evalharness.tasks.datasets import write_jsonl

    task = planted(_builtin("evalharness__confini-4"), text="def test_coin():\n    assert False\n", p2p=(COIN,))
    flaky = tmp_path / "flaky.json"
    flaky.write_text(json.dumps({task.instance_id: [COIN]}))
    assert main(["eval", "--agent", "gold", "--dataset", str(write_jsonl([task], tmp_path / "tasks.jsonl")),
                 "--reports-dir", str(tmp_path), "--run-id", "flag", "--cache-dir", str(cache_dir), "--no-progress",
                 "--flaky", str(flaky)]) == 0
    record = ResultStore(tmp_path / "flag").load()[task.instance_id]
    assert (record.flaky_tests, record.flaky_failed) == (1, COIN)
