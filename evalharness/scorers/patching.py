"""Apply a model's patch to the repo in an environment, with the official fallbacks.

One `env.write_file` (the patch) and one `env.exec` (a bash script that tries each
method in turn, resets the tree between tries, and prints a marker line naming the
method that worked).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from evalharness.environment import Environment

# (method name reported in ApplyResult.method, command; "$P" is the patch file)
METHODS: tuple[tuple[str, str], ...] = (
    ("git apply", 'git apply --verbose "$P"'),
    ("git apply --3way", 'git apply --verbose --3way "$P"'),
    ("git apply --reject", 'git apply --verbose --reject "$P"'),
    ("patch --fuzz=5", 'patch --batch --forward --no-backup-if-mismatch --fuzz=5 -p1 -i "$P"'),
)
APPLY_TIMEOUT = 300
_OK_MARKER = ">>>>> APPLY OK"
_FAILED_MARKER = ">>>>> APPLY FAILED"
_OK_LINE = re.compile(rf"^{re.escape(_OK_MARKER)} (\d+) (orig|lf)$", re.M)
# Lines that carry file names in a unified/git diff.
_PATH_LINE = re.compile(r"^(diff --git |--- |\+\+\+ |rename from |rename to |copy from |copy to )(.*)$")
_DOTDOT = re.compile(r'(^|[/\s"])\.\.([/\s"]|$)')
_STRUCTURAL = ("diff --git ", "--- ", "+++ ", "@@ ")


@dataclass(frozen=True)
class ApplyResult:
    applied: bool
    method: str | None  # one of the METHODS names, None when nothing applied
    log: str


ADDED, MODIFIED, DELETED = "added", "modified", "deleted"


@dataclass(frozen=True)
class FileChange:
    path: str  # the path after the patch (the old one for a deletion)
    kind: str  # ADDED, MODIFIED or DELETED; a rename's new path counts as ADDED


def file_changes(patch: str) -> list[FileChange]:
    """What a patch does to each file, for git diffs and plain unified diffs alike.

    Paths drop the a/ b/ prefixes. A rename's or copy's new path counts as ADDED (it did
    not exist at base_commit) and a rename's old path as DELETED. Hunk bodies are skipped
    by their line counts, so a content line that looks like a header is never one.
    """
    changes: dict[str, str] = {}
    lines = [line.rstrip("\r") for line in patch.splitlines()]
    current: dict[str, str | None] = {}

    def close() -> None:
        kind = current.get("kind") or MODIFIED
        path = current.get("old") if kind == DELETED else current.get("new") or current.get("old")
        if path:
            changes[path] = kind
        current.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        hunk = _HUNK.match(line)
        if hunk:
            old_left = int(hunk.group(1) or 1)
            new_left = int(hunk.group(2) or 1)
            i += 1
            while i < len(lines) and (old_left > 0 or new_left > 0):
                body = lines[i]
                if body.startswith("-"):
                    old_left -= 1
                elif body.startswith("+"):
                    new_left -= 1
                elif body.startswith("\\"):
                    pass  # "\ No newline at end of file"
                else:
                    old_left -= 1
                    new_left -= 1
                i += 1
            continue
        if line.startswith("diff --git "):
            close()
            left, _, right = line[len("diff --git "):].partition(" b/")
            current.update(old=_strip_prefix(left), new=right or None)
        elif line.startswith("--- "):
            if current.get("new") is not None and "diff" not in current:
                close()  # a plain diff's next file
            name = _header_path(line)
            if name is None:
                current["kind"] = ADDED
            elif not current.get("old"):
                current["old"] = name
        elif line.startswith("+++ "):
            name = _header_path(line)
            if name is None:
                current["kind"] = DELETED
            elif not current.get("new"):
                current["new"] = name
        elif line.startswith("new file mode"):
            current["kind"] = ADDED
        elif line.startswith("deleted file mode"):
            current["kind"] = DELETED
        elif line.startswith("rename from "):
            changes[line[len("rename from "):]] = DELETED
        elif line.startswith(("rename to ", "copy to ")):
            current["new"] = line.split(" to ", 1)[1]
            current["kind"] = ADDED
        if line.startswith("diff --git "):
            current["diff"] = "git"
        i += 1
    close()
    return [FileChange(path, kind) for path, kind in changes.items()]


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def _header_path(line: str) -> str | None:
    """The path of a ---/+++ header line; None for /dev/null."""
    name = line[4:].split("\t", 1)[0].strip()
    return None if name == "/dev/null" else _strip_prefix(name)


def _strip_prefix(name: str) -> str:
    return name[2:] if name.startswith(("a/", "b/")) else name


def apply_patch(
    env: Environment, patch: str, path: str = "/tmp/model.patch", timeout: float | None = APPLY_TIMEOUT
) -> ApplyResult:
    """Apply `patch` in env.workdir, trying each of METHODS on a freshly reset tree.

    `git apply --reject` and `patch` only count when no hunk was rejected (exit code 0
    and no new .rej file): a partial apply is a failure. A patch whose header lines end
    in CRLF (a diff that went through a text-mode conversion) is also tried with the
    trailing CRs stripped, first; one with CRs only in its content lines is tried as is
    first (its target files may really be CRLF). Paths that leave the repo (`..`,
    absolute) are refused before anything runs.
    """
    bad = unsafe_paths(patch)
    if bad:
        return ApplyResult(
            applied=False,
            method=None,
            log="refused: the patch touches paths outside the repository: " + ", ".join(bad) + "\n",
        )
    if not patch.endswith("\n"):
        patch += "\n"
    env.write_file(path, patch)
    result = env.exec(_apply_script(path, _variants(patch)), timeout=timeout, workdir=env.workdir)
    log = result.output
    if result.timed_out:
        return ApplyResult(False, None, log + f"\napplying the patch timed out after {timeout}s\n")
    matches = _OK_LINE.findall(log)
    if result.exit_code == 0 and matches:
        index, variant = matches[-1]
        method = METHODS[int(index)][0]
        return ApplyResult(True, method, log)
    return ApplyResult(False, None, log)


def unsafe_paths(patch: str) -> list[str]:
    """File names in the patch that are absolute or climb out with `..`."""
    bad: list[str] = []
    for line in patch.splitlines():
        match = _PATH_LINE.match(line.rstrip("\r"))
        if not match:
            continue
        kind, text = match.group(1), match.group(2)
        if kind in ("--- ", "+++ "):
            text = text.split("\t", 1)[0]
            if text == "/dev/null":
                continue
        if kind == "diff --git ":
            absolute = text.startswith(("/", '"/')) or " /" in text or ' "/' in text
        else:
            absolute = text.startswith(("/", '"/'))
        if absolute or _DOTDOT.search(text):
            if text not in bad:
                bad.append(text)
    return bad


def _variants(patch: str) -> list[str]:
    """Which versions of the patch file to try: "orig" as written, "lf" with CRs stripped."""
    if "\r" not in patch:
        return ["orig"]
    converted = any(
        line.startswith(_STRUCTURAL) and line.endswith("\r") for line in patch.split("\n")
    )
    return ["lf", "orig"] if converted else ["orig", "lf"]


def _apply_script(path: str, variants: list[str]) -> str:
    tries = []
    for variant in variants:
        source, shown = ("$ORIG", path) if variant == "orig" else ("$LF", path + ".lf")
        for index, (_name, command) in enumerate(METHODS):
            display = command.replace('"$P"', shlex.quote(shown))
            tries.append(f"try_method {index} {variant} {source} {shlex.quote(command)} {shlex.quote(display)}")
    lf_setup = 'sed "s/\\r$//" "$ORIG" > "$LF"' if "lf" in variants else ":"
    return _SCRIPT.format(
        orig=shlex.quote(path),
        lf=shlex.quote(path + ".lf"),
        lf_setup=lf_setup,
        tries="\n".join(tries),
        ok=_OK_MARKER,
        failed=_FAILED_MARKER,
    )


# Untracked files present before we start (build outputs the image made, say) are kept
# by the reset; only what a failed try created is removed. `git reset --hard` (rather
# than `git checkout -- .`) also clears index entries and conflicts `--3way` leaves.
_SCRIPT = r"""
ORIG={orig}
LF={lf}
STAMP=$(mktemp)
{lf_setup}
declare -A KEEP=()
while IFS= read -r -d '' f; do KEEP["$f"]=1; done < <(git ls-files -z -o --exclude-standard)

new_rej() {{
  find . -path ./.git -prune -o -type f -name '*.rej' -newer "$STAMP" -print | grep -q .
}}
reset_tree() {{
  git reset -q --hard
  while IFS= read -r -d '' f; do
    [[ -n "${{KEEP[$f]:-}}" ]] || rm -f -- "$f"
  done < <(git ls-files -z -o --exclude-standard)
  find . -path ./.git -prune -o -type f \( -name '*.rej' -o -name '*.orig' \) -newer "$STAMP" -print0 \
    | xargs -0 -r rm -f --
}}
try_method() {{
  local index=$1 variant=$2 P=$3 command=$4
  echo ">>>>> trying: $5"
  touch "$STAMP"
  eval "$command" 2>&1
  local rc=$?
  if [[ $rc -eq 0 ]] && ! new_rej; then
    [[ $index -eq 1 ]] && git reset -q  # --3way stages its result; leave only the work tree changed
    echo "{ok} $index $variant"
    rm -f "$STAMP"
    exit 0
  fi
  if [[ $rc -eq 0 ]]; then echo ">>>>> rejected hunks (.rej files): counts as not applied"; fi
  echo ">>>>> failed (exit code $rc)"
  reset_tree
}}

{tries}

if git apply --check --reverse "$ORIG" >/dev/null 2>&1; then
  echo ">>>>> note: the patch applies in reverse: its changes seem to be in the tree already"
fi
rm -f "$STAMP"
echo "{failed}"
exit 1
"""
