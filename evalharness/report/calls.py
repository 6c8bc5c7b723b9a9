"""A trajectory's tool call as the page shows it: every argument, edits as old → new diffs.

An editor call shown as its sub-command alone (`str_replace`) hides what it did. Here a
call becomes a CallView: bash's command line; the editor's path, with str_replace as a
line diff of old_str → new_str, insert and create as added lines; and every other argument
by name. Installed agents' editors (`old_string` / `new_string`, `file_path`) read the same.
Arguments that are not a JSON object (a malformed call) are shown as they came.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

MAX_ARG_CHARS = 20_000  # per argument shown; head and tail kept
MAX_DIFF_LINES = 400
CONTEXT_LINES = 5  # unchanged lines kept around a change
EDITOR = "str_replace_editor"
_OLD, _NEW = ("old_str", "old_string"), ("new_str", "new_string")
_PATH = ("path", "file_path")
_ADDED_TEXT = ("file_text", "content")  # create / write_file: the whole new file


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "del", "add", "ctx", "gap"
    text: str


@dataclass(frozen=True)
class CallView:
    tool: str
    action: str = ""  # the editor's sub-command (view, create, str_replace, insert, undo_edit)
    path: str = ""
    command: str = ""  # a shell command line
    diff: tuple[DiffLine, ...] = ()
    args: tuple[tuple[str, str], ...] = ()  # every argument not shown above, as display text
    raw: str = ""  # arguments that are not a JSON object, as they came


def describe_call(name: Any, arguments: Any) -> CallView:
    tool = str(name or "?")
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            return CallView(tool, raw=_clip(arguments))
        arguments = parsed
    if arguments is None:
        return CallView(tool)
    if not isinstance(arguments, dict):
        return CallView(tool, raw=_text(arguments))
    rest = dict(arguments)
    action = command = ""
    if tool == EDITOR and isinstance(rest.get("command"), str):
        action = rest.pop("command")
    elif isinstance(rest.get("command"), str):
        command = _clip(rest.pop("command"))
    path = next((str(rest.pop(k)) for k in _PATH if isinstance(rest.get(k), str)), "")
    diff: tuple[DiffLine, ...] = ()
    old = next((rest.pop(k) for k in _OLD if isinstance(rest.get(k), str)), None)
    new = next((rest.pop(k) for k in _NEW if isinstance(rest.get(k), str)), None)
    if old is not None:
        diff = line_diff(old, new or "")
    elif new is not None:
        diff = line_diff("", new)
    elif (added := next((k for k in _ADDED_TEXT if isinstance(rest.get(k), str)), None)) is not None:
        diff = line_diff("", rest.pop(added))
    args = tuple((str(k), _text(v)) for k, v in rest.items())
    return CallView(tool, action, path, command, diff, args)


def line_diff(old: str, new: str) -> tuple[DiffLine, ...]:
    """old → new line by line: removed, added and (up to CONTEXT_LINES around a change) unchanged
    lines; longer unchanged stretches become one "gap" line."""
    if old == new:
        return (DiffLine("gap", "old and new text are the same"),) if old else ()
    a, b = old.splitlines(), new.splitlines()
    out: list[DiffLine] = []
    seen = 0  # lines of `old` accounted for
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(CONTEXT_LINES):
        if group[0][1] > seen:
            out.append(_gap(group[0][1] - seen))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine("ctx", line) for line in a[i1:i2])
                continue
            out.extend(DiffLine("del", line) for line in a[i1:i2])
            out.extend(DiffLine("add", line) for line in b[j1:j2])
        seen = group[-1][2]
    if len(a) > seen:
        out.append(_gap(len(a) - seen))
    if len(out) > MAX_DIFF_LINES:
        half = MAX_DIFF_LINES // 2
        out = out[:half] + [DiffLine("gap", f"… {len(out) - 2 * half} diff lines left out …")] + out[-half:]
    return tuple(out)


def _gap(lines: int) -> DiffLine:
    return DiffLine("gap", f"… {lines} unchanged line{'s' if lines > 1 else ''} …")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return _clip(value)
    return _clip(json.dumps(value, ensure_ascii=False, default=str))


def _clip(text: str, limit: int = MAX_ARG_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… {len(text) - 2 * half:,} characters omitted …\n{text[-half:]}"
