"""Git helpers the tests share: run git in a repo, and make a diff from file contents."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo, check=True, capture_output=True,
    ).stdout.decode()  # bytes: text=True would turn CRLF into LF


def make_diff(repo: Path, files: dict[str, str | None]) -> str:
    """The diff from HEAD to HEAD + `files` (None deletes); the tree is clean before and after."""
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-fdq")
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached", "--no-color", "HEAD")
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-fdq")
    return diff


def commit_all(root: Path) -> Path:
    """Make `root` a git repo whose one commit holds everything in it (caches ignored)."""
    (root / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def python_env(repo: Path):
    """A LocalEnvironment at `repo` whose PATH finds this interpreter (and its pytest) first."""
    import os
    import sys

    from evalharness.env.local import LocalEnvironment

    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return LocalEnvironment(repo, env={"PATH": path, "PYTHONDONTWRITEBYTECODE": "1"})
