"""The file editor tool (view, create, str_replace, insert, undo_edit), run through the shell.

Files move between host and container as base64 over the agent's shell session, so an
edit costs one or two shell round trips (milliseconds) instead of a `docker exec` or
`put_archive` each, and an existing file keeps its mode. Undo history lives on the host.
"""

from __future__ import annotations

import base64
import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Callable

from evalharness.env.base import ExecResult

RunCommand = Callable[[str], ExecResult]
SNIPPET_LINES = 4
MAX_VIEW_LINES = 400
# Files are read in chunks whose base64 fits well within a shell session's output limit
# (1 MiB by default; a cut output would corrupt the file). Larger files are refused.
READ_CHUNK_BYTES = 384 << 10
MAX_FILE_BYTES = 4 << 20


class EditorError(Exception):
    """A mistake the model can fix (missing file, ambiguous old_str): shown to it as the result."""


@dataclass
class Editor:
    run: RunCommand  # runs a bash command in the container (the agent's shell session)
    workdir: str
    history: dict[str, list[str | None]] = field(default_factory=dict)  # path -> earlier contents (None: absent)

    def __call__(self, command: str, path: str, **args) -> str:
        handler = {
            "view": self.view,
            "create": self.create,
            "str_replace": self.str_replace,
            "insert": self.insert,
            "undo_edit": self.undo_edit,
        }.get(command)
        if handler is None:
            raise EditorError(f"unknown command {command!r}; use view, create, str_replace, insert or undo_edit")
        return handler(self._abs(path), **args)

    # ---- commands -----------------------------------------------------------------------
    def view(self, path: str, view_range: list[int] | None = None, **_) -> str:
        kind = self.run(f"if [ -d {q(path)} ]; then echo dir; elif [ -f {q(path)} ]; then echo file; else echo none; fi")
        kind = kind.output.strip()
        if kind == "none":
            raise EditorError(f"{path} does not exist")
        if kind == "dir":
            if view_range:
                raise EditorError("view_range applies to files, not directories")
            listing = self.run(f"cd {q(path)} && find . -maxdepth 2 -not -path '*/.*' | sort | head -n 500")
            return f"Files and directories up to 2 levels deep in {path} (hidden ones left out):\n{listing.output}"
        lines = self._read(path).split("\n")
        start, end = 1, len(lines)
        if view_range:
            if len(view_range) != 2 or not all(isinstance(n, int) for n in view_range):
                raise EditorError("view_range must be two line numbers [start, end] (end -1 for the last line)")
            start, end = view_range[0], (len(lines) if view_range[1] == -1 else view_range[1])
            if not 1 <= start <= len(lines) or end < start or end > len(lines):
                raise EditorError(f"view_range {view_range} is outside the file's {len(lines)} lines")
        shown = lines[start - 1:end]
        note = ""
        if len(shown) > MAX_VIEW_LINES:
            shown = shown[:MAX_VIEW_LINES]
            note = (f"\n[showing lines {start}-{start + MAX_VIEW_LINES - 1} of {len(lines)}; "
                    "use view_range to see more]")
        return f"Here is {path} with line numbers:\n{_numbered(shown, start)}{note}"

    def create(self, path: str, file_text: str | None = None, **_) -> str:
        if file_text is None:
            raise EditorError("create needs file_text")
        if self._exists(path):
            raise EditorError(f"{path} already exists; use str_replace or insert to change it")
        self._remember(path, None)
        self._write(path, file_text)
        return f"Created {path} ({len(file_text.splitlines())} lines)."

    def str_replace(self, path: str, old_str: str | None = None, new_str: str | None = None, **_) -> str:
        if old_str is None or old_str == "":
            raise EditorError("str_replace needs a non-empty old_str")
        text = self._read(path)
        count = text.count(old_str)
        if count == 0:
            raise EditorError(f"old_str was not found in {path}; it must match exactly, whitespace included")
        if count > 1:
            at = [text[:i].count("\n") + 1 for i in _find_all(text, old_str)]
            raise EditorError(f"old_str occurs {count} times in {path} (lines {at}); include more context to make it unique")
        new_str = new_str or ""
        self._remember(path, text)
        updated = text.replace(old_str, new_str, 1)
        self._write(path, updated)
        first = text[: text.index(old_str)].count("\n") + 1
        return f"Edited {path}. The changed region:\n" + self._snippet(updated, first, new_str.count("\n") + 1)

    def insert(self, path: str, insert_line: int | None = None, new_str: str | None = None, **_) -> str:
        if insert_line is None or new_str is None:
            raise EditorError("insert needs insert_line and new_str")
        text = self._read(path)
        lines = text.split("\n")
        if not 0 <= insert_line <= len(lines):
            raise EditorError(f"insert_line {insert_line} is outside 0..{len(lines)}")
        self._remember(path, text)
        new_lines = new_str.split("\n")
        updated = "\n".join(lines[:insert_line] + new_lines + lines[insert_line:])
        self._write(path, updated)
        return f"Inserted {len(new_lines)} line(s) after line {insert_line} of {path}:\n" + self._snippet(
            updated, insert_line + 1, len(new_lines))

    def undo_edit(self, path: str, **_) -> str:
        stack = self.history.get(path)
        if not stack:
            raise EditorError(f"no edit of {path} to undo")
        previous = stack.pop()
        if previous is None:
            self.run(f"rm -f {q(path)}")
            return f"Undid the creation of {path} (removed)."
        self._write(path, previous)
        return f"Undid the last edit of {path}."

    # ---- helpers ------------------------------------------------------------------------
    def _abs(self, path: str) -> str:
        if not path:
            raise EditorError("path is required")
        return posixpath.normpath(path if posixpath.isabs(path) else posixpath.join(self.workdir, path))

    def _exists(self, path: str) -> bool:
        return self.run(f"test -e {q(path)}").exit_code == 0

    def _read(self, path: str) -> str:
        size = self.run(f"if [ -f {q(path)} ]; then stat -c %s {q(path)} 2>/dev/null || wc -c < {q(path)}; "
                        f"else echo NOFILE; exit 3; fi")
        if size.exit_code == 3:
            raise EditorError(f"{path} is not a file")
        if size.exit_code != 0 or not size.output.strip().isdigit():
            raise EditorError(f"cannot read {path}: {size.output.strip()[:300]}")
        total = int(size.output.strip())
        if total > MAX_FILE_BYTES:
            raise EditorError(f"{path} is {total} bytes, more than the editor handles ({MAX_FILE_BYTES}); "
                              "use bash (sed -n, grep -n, python) to read or change it")
        data = bytearray()
        for offset in range(0, max(total, 1), READ_CHUNK_BYTES):
            block = offset // READ_CHUNK_BYTES
            result = self.run(f"dd if={q(path)} bs={READ_CHUNK_BYTES} skip={block} count=1 2>/dev/null | base64 -w0")
            if result.exit_code != 0:
                raise EditorError(f"cannot read {path}: {result.output.strip()[:300]}")
            try:
                data += base64.b64decode(result.output.strip(), validate=True)
            except ValueError:  # binascii.Error: the output was not whole base64
                raise EditorError(f"cannot read {path}: its content did not come back whole; use bash") from None
        if len(data) != total:
            raise EditorError(f"cannot read {path}: it changed while being read ({total} bytes, then {len(data)})")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise EditorError(f"{path} is not UTF-8 text; use bash to inspect binary files") from None

    def _write(self, path: str, text: str) -> None:
        encoded = base64.b64encode(text.encode("utf-8")).decode()
        parent = posixpath.dirname(path)
        result = self.run(f"mkdir -p {q(parent)} && printf %s {encoded} | base64 -d > {q(path)}")
        if result.exit_code != 0:
            raise EditorError(f"cannot write {path}: {result.output.strip()[:300]}")

    def _remember(self, path: str, content: str | None) -> None:
        self.history.setdefault(path, []).append(content)

    @staticmethod
    def _snippet(text: str, first_line: int, n_lines: int) -> str:
        lines = text.split("\n")
        start = max(1, first_line - SNIPPET_LINES)
        end = min(len(lines), first_line + n_lines - 1 + SNIPPET_LINES)
        return _numbered(lines[start - 1:end], start)


def q(text: str) -> str:
    return shlex.quote(text)


def _numbered(lines: list[str], start: int) -> str:
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, start))


def _find_all(text: str, needle: str) -> list[int]:
    found, i = [], text.find(needle)
    while i != -1:
        found.append(i)
        i = text.find(needle, i + 1)
    return found
