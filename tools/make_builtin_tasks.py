#!/usr/bin/env python3
"""Regenerate tasks/builtin.jsonl from tasks/repos/ and tasks/src/.

    python tools/make_builtin_tasks.py            # write tasks/builtin.jsonl
    python tools/make_builtin_tasks.py --check    # exit 1 if the file is out of date

Each task is described by tasks/src/<repo>/<n>.toml (instance id
`evalharness__<repo>-<n>`):

    difficulty = "<15 min fix"
    created_at = "2024-03-01T12:00:00Z"
    hints_text = ""              # optional
    problem_statement = '''...'''

    [[patch]]                    # the gold fix: library files only
    file = "pkg/module.py"
    old = '''exact text, found exactly once'''
    new = '''its replacement'''

    [[test_patch]]               # the tests: files under tests/ only
    file = "tests/test_module.py"
    append = '''text added at the end of the file'''

    [[test_patch]]
    file = "tests/test_new.py"
    content = '''a whole new file'''

For every task the script commits the repo's base tree in a scratch git repo,
makes the edits, takes `git diff` of them as the patches, then runs the test
files the test patch touches at base+test_patch and at base+test_patch+gold to
derive FAIL_TO_PASS and PASS_TO_PASS.  The output depends only on the files
in tasks/, so running it twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "tasks"
REPOS = TASKS / "repos"
SRC = TASKS / "src"
OUTPUT = TASKS / "builtin.jsonl"

sys.path.insert(0, str(ROOT))
from evalharness.tasks.repos import DETERMINISTIC_GIT_ENV, builtin_commit  # noqa: E402
from evalharness.core.task import DIFFICULTIES, SWEBENCH_FIELDS  # noqa: E402

VERSION = "1.0"
FIELDS = SWEBENCH_FIELDS
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


class TaskError(Exception):
    pass


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        env={**os.environ, **DETERMINISTIC_GIT_ENV},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise TaskError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout


def scratch_repo(source: Path, dest: Path) -> Path:
    """A git work tree holding `source` as its only commit."""
    shutil.copytree(source, dest, ignore=_IGNORE)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "--no-gpg-sign", "-m", "Initial import")
    return dest


def reset(work: Path) -> None:
    git(work, "reset", "-q", "--hard", "HEAD")
    git(work, "clean", "-q", "-fdx")


def apply_edits(work: Path, edits: list[dict], where: str) -> None:
    for i, edit in enumerate(edits):
        label = f"{where}[{i}] ({edit.get('file')})"
        path = work / edit["file"]
        if "content" in edit:
            if path.exists():
                raise TaskError(f"{label}: 'content' creates a file, but it exists")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(edit["content"], encoding="utf-8")
            continue
        text = path.read_text(encoding="utf-8")
        if "append" in edit:
            text += edit["append"]
        else:
            count = text.count(edit["old"])
            if count != 1:
                raise TaskError(f"{label}: 'old' text found {count} times, expected once")
            text = text.replace(edit["old"], edit["new"])
        path.write_text(text, encoding="utf-8")


def diff(work: Path) -> str:
    git(work, "add", "-A")
    patch = git(work, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames")
    reset(work)
    if not patch.strip():
        raise TaskError(f"edits in {work} changed nothing")
    return patch


def patch_files(patch: str) -> list[str]:
    files: list[str] = []
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            name = line.split(" b/", 1)[1]
            if name not in files:
                files.append(name)
    return files


def is_test_file(path: str) -> bool:
    return path.startswith("tests/") or Path(path).name.startswith("test_")


def run_tests(work: Path, files: list[str]) -> dict[str, bool]:
    """Node id -> passed, for every test in `files`, in collection order."""
    report = work.parent / f"{work.name}-junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # Host plugins (the task env has none) would only slow each run down.
    env.update(PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", *files],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    results: dict[str, bool] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        node_id = node_id_of(case.get("classname", ""), case.get("name", ""), files)
        ok = not any(child.tag in ("failure", "error", "skipped") for child in case)
        results[node_id] = results.get(node_id, True) and ok
    report.unlink()
    return results


def node_id_of(classname: str, name: str, files: list[str]) -> str:
    """Undo junitxml's mangling (tests/test_x.py::C::t -> classname tests.test_x.C, name t)."""
    for path in files:
        module = path.removesuffix(".py").replace("/", ".")
        if classname == module or classname.startswith(module + "."):
            classes = [c for c in classname[len(module) + 1 :].split(".") if c]
            return "::".join([path, *classes, name])
    raise TaskError(f"junit test {classname}.{name} is in none of {files}")


def build_task(repo_name: str, number: int, spec: dict, base_commit: str, scratch: Path) -> dict:
    instance_id = f"evalharness__{repo_name}-{number}"
    work = scratch_repo(REPOS / repo_name, scratch / instance_id)
    apply_edits(work, spec.get("patch", []), "patch")
    gold = diff(work)
    apply_edits(work, spec.get("test_patch", []), "test_patch")
    test_patch = diff(work)

    gold_files, test_files = patch_files(gold), patch_files(test_patch)
    if any(is_test_file(f) for f in gold_files):
        raise TaskError(f"{instance_id}: the gold patch touches test files {gold_files}")
    if not all(is_test_file(f) for f in test_files):
        raise TaskError(f"{instance_id}: the test patch touches non-test files {test_files}")

    git(work, "apply", "-", stdin=test_patch)
    before = run_tests(work, test_files)
    git(work, "apply", "-", stdin=gold)
    after = run_tests(work, test_files)

    broken = [t for t, ok in after.items() if not ok] + [t for t in before if t not in after]
    if broken:
        raise TaskError(f"{instance_id}: tests fail with the gold patch: {broken}")
    fail_to_pass = [t for t in after if not before.get(t, False)]
    pass_to_pass = [t for t in after if before.get(t, False)]
    if not fail_to_pass:
        raise TaskError(f"{instance_id}: no test fails before the gold patch")

    difficulty = spec["difficulty"]
    if difficulty not in DIFFICULTIES:
        raise TaskError(f"{instance_id}: unknown difficulty {difficulty!r}")
    row = {
        "repo": f"evalharness/{repo_name}",
        "instance_id": instance_id,
        "base_commit": base_commit,
        "patch": gold,
        "test_patch": test_patch,
        "problem_statement": spec["problem_statement"],
        "hints_text": spec.get("hints_text", ""),
        "created_at": spec["created_at"],
        "version": VERSION,
        "FAIL_TO_PASS": json.dumps(fail_to_pass),
        "PASS_TO_PASS": json.dumps(pass_to_pass),
        "environment_setup_commit": base_commit,
        "difficulty": difficulty,
    }
    assert tuple(row) == FIELDS
    return row


def build_all() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="builtin-tasks-") as tmp:
        for repo_dir in sorted(p for p in REPOS.iterdir() if p.is_dir()):
            base_commit = builtin_commit(repo_dir)
            specs = sorted((SRC / repo_dir.name).glob("*.toml"), key=lambda p: int(p.stem))
            if not specs:
                raise TaskError(f"repo {repo_dir.name} has no tasks under {SRC / repo_dir.name}")
            for number, spec_path in enumerate(specs, start=1):
                if int(spec_path.stem) != number:
                    raise TaskError(f"{spec_path}: task files must be numbered 1, 2, 3, ... without gaps")
                spec = tomllib.loads(spec_path.read_text(encoding="utf-8"))
                row = build_task(repo_dir.name, number, spec, base_commit, Path(tmp))
                f2p = json.loads(row["FAIL_TO_PASS"])
                p2p = json.loads(row["PASS_TO_PASS"])
                print(f"{row['instance_id']}: {len(f2p)} FAIL_TO_PASS, {len(p2p)} PASS_TO_PASS", file=sys.stderr)
                rows.append(row)
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with tasks/builtin.jsonl instead of writing it")
    args = parser.parse_args(argv)
    try:
        text = render(build_all())
    except TaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{OUTPUT} is up to date", file=sys.stderr)
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.splitlines())} tasks to {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
