"""The agent's patch: what changed in the working tree since base_commit, as one diff.

New files are included (`git add -A`); files the image's git excludes list as build junk
(__pycache__, *.egg-info, build/ ...) never enter the index; binary files are left out,
since a text diff cannot carry them and SWE-bench patches are text.
"""

from __future__ import annotations

import shlex
from typing import Callable

from evalharness.environment import ExecResult


def collect_patch(run: Callable[[str], ExecResult], base_commit: str) -> str:
    """Stage everything, unstage binaries, and return `git diff --cached base_commit`.

    Raises RuntimeError if git fails: the caller records that as an agent error.
    """
    staged = run("git add -A && git diff --cached --no-renames --numstat -z " + shlex.quote(base_commit))
    if staged.exit_code != 0:
        raise RuntimeError(f"git add/diff failed: {staged.output.strip()[-300:]}")
    binaries = binary_paths(staged.output)
    if binaries:
        unstaged = run("git reset -q -- " + " ".join(shlex.quote(p) for p in binaries))
        if unstaged.exit_code != 0:
            raise RuntimeError(f"git reset failed: {unstaged.output.strip()[-300:]}")
    diff = run("git -c core.fileMode=false diff --cached --no-color " + shlex.quote(base_commit))
    if diff.exit_code != 0:
        raise RuntimeError(f"git diff failed: {diff.output.strip()[-300:]}")
    return diff.output


def binary_paths(numstat_z: str) -> list[str]:
    """Paths `git diff --numstat -z` reports as binary ("-\\t-\\tpath")."""
    paths = []
    for entry in numstat_z.split("\0"):
        parts = entry.split("\t", 2)
        if len(parts) == 3 and parts[0] == "-" and parts[1] == "-":
            paths.append(parts[2].lstrip("\n"))
    return paths
