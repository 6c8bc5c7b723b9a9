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
