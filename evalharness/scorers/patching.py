"""Apply a model's patch to the repo in an environment, with the official fallbacks.

One `env.write_file` (the patch) and one `env.exec` (a bash script that tries each
method in turn, resets the tree between tries, and prints a marker line naming the
method that worked). The script's output goes to a file beside the patch and comes back
bounded (`MAX_APPLY_LOG_BYTES`, head and tail kept), whatever the patch makes the tools print.

Nothing may be written outside the repository or into its `.git`: names that are absolute,
climb out with `..` or enter `.git` are refused before anything runs (`unsafe_paths`), git
refuses them itself (and paths beyond a symbolic link), and before `patch` runs, its own
dry run lists the files it would touch, which are checked the same way: `patch` reads names
from indented, `X`-prefixed, `Index:` and context-diff headers that no pre-check parses.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from evalharness.env.base import Environment
from evalharness.scorers.bounded import bounded_command, exec_timeout, timed_out

# (method name reported in ApplyResult.method, command; "$P" is the patch file): the official
# harness's order and flags. `patch --batch` takes a file whose changes look applied already
# for a reversed patch and reverses it; the already-applied cases it would spoil are taken
# out first (ALREADY_APPLIED, the setup's edits, files the install left), see apply_patch.
METHODS: tuple[tuple[str, str], ...] = (
    ("git apply", 'git apply --verbose "$P"'),
    ("git apply --reject", 'git apply --verbose --reject "$P"'),
    ("patch --fuzz=5", 'patch --batch --fuzz=5 -p1 -i "$P"'),
)
# The method recorded for a patch whose changes are all in the tree already (v5's check:
# it applies in reverse and not forward); the tree is left as it is.
ALREADY_APPLIED = "already applied"
APPLY_TIMEOUT = 300
MAX_APPLY_LOG_BYTES = 1 << 20  # the apply log kept: head and tail, the middle cut
# A larger patch is refused (patch_apply_failed, saying so): SWE-bench's largest gold patch
# has 17 KB, and every step that reads a patch (the checks here, the eval script's guard,
# the stored record) takes time and memory in proportion.
MAX_PATCH_BYTES = 10 << 20
_OK_MARKER = ">>>>> APPLY OK"
_FAILED_MARKER = ">>>>> APPLY FAILED"
_OK_LINE = re.compile(rf"^{re.escape(_OK_MARKER)} (-1|\d+) (orig|lf)$", re.M)
# Lines that carry file names in a unified/git diff.
_PATH_LINE = re.compile(  # searched in "\n" + patch: a literal first character makes the search fast
    r"\n(diff --git |--- |\+\+\+ |\*\*\* |Index: |rename from |rename to |copy from |copy to )([^\n]*)"
)
_CONTEXT_RANGE = re.compile(r"^\d+(,\d+)? \*\*\*\*")  # "*** 1,5 ****": a context diff's hunk, not a name
_DOTDOT = re.compile(r'(^|[/\s"])\.\.([/\s"]|$)')
_DOTGIT = re.compile(r'(^|[/\s"])\.git([/\s"]|$)', re.I)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_C_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_CRLF_HEADER = re.compile(r"\n(?:diff --git |--- |\+\+\+ |@@ )[^\n]*\r(?:\n|$)")  # in "\n" + patch


@dataclass(frozen=True)
class ApplyResult:
    applied: bool
    method: str | None  # one of the METHODS names, None when nothing applied
    log: str
    reason: str | None = None  # why nothing applied, in one line (None when applied)
    note: str | None = None  # what to know about how it applied (patch reversed files, say)


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
    absolute) or enter `.git` are refused before anything runs (see the module docstring).
    The script and its log go beside `path` (`<path>.sh`, `<path>.log`).

    Before the methods: a patch whose changes are all in the tree already (it applies in
    reverse, not forward) counts as applied as is (ALREADY_APPLIED); and a file the patch
    adds that the tree holds untracked (an install's output, like build/lib/... of
    `pip install .`, which an agent's `git add -A` picks up in an official image) is
    removed first, so the patch's version replaces it.
    """
    too_large = oversize(patch)
    if too_large:
        return ApplyResult(False, None, f"refused: {too_large}\n", reason=too_large)
    bad = unsafe_paths(patch)
    if bad:
        why = "the patch touches paths outside the repository or inside .git: " + ", ".join(bad)[:500]
        return ApplyResult(applied=False, method=None, log=f"refused: {why}\n", reason=why)
    if not patch.endswith("\n"):
        patch += "\n"
    env.write_file(path, patch_bytes(patch))
    added = [change.path for change in file_changes(patch) if change.kind == ADDED]
    command = bounded_command(path + ".sh", path + ".log", MAX_APPLY_LOG_BYTES, timeout,
                              script=_apply_script(path, _variants(patch), added))
    result = env.exec(command, timeout=exec_timeout(timeout), workdir=env.workdir)
    log = result.output
    if timed_out(result):
        why = f"applying the patch timed out after {timeout}s"
        return ApplyResult(False, None, log + f"\n{why}\n", reason=why)
    matches = _OK_LINE.findall(log)
    if result.exit_code == 0 and matches:
        index, variant = matches[-1]
        method = ALREADY_APPLIED if index == "-1" else METHODS[int(index)][0]
        return ApplyResult(True, method, log, note=_reversed_note(log) if method.startswith("patch ") else None)
    return ApplyResult(False, None, log, reason=_failure_reason(log))


def oversize(patch: str) -> str | None:
    """Why `patch` is too large to grade (more than MAX_PATCH_BYTES as UTF-8), else None."""
    if len(patch) * 4 <= MAX_PATCH_BYTES:
        return None
    size = len(patch_bytes(patch))
    if size <= MAX_PATCH_BYTES:
        return None
    return f"the patch is {size} bytes, more than the {MAX_PATCH_BYTES} bytes a patch may have"


# What the tools say about why a patch failed, for the one-line reason: git's "error: ..." lines
# (its "while searching for:" only introduces the context it could not find), patch's hunk
# failures and "patch: **** ..." complaints, our refusals.
_COMPLAINT = re.compile(
    r"^(?:(?:error|fatal): (?P<git>.+)|patch: \*\*\*\* (?P<patch>.+)|>>>>> refused: (?P<refused>.+)"
    r"|(?P<hunk>Hunk #\d+ FAILED at \d+.*)|(?P<nofile>(?:can't find file to patch|No file to patch).*))$", re.M)
_PATCHING_FILE = re.compile(r"^(?:patching|checking) file (.+)$", re.M)
_SEARCHING = "while searching for:"
MAX_REASON_CHARS = 600  # the reason's details; a longer one loses its middle, never its end


_REVERSED = re.compile(r"^The next patch would (?:create|delete) the file (.+?),?$|^patching file (.+)$"
                       r"|^(Reversed \(or previously applied\) patch detected!  Assuming -R\.)$", re.M)


def _reversed_note(log: str) -> str | None:
    """Which files `patch --batch` applied in reverse (it took their changes for applied already)."""
    tail = log[log.rfind(">>>>> trying: patch "):]
    if "Assuming -R" not in tail:
        return None
    reversed_files, last = [], None
    for match in _REVERSED.finditer(tail):
        if match.group(1) or match.group(2):
            last = (match.group(1) or match.group(2)).strip("'")
            if match.group(1) and "Assuming -R" in tail[match.end():match.end() + 40] and last not in reversed_files:
                reversed_files.append(last)
        elif last and last not in reversed_files:
            reversed_files.append(last)
    names = ", ".join(reversed_files[:10]) or "some files"
    return f"patch --batch applied {names} in reverse (their changes looked applied already)"


def _failure_reason(log: str) -> str:
    """Why nothing applied, in one line: each distinct complaint of the tools, in order.

    git names the failing file and line (`patch failed: f.py:12`, `f.py: patch does not
    apply`) after "while searching for:" and the context it did not find: those lines are
    kept, with the context's first line; patch's "Hunk #1 FAILED at 12" gets its file. A
    reason over MAX_REASON_CHARS loses its middle, so the last complaint survives too.
    """
    if ">>>>> refused: patch would write outside" in log:
        return "patch would write outside the repository or into .git (its dry run said so); git apply failed too"
    methods = "no method applied it (" + ", ".join(name for name, _ in METHODS) + ")"
    details = apply_complaints(log)
    return methods + (": " + cut_middle("; ".join(details), MAX_REASON_CHARS) if details else "")


def apply_complaints(log: str) -> list[str]:
    """The distinct complaints in an apply log (see _failure_reason), in order; git's search
    context is put after the `patch failed: file:line` it belongs to."""
    found: list[str] = []
    context = ""
    for match in _COMPLAINT.finditer(log):
        text = next(value for value in match.groupdict().values() if value).strip()
        if match.group("git") and text.startswith(_SEARCHING):
            context = next((line.strip() for line in log[match.end():].splitlines()[:12] if line.strip()), "")
            continue
        if match.group("git") and text.startswith("patch failed:") and context:
            text, context = f"{text} ({_SEARCHING} {cut_middle(context, 80)})", ""
        elif match.group("hunk"):
            files = _PATCHING_FILE.findall(log, 0, match.start())
            text = f"{text.rstrip('.')} in {files[-1].strip(chr(39))}" if files else text
        if text not in found:
            found.append(text)
    return found


def cut_middle(text: str, limit: int) -> str:
    """`text` within `limit` characters: head and tail kept, the middle replaced by " … "."""
    if len(text) <= limit:
        return text
    keep = max(limit - 3, 2)
    return text[:keep - keep // 2] + " … " + text[len(text) - keep // 2:]


def patch_bytes(patch: str) -> bytes:
    """The patch as bytes for the patch file: UTF-8; characters UTF-8 cannot carry (lone
    surrogates, from a JSON "\\ud800" escape or a surrogateescape decoding) become the bytes
    they stand for where they can, else "?", so such a patch fails to apply instead of
    crashing the scorer."""
    try:
        return patch.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        return patch.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return patch.encode("utf-8", "replace")


def unsafe_paths(patch: str) -> list[str]:
    """File names in the patch that are absolute, climb out with `..` or enter `.git`.

    Header lines of git, unified and context diffs and `Index:` lines are read; C-quoted
    names (git's `"a/\\056\\056/x"`) are unquoted first. Conservative: a content line that
    looks like a header counts too.
    """
    bad: list[str] = []
    for match in _PATH_LINE.finditer("\n" + patch):
        kind, text = match.group(1), match.group(2).rstrip("\r")
        if kind in ("--- ", "+++ ", "*** "):
            if kind == "*** " and _CONTEXT_RANGE.match(text):
                continue
            text = text.split("\t", 1)[0]
            if text == "/dev/null":
                continue
        if _unsafe_name(kind, text) and text not in bad:
            bad.append(text)
    return bad


def _unsafe_name(kind: str, text: str) -> bool:
    names = [_unquote(m.group(1)) for m in _QUOTED.finditer(text)] + [_QUOTED.sub(" ", text)]
    for name in names:
        if kind == "diff --git ":
            absolute = name.startswith("/") or " /" in name or "a//" in name or "b//" in name
        else:
            absolute = name.startswith("/") or name.startswith(("a//", "b//"))
        if absolute or _DOTDOT.search(name) or _DOTGIT.search(name):
            return True
    return False


def _unquote(body: str) -> str:
    """A C-quoted name as git writes it (without its quotes): escapes and octal bytes decoded."""
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\" or i + 1 >= len(body):
            out += char.encode("utf-8", "surrogatepass")
            i += 1
            continue
        nxt = body[i + 1]
        octal = re.match(r"[0-7]{1,3}", body[i + 1:i + 4])
        if octal:
            out.append(int(octal.group(0), 8) & 0xFF)
            i += 1 + len(octal.group(0))
        else:
            out.append(_C_ESCAPES.get(nxt, ord(nxt) if ord(nxt) < 128 else 63))
            i += 2
    return out.decode("utf-8", "replace")


def _variants(patch: str) -> list[str]:
    """Which versions of the patch file to try: "orig" as written, "lf" with CRs stripped."""
    if "\r" not in patch:
        return ["orig"]
    converted = _CRLF_HEADER.search("\n" + patch) is not None
    return ["lf", "orig"] if converted else ["orig", "lf"]


def _apply_script(path: str, variants: list[str], added: list[str] = ()) -> str:
    tries = []
    for variant in variants:
        source, shown = ("$ORIG", path) if variant == "orig" else ("$LF", path + ".lf")
        for index, (name, command) in enumerate(METHODS):
            display = command.replace('"$P"', shlex.quote(shown))
            if name.startswith("patch "):
                command = f'patch_targets_ok "$P" && {command}'
            tries.append(f"try_method {index} {variant} {source} {shlex.quote(command)} {shlex.quote(display)}")
    lf_setup = 'sed "s/\\r$//" "$ORIG" > "$LF"' if "lf" in variants else ":"
    return _SCRIPT.format(
        orig=shlex.quote(path),
        lf=shlex.quote(path + ".lf"),
        lf_setup=lf_setup,
        tries="\n".join(tries),
        added=" ".join(shlex.quote(name) for name in added),
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
if ! git apply --check "$ORIG" >/dev/null 2>&1 && git apply --check --reverse "$ORIG" >/dev/null 2>&1; then
  echo ">>>>> the patch's changes are all in the tree already (it applies in reverse): nothing to apply"
  rm -f "$STAMP"
  echo "{ok} -1 orig"
  exit 0
fi
# Files the patch adds that the tree holds untracked (an install's build outputs): replaced.
ROOT=$(pwd -P)
for f in {added}; do
  [[ -f $f || -L $f ]] || continue
  git ls-files --error-unmatch -- "$f" >/dev/null 2>&1 && continue  # tracked: a real conflict
  real=$(realpath -m -- "$f")
  [[ $real == "$ROOT"/* ]] || continue
  rm -f -- "$f" && echo ">>>>> replacing $f: the tree held it untracked (left by the install)"
done
declare -A KEEP=()
while IFS= read -r -d '' f; do KEEP["$f"]=1; done < <(git ls-files -z -o --exclude-standard)

# GNU patch takes file names from more header forms than unsafe_paths reads (indented or
# X-prefixed lines, Index:, context diffs) and happily writes into .git: its own dry run
# names every file it would touch, and those names are checked before it runs for real.
patch_targets_ok() {{
  local bad
  bad=$(LC_ALL=C patch --dry-run --batch --fuzz=5 -p1 -i "$1" 2>/dev/null \
    | grep -a -E '^checking (file|symbolic link) ' \
    | grep -a -i -E "^checking (file|symbolic link) ['\"]?/|(^|[ /'\"(])(\.\.|\.git)([ /'\")]|$)")
  if [[ -n $bad ]]; then
    echo ">>>>> refused: patch would write outside the repository or into .git:"
    printf '%s\n' "$bad"
    return 1
  fi
}}
leftovers() {{
  find . -path ./.git -prune -o -type f \( -name '*.rej' -o -name '*.orig' \) -print0
}}
drop_new_leftovers() {{  # the *.rej / *.orig files a try made
  while IFS= read -r -d '' f; do
    [[ -n "${{LEFTOVER[$f]:-}}" ]] || rm -f -- "$f"
  done < <(leftovers)
}}
declare -A LEFTOVER=()  # *.rej / *.orig files there before (patch's backups keep the file's old mtime)
while IFS= read -r -d '' f; do LEFTOVER["$f"]=1; done < <(leftovers)
new_rej() {{
  find . -path ./.git -prune -o -type f -name '*.rej' -newer "$STAMP" -print | grep -q .
}}
reset_tree() {{
  git reset -q --hard
  while IFS= read -r -d '' f; do
    [[ -n "${{KEEP[$f]:-}}" ]] || rm -f -- "$f"
  done < <(git ls-files -z -o --exclude-standard)
  drop_new_leftovers
}}
try_method() {{
  local index=$1 variant=$2 P=$3 command=$4
  echo ">>>>> trying: $5"
  touch "$STAMP"
  eval "$command" 2>&1
  local rc=$?
  if [[ $rc -eq 0 ]] && ! new_rej; then
    drop_new_leftovers
    echo "{ok} $index $variant"
    rm -f "$STAMP"
    exit 0
  fi
  if [[ $rc -eq 0 ]]; then echo ">>>>> rejected hunks (.rej files): counts as not applied"; fi
  echo ">>>>> failed (exit code $rc)"
  reset_tree
}}

{tries}

rm -f "$STAMP"
echo "{failed}"
exit 1
"""
