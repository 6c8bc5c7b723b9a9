"""The image's setup edits inside a model's patch: recognised and taken out before applying.

An instance's setup (SWE-bench's pre_install: sphinx's `sed -i 's/pytest/pytest -rA/'
tox.ini`, setup.py pins) edits tracked files. In SWE-bench's official images those edits
sit in /testbed (uncommitted in older images, in a "SWE-bench" commit in newer ones), so an
agent that submits `git diff <base_commit>` there submits them too. Such a patch must grade
as its model changes alone: a change of the patch that equals one of the setup's is already
applied, not a conflict (applying it in reverse, as `patch --batch` would, drops `-rA`,
and then no test reads as passed).

`without_setup_edits` compares change groups (a run of `-`/`+` lines inside a hunk) with
those of the setup's diff, file by file; each matching group becomes context again (its old
lines kept, its new lines dropped), hunks left with no change are dropped, and so are files
left with none. What remains is the patch relative to the tree without the setup's edits;
where the setup's edits are wanted (the tests), the eval script puts them back file by file.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


@dataclass
class _Hunk:
    old_start: int
    tail: str  # what follows the second "@@" (git's function context)
    body: list[str]
    header: str  # the line as written


@dataclass
class _FileDiff:
    header: list[str]
    hunks: list[_Hunk] = field(default_factory=list)
    path: str | None = None  # the file's path after the patch, None for a deletion


@dataclass(frozen=True)
class Filtered:
    patch: str  # the patch less the setup's edits (the input itself when none matched)
    dropped: tuple[str, ...] = ()  # "path: -N +M lines" for each change taken out

    @property
    def changed(self) -> bool:
        return bool(self.dropped)


def without_setup_edits(patch: str, setup_diff: str) -> Filtered:
    """`patch` without the change groups that equal a change of `setup_diff` in the same file."""
    if not setup_diff.strip() or not patch.strip():
        return Filtered(patch)
    wanted: dict[str, Counter] = {}
    for diff in _parse(setup_diff)[1]:
        if diff.path is not None:
            groups = wanted.setdefault(diff.path, Counter())
            for hunk in diff.hunks:
                groups.update(_groups(hunk.body))
    preamble, files = _parse(patch)
    if not wanted or not files:
        return Filtered(patch)
    dropped: list[str] = []
    out = list(preamble)
    for diff in files:
        groups = wanted.get(diff.path or "")
        before = len(dropped)
        if groups:
            _drop_groups(diff, groups, dropped)
            if not diff.hunks and not _header_only_change(diff.header):
                continue  # nothing of the model's left in this file
        out += diff.header
        delta = 0  # how far the new side has moved from the old by this file's earlier hunks
        for hunk in diff.hunks:
            header, grown = _hunk_header(hunk, delta)
            out.append(header if len(dropped) > before else hunk.header)  # untouched files stay as written
            out += hunk.body
            delta += grown
    if not dropped:
        return Filtered(patch)
    text = "\n".join(out)
    return Filtered(text + "\n" if text else "", tuple(dropped))


def setup_files(setup_diff: str) -> list[str]:
    """The files the setup's diff edits (their paths after the edit)."""
    return [d.path for d in _parse(setup_diff)[1] if d.path]


def _parse(patch: str) -> tuple[list[str], list[_FileDiff]]:
    """Split a git or unified diff into its preamble and file sections, hunk bodies by their counts."""
    lines = patch.splitlines()
    preamble: list[str] = []
    files: list[_FileDiff] = []
    current: _FileDiff | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _HUNK.match(line)
        if match and current is not None:
            old_left = int(match.group(2) if match.group(2) is not None else 1)
            new_left = int(match.group(4) if match.group(4) is not None else 1)
            body: list[str] = []
            i += 1
            while i < len(lines) and (old_left > 0 or new_left > 0 or lines[i].startswith("\\")):
                text = lines[i]
                if text.startswith("-"):
                    old_left -= 1
                elif text.startswith("+"):
                    new_left -= 1
                elif not text.startswith("\\"):
                    old_left -= 1
                    new_left -= 1
                body.append(text)
                i += 1
            current.hunks.append(_Hunk(int(match.group(1)), match.group(5), body, line))
            continue
        starts_file = line.startswith("diff --git ") or (
            line.startswith("--- ") and (current is None or bool(current.hunks) or _in_header(current, "--- "))
        )
        if starts_file:
            current = _FileDiff(header=[line])
            files.append(current)
        elif current is None:
            preamble.append(line)
        else:
            current.header.append(line)
        if current is not None and line.startswith("+++ "):
            name = line[4:].split("\t", 1)[0].strip()
            current.path = None if name == "/dev/null" else (name[2:] if name.startswith("b/") else name)
        i += 1
    return preamble, files


def _in_header(diff: _FileDiff, prefix: str) -> bool:
    return any(line.startswith(prefix) for line in diff.header)


def _header_only_change(header: list[str]) -> bool:
    """Whether a file section changes something without hunks (mode, rename, an empty new file)."""
    return any(line.startswith(("old mode", "new mode", "rename ", "copy ", "new file", "deleted file"))
               for line in header)


def _groups(body: list[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The change groups of a hunk body: (old lines, new lines) of each run of -/+ lines."""
    return [(tuple(minus), tuple(plus)) for _, _, minus, plus in _runs(body)]


def _runs(body: list[str]):
    """(start, end, minus lines, plus lines) of each run of -/+ lines (a "\\" line ends none)."""
    i = 0
    while i < len(body):
        if not body[i].startswith(("-", "+")):
            i += 1
            continue
        start, minus, plus = i, [], []
        while i < len(body) and body[i].startswith(("-", "+", "\\")):
            if body[i].startswith("-"):
                minus.append(body[i][1:])
            elif body[i].startswith("+"):
                plus.append(body[i][1:])
            else:
                minus.append(None)  # a "no newline" marker: such a group is never matched
            i += 1
        yield start, i, minus, plus


def _drop_groups(diff: _FileDiff, wanted: Counter, dropped: list[str]) -> None:
    """Turn the groups of `diff` found in `wanted` back into context; drop hunks left unchanged."""
    kept: list[_Hunk] = []
    for hunk in diff.hunks:
        body: list[str] = []
        last = 0
        for start, end, minus, plus in _runs(hunk.body):
            key = (tuple(minus), tuple(plus))
            body += hunk.body[last:start]
            last = end
            if None not in minus and wanted[key] > 0:
                wanted[key] -= 1
                body += [" " + text for text in minus]
                dropped.append(f"{diff.path}: -{len(minus)} +{len(plus)} lines")
            else:
                body += hunk.body[start:end]
        body += hunk.body[last:]
        if any(line.startswith(("-", "+")) for line in body):
            kept.append(_Hunk(hunk.old_start, hunk.tail, body, hunk.header))
    diff.hunks = kept


def _hunk_header(hunk: _Hunk, delta: int) -> tuple[str, int]:
    """The hunk's header line for its (possibly rewritten) body, and how many lines it adds."""
    old = sum(1 for line in hunk.body if line.startswith((" ", "-")) or line == "")
    new = sum(1 for line in hunk.body if line.startswith((" ", "+")) or line == "")
    return f"@@ -{hunk.old_start},{old} +{hunk.old_start + delta},{new} @@{hunk.tail}", new - old
