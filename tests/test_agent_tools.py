"""The agent's editor, output truncation, patch collection and context elision, on a host folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from evalharness.agents.context import ELIDED, elide_to_fit, estimate_tokens, for_api
from evalharness.agents.editor import Editor, EditorError
from evalharness.agents.patch import PATCH_FILE, collect_patch, without_binaries
from evalharness.agents.tools import truncate_middle
from evalharness.env.local import LocalEnvironment


@pytest.fixture
def repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "mod.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 1\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "run.sh").chmod(0o755)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    return tmp_path, head


@pytest.fixture
def editor(repo):
    env = LocalEnvironment(repo[0])
    return Editor(run=lambda cmd: env.exec(cmd, timeout=30), workdir=str(repo[0]))


def test_view_numbers_lines_and_honours_range(editor):
    out = editor("view", "mod.py")
    assert "     1\tdef f():" in out and "     6\t    return 1" in out
    ranged = editor("view", "mod.py", view_range=[5, -1])
    assert "def g():" in ranged and "def f():" not in ranged
    with pytest.raises(EditorError, match="outside"):
        editor("view", "mod.py", view_range=[9, 12])


def test_view_directory_lists_files_without_hidden_ones(editor):
    out = editor("view", ".")
    assert "./mod.py" in out and ".git" not in out


def test_str_replace_needs_a_unique_exact_match(editor, repo):
    with pytest.raises(EditorError, match="occurs 2 times"):
        editor("str_replace", "mod.py", old_str="    return 1", new_str="    return 2")
    with pytest.raises(EditorError, match="not found"):
        editor("str_replace", "mod.py", old_str="return 3", new_str="x")
    out = editor("str_replace", "mod.py", old_str="def g():\n    return 1", new_str="def g():\n    return 2")
    assert "return 2" in out
    assert (repo[0] / "mod.py").read_text().endswith("def g():\n    return 2\n")


def test_insert_create_and_undo(editor, repo):
    root = repo[0]
    editor("insert", "mod.py", insert_line=0, new_str="import os")
    assert (root / "mod.py").read_text().startswith("import os\ndef f():")
    editor("undo_edit", "mod.py")
    assert (root / "mod.py").read_text().startswith("def f():")
    editor("create", "pkg/new.py", file_text="X = 'é'\n")
    assert (root / "pkg" / "new.py").read_text(encoding="utf-8") == "X = 'é'\n"
    with pytest.raises(EditorError, match="already exists"):
        editor("create", "pkg/new.py", file_text="")
    editor("undo_edit", "pkg/new.py")
    assert not (root / "pkg" / "new.py").exists()
    with pytest.raises(EditorError, match="no edit"):
        editor("undo_edit", "mod.py")


def test_edit_keeps_the_file_mode(editor, repo):
    editor("str_replace", "run.sh", old_str="echo hi", new_str="echo bye")
    assert (repo[0] / "run.sh").stat().st_mode & 0o111


def test_missing_file_and_bad_command_are_model_errors(editor):
    with pytest.raises(EditorError, match="does not exist"):
        editor("view", "nope.py")
    with pytest.raises(EditorError, match="unknown command"):
        editor("delete", "mod.py")


def test_truncate_middle_keeps_head_and_tail_and_counts_the_cut():
    text = "a" * 100 + "b" * 100
    out = truncate_middle(text, 50)
    assert out.startswith("a" * 25) and out.endswith("b" * 25)
    assert "150 characters cut" in out
    assert truncate_middle("short", 50) == "short"


def test_collect_patch_has_new_files_and_no_binaries(repo):
    root, head = repo
    env = LocalEnvironment(root)
    (root / "mod.py").write_text("def f():\n    return 2\n")
    (root / "added.py").write_text("NEW = 1\nBinary files a and b differ\n")  # text that looks like git's note
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    commands = []

    def run(cmd):
        commands.append(cmd)
        return env.exec(cmd, timeout=30)

    patch = collect_patch(run, head)
    assert "+++ b/added.py" in patch and "+Binary files a and b differ" in patch and "return 2" in patch
    assert "blob.bin" not in patch
    assert len(commands) == 1  # a small diff: one round trip
    assert not Path(PATCH_FILE).exists()  # and the file it went through is gone
    # the patch applies cleanly to the base commit
    subprocess.run(["git", "-C", str(root), "stash", "-u", "-q"], check=True)
    check = subprocess.run(["git", "-C", str(root), "apply", "--check", "-"], input=patch.encode())
    assert check.returncode == 0


def test_collect_patch_reads_through_git_warnings(repo):
    """git add warns on stderr (merged into the shell's output) when line endings will change."""
    root, head = repo
    env = LocalEnvironment(root)
    subprocess.run(["git", "-C", str(root), "config", "core.autocrlf", "true"], check=True)
    (root / "mod.py").write_text("def f():\n    return 4\n")
    warned = env.exec("git add -A && git diff --cached --stat", timeout=30)
    assert "warning:" in warned.output  # the repo does make git warn
    subprocess.run(["git", "-C", str(root), "reset", "-q"], check=True)
    patch = collect_patch(lambda cmd: env.exec(cmd, timeout=30), head)
    assert "return 4" in patch and "warning:" not in patch


def test_without_binaries_drops_only_binary_sections():
    text = (b"diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n"
            b"+Binary files a and b differ\n")
    binary = (b"diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..abc\n"
              b"Binary files /dev/null and b/logo.png differ\n")
    moved = b"diff --git a/old.bin b/new.bin\nsimilarity index 100%\nrename from old.bin\nrename to new.bin\n"
    assert without_binaries(text + binary + moved + text) == text + moved + text
    assert without_binaries(text) == text


def test_elision_drops_old_observations_first_and_never_the_task():
    messages = [{"role": "system", "content": "s" * 300}, {"role": "user", "content": "task " * 100}]
    for i in range(6):
        messages.append({"role": "assistant", "content": f"turn {i}"})
        messages.append({"role": "tool", "tool_call_id": str(i), "content": "x" * 3000})
    before = estimate_tokens(messages)
    elided, fits = elide_to_fit(messages, budget=before // 2)
    assert fits and elided >= 1
    tool_contents = [m["content"] for m in messages if m["role"] == "tool"]
    assert tool_contents[0] == ELIDED and tool_contents[-1] == "x" * 3000 and tool_contents[-2] == "x" * 3000
    assert messages[1]["content"] == "task " * 100
    assert all("elided" not in m for m in for_api(messages))
    # too small a budget: everything elidable goes and it still does not fit
    _, fits = elide_to_fit(messages, budget=10)
    assert not fits


def test_collect_patch_through_a_shell_session_keeps_a_large_diff_whole(repo):
    """A diff larger than the shell's output limit (1 MiB) comes back byte for byte and applies."""
    root, head = repo
    env = LocalEnvironment(root)
    (root / "big.py").write_text("".join(f"LINE_{i} = {i!r}  # padding padding padding\n" for i in range(60000)))
    with env.open_shell() as shell:
        patch = collect_patch(lambda cmd: shell.run(cmd, timeout=60), head)
    assert len(patch.encode()) > (1 << 20) and "LINE_59999 = 59999" in patch
    assert "characters cut" not in patch and "bytes cut" not in patch
    subprocess.run(["git", "-C", str(root), "stash", "-u", "-q"], check=True)
    check = subprocess.run(["git", "-C", str(root), "apply", "--check", "-"], input=patch.encode())
    assert check.returncode == 0


def test_collect_patch_leaves_out_files_whose_diff_is_not_utf8(repo):
    root, head = repo
    env = LocalEnvironment(root)
    (root / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (root / "mod.py").write_text("def f():\n    return 3\n")
    patch = collect_patch(lambda cmd: env.exec(cmd, timeout=30), head)
    assert "return 3" in patch and "latin.txt" not in patch and "\ufffd" not in patch


def test_collect_patch_refuses_a_diff_over_the_patch_limit(repo, monkeypatch):
    import evalharness.agents.patch as patch_module

    root, head = repo
    env = LocalEnvironment(root)
    monkeypatch.setattr(patch_module, "MAX_PATCH_BYTES", 1000)
    (root / "big.py").write_text("X = 1\n" * 500)
    with pytest.raises(RuntimeError, match="more than a patch may be"):
        collect_patch(lambda cmd: env.exec(cmd, timeout=30), head)
    assert not Path(PATCH_FILE).exists()
