"""The agent's patch: what changed in the working tree since base_commit, as one diff.

New files are included (`git add -A`); files the image's git excludes list as build junk
(__pycache__, *.egg-info, build/ ...) never enter the index; binary files are left out,
since a text diff cannot carry them and SWE-bench patches are text.
"""

from __future__ import annotations

import base64
import re
import shlex
from typing import Callable

from evalharness.environment import ExecResult

PATCH_FILE = "/tmp/.evalharness-agent.patch"
CHUNK_BYTES = 384 << 10  # base64 of a chunk stays well within a shell session's output limit
MAX_PATCH_BYTES = 10 << 20  # the scorer refuses larger patches anyway


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
    # Through a file and back in base64 chunks: a shell session cuts long outputs, which would
    # corrupt a large diff, and decoding it as text would mangle bytes that are not UTF-8.
    written = run(f"git -c core.fileMode=false diff --cached --no-color {shlex.quote(base_commit)} > {PATCH_FILE} "
                  f"&& stat -c %s {PATCH_FILE}")
    if written.exit_code != 0 or not written.output.strip().isdigit():
        raise RuntimeError(f"git diff failed: {written.output.strip()[-300:]}")
    total = int(written.output.strip())
    if total > MAX_PATCH_BYTES:
        raise RuntimeError(f"the diff is {total} bytes, more than a patch may be ({MAX_PATCH_BYTES})")
    data = bytearray()
    for block in range(0, (total + CHUNK_BYTES - 1) // CHUNK_BYTES):
        chunk = run(f"dd if={PATCH_FILE} bs={CHUNK_BYTES} skip={block} count=1 2>/dev/null | base64 -w0")
        try:
            data += base64.b64decode(chunk.output.strip(), validate=True)
        except ValueError:
            raise RuntimeError("the diff did not come back whole") from None
    run(f"rm -f {PATCH_FILE}")
    if len(data) != total:
        raise RuntimeError(f"the diff changed while being read ({total} bytes, then {len(data)})")
    return text_only(bytes(data))


def text_only(diff: bytes) -> str:
    """The diff without the files whose changes are not UTF-8 text (like binaries, a text patch can't carry them)."""
    try:
        return diff.decode("utf-8")
    except UnicodeDecodeError:
        pass
    kept = []
    for section in re.split(rb"(?m)^(?=diff --git )", diff):
        try:
            kept.append(section.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return "".join(kept)


def binary_paths(numstat_z: str) -> list[str]:
    """Paths `git diff --numstat -z` reports as binary ("-\\t-\\tpath")."""
    paths = []
    for entry in numstat_z.split("\0"):
        parts = entry.split("\t", 2)
        if len(parts) == 3 and parts[0] == "-" and parts[1] == "-":
            paths.append(parts[2].lstrip("\n"))
    return paths
