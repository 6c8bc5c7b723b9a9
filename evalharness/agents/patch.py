"""The agent's patch: what changed in the working tree since base_commit, as one diff.

New files are included (`git add -A`), build junk (BUILD_JUNK: __pycache__, *.egg-info,
build/ ...) is not: the image leaves what its install wrote untracked and visible, as
SWE-bench's official images do, and the patch leaves it out through an excludes file of its
own (untracked files only, like .gitignore: a tracked file under build/ still counts).
Binary files are left out, since a text diff cannot carry them and SWE-bench patches are text.
"""

from __future__ import annotations

import base64
import re
import shlex
from typing import Callable

from evalharness.env.base import ExecResult

PATCH_FILE = "/tmp/.evalharness-agent.patch"
CHUNK_BYTES = 384 << 10  # base64 of a chunk stays well within a shell session's output limit
MAX_PATCH_BYTES = 10 << 20  # the scorer refuses larger patches anyway
SIZE_MARKER = "evalharness-patch-size"
# Untracked files an install or a test run makes, never part of an agent's patch (gitignore syntax).
BUILD_JUNK = ("*.egg-info/", "__pycache__/", "*.pyc", ".pytest_cache/", "build/", ".eggs/", "*.so")
JUNK_FILE = "/tmp/.evalharness-junk"


def collect_patch(run: Callable[[str], ExecResult], base_commit: str, junk: tuple[str, ...] = BUILD_JUNK) -> str:
    """Stage everything but `junk` and return `git diff --cached base_commit`, less binary files.

    One shell round trip when the diff fits in a chunk (nearly always): git's two commands,
    the size and the base64 in one command line; larger diffs come back in more chunks.
    Raises RuntimeError if git fails: the caller records that as an agent error.
    """
    # Through a file and back in base64: a shell session cuts long outputs, which would corrupt
    # a large diff, and decoding it as text would mangle bytes that are not UTF-8.
    # git may warn on stderr (merged into the output: line endings under .gitattributes), so the
    # size comes on a line of its own after a marker, and the base64 after it.
    patterns = " ".join(shlex.quote(pattern) for pattern in junk) or "''"
    command = (f"printf '%s\\n' {patterns} > {JUNK_FILE} && git -c core.excludesFile={JUNK_FILE} add -A && "
               f"git -c core.fileMode=false diff --cached --no-color {shlex.quote(base_commit)} "
               f"> {PATCH_FILE} && size=$(stat -c %s {PATCH_FILE}) && echo && echo \"{SIZE_MARKER} $size\" && "
               f"if [ \"$size\" -le {CHUNK_BYTES} ]; then base64 -w0 {PATCH_FILE}; rm -f {PATCH_FILE}; fi")
    written = run(command)
    if written.exit_code != 0 and not written.output.strip():
        written = run(command)  # a failure that said nothing is the engine's, not git's: once more
    sized = re.search(rf"(?m)^{SIZE_MARKER} (\d+)$\n?", written.output)
    if written.exit_code != 0 or sized is None:
        said = written.output.strip()[-300:] or "(no output)"
        raise RuntimeError(f"git add/diff failed (exit {written.exit_code}): {said}")
    total, rest = int(sized.group(1)), written.output[sized.end():]
    if total > MAX_PATCH_BYTES:
        run(f"rm -f {PATCH_FILE}")
        raise RuntimeError(f"the diff is {total} bytes, more than a patch may be ({MAX_PATCH_BYTES})")
    if total <= CHUNK_BYTES:
        chunks = [rest]  # came with the first command, which removed the file
    else:
        chunks = [run(f"dd if={PATCH_FILE} bs={CHUNK_BYTES} skip={block} count=1 2>/dev/null | base64 -w0").output
                  for block in range((total + CHUNK_BYTES - 1) // CHUNK_BYTES)]
        run(f"rm -f {PATCH_FILE}")
    data = bytearray()
    for chunk in chunks:
        try:
            data += base64.b64decode(chunk.strip(), validate=True)
        except ValueError:
            raise RuntimeError("the diff did not come back whole") from None
    if len(data) != total:
        raise RuntimeError(f"the diff changed while being read ({total} bytes, then {len(data)})")
    return text_only(without_binaries(bytes(data)))


def without_binaries(diff: bytes) -> bytes:
    """The diff less the sections of binary files (git writes "Binary files ... differ" in
    their header instead of hunks): a text patch cannot carry them, and SWE-bench patches are text."""
    if b"Binary files " not in diff:
        return diff
    kept = []
    for section in re.split(rb"(?m)^(?=diff --git )", diff):
        header = re.split(rb"(?m)^(?:--- |@@ )", section, maxsplit=1)[0]
        if not re.search(rb"(?m)^Binary files .* differ$", header):
            kept.append(section)
    return b"".join(kept)


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
