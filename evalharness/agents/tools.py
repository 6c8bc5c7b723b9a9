"""The agent's tools: `bash`, `str_replace_editor` and `submit`, as schemas and as actions.

Schemas are OpenAI function tools; in text mode the same schemas are rendered into the
prompt in Qwen3-Coder's format, so both modes offer exactly the same tools.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalharness.agents.editor import Editor, EditorError

if TYPE_CHECKING:
    from evalharness.env.shell import OpeningShell, ShellSession

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": (
                "Run a bash command in the repository's container. One shell session persists between "
                "calls (cd and export carry over). Commands get no stdin: do not start interactive "
                "programs (editors, pagers, REPLs). Long outputs are cut in the middle."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command to run."},
                    "timeout": {"type": "integer", "description": "Seconds before the command is killed (optional)."},
                },
                "required": ["command"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "str_replace_editor",
            "description": (
                "View, create and edit files. `view` shows a file with line numbers (or a directory "
                "listing); `create` writes a new file; `str_replace` replaces old_str, which must occur "
                "exactly once, with new_str; `insert` adds new_str after line insert_line (0 = top); "
                "`undo_edit` reverts the last edit of a file. Paths are absolute or relative to the repository."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "undo_edit"]},
                    "path": {"type": "string", "description": "The file or directory."},
                    "file_text": {"type": "string", "description": "create: the whole content."},
                    "old_str": {"type": "string", "description": "str_replace: the exact text to replace."},
                    "new_str": {"type": "string", "description": "str_replace / insert: the new text."},
                    "insert_line": {"type": "integer", "description": "insert: the line after which to insert."},
                    "view_range": {"type": "array", "items": {"type": "integer"},
                                   "description": "view: [start, end] lines, end -1 for the last."},
                },
                "required": ["command", "path"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "submit",
            "description": "Finish: submit the changes made to the repository as the solution.",
            "parameters": {"type": "object", "properties": {}, "required": []},
        },
    },
]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)


@dataclass
class Observation:
    output: str  # what the model sees
    exit_code: int | None = None
    seconds: float = 0.0
    submitted: bool = False


# The line a shell session puts where it cut a command's output (evalharness.env.shell._Capture).
_SHELL_CUT = re.compile(r"\n\[\.\.\. (\d+) bytes of output cut \.\.\.\]\n")


def truncate_middle(text: str, max_chars: int) -> str:
    """Keep the head and tail of a long output and say how much was cut in between.

    When the text already went through a shell session that cut its middle, the count
    says that too (the session's own note is usually among what is cut here).
    """
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    cut = len(text) - 2 * half
    earlier = sum(int(n) for n in _SHELL_CUT.findall(text[half:len(text) - half]))
    more = f" (and {earlier} bytes more, before the output reached the harness)" if earlier else ""
    return f"{text[:half]}\n[... {cut} characters{more} cut from the middle of this output ...]\n{text[-half:]}"


class ToolBox:
    """Runs the model's tool calls in one container through one shell session."""

    def __init__(self, shell: "ShellSession | OpeningShell", workdir: str, *, command_timeout: float = 120.0,
                 max_output_chars: int = 10_000):
        self.shell = shell
        self.command_timeout = command_timeout
        self.max_output_chars = max_output_chars
        self.editor = Editor(run=lambda cmd: shell.run(cmd, timeout=command_timeout), workdir=workdir)

    def call(self, name: str, arguments: dict[str, Any], time_left: float | None = None) -> Observation:
        """Run one tool call. Whatever the model sent (wrong types, NUL bytes, lone surrogates,
        enormous outputs) ends as an observation it can read; only a shell session that cannot
        be brought back (ShellError) raises."""
        start = time.monotonic()
        if name == "submit":
            return Observation("Submitted.", submitted=True)
        if not isinstance(arguments, dict):
            obs = Observation(f"Error: the arguments of {name!r} must be a JSON object, got {type(arguments).__name__}")
        elif name == "bash":
            obs = self._bash(arguments, time_left)
        elif name == "str_replace_editor":
            try:
                obs = Observation(self.editor(**_editor_args(arguments)))
            except EditorError as exc:
                obs = Observation(f"Error: {exc}")
        else:
            obs = Observation(f"Error: unknown tool {name!r}; the tools are {', '.join(TOOL_NAMES)}")
        obs.output = truncate_middle(obs.output, self.max_output_chars)
        obs.seconds = time.monotonic() - start
        return obs

    def _bash(self, arguments: dict[str, Any], time_left: float | None) -> Observation:
        command = arguments.get("command")
        if not isinstance(command, str) or not command.strip():
            return Observation("Error: bash needs a non-empty `command`")
        problem = _text_problem(command, allow_nul=False)
        if problem:
            return Observation(f"Error: the command {problem}")
        timeout = arguments.get("timeout")
        usable = isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and math.isfinite(timeout)
        timeout = float(timeout) if usable and timeout > 0 else self.command_timeout
        timeout = min(timeout, self.command_timeout * 5)
        if time_left is not None:
            timeout = max(1.0, min(timeout, time_left))
        result = self.shell.run(command, timeout=timeout)
        text = result.output
        if result.timed_out:
            text += f"\n[the command timed out after {timeout:.0f} s and was killed]"
        elif result.exit_code != 0:
            text += f"\n[exit code {result.exit_code}]"
        return Observation(text if text.strip() else "[no output]", exit_code=result.exit_code)


def _text_problem(text: str, allow_nul: bool = True) -> str | None:
    """Why `text` cannot go to the shell or into a file as UTF-8; None when it can."""
    if not allow_nul and "\0" in text:
        return "contains a NUL character, which a shell command or a path cannot hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains {text[exc.start]!r} at position {exc.start}, which is not valid Unicode text"
    return None


def _editor_args(arguments: dict[str, Any]) -> dict[str, Any]:
    """The editor's arguments, checked: native mode sends whatever JSON the model wrote."""
    if not isinstance(arguments.get("command"), str) or not isinstance(arguments.get("path"), str):
        raise EditorError("str_replace_editor needs `command` and `path`")
    args = dict(arguments)
    problem = _text_problem(args["path"], allow_nul=False)
    if problem:
        raise EditorError(f"path {problem}")
    for key in ("file_text", "old_str", "new_str"):
        value = args.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise EditorError(f"{key} must be a string, got {type(value).__name__}")
        problem = _text_problem(value)
        if problem:
            raise EditorError(f"{key} {problem}")
    line = args.get("insert_line")
    if line is not None:
        if isinstance(line, float) and line.is_integer():
            line = int(line)
        elif isinstance(line, str):
            try:
                line = int(line.strip())
            except ValueError:
                raise EditorError("insert_line must be a line number") from None
        if not isinstance(line, int) or isinstance(line, bool):
            raise EditorError("insert_line must be a line number")
        args["insert_line"] = line
    view_range = args.get("view_range")
    if view_range is not None and not isinstance(view_range, list):
        raise EditorError("view_range must be two line numbers [start, end] (end -1 for the last line)")
    return args
