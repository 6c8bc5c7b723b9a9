"""The agent's tools: `bash`, `str_replace_editor` and `submit`, as schemas and as actions.

Schemas are OpenAI function tools; in text mode the same schemas are rendered into the
prompt in Qwen3-Coder's format, so both modes offer exactly the same tools.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalharness.agents.editor import Editor, EditorError

if TYPE_CHECKING:
    from evalharness.shell import ShellSession

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


def truncate_middle(text: str, max_chars: int) -> str:
    """Keep the head and tail of a long output and say how much was cut in between."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[... {cut} characters cut from the middle of this output ...]\n{text[-half:]}"


class ToolBox:
    """Runs the model's tool calls in one container through one shell session."""

    def __init__(self, shell: "ShellSession", workdir: str, *, command_timeout: float = 120.0,
                 max_output_chars: int = 10_000):
        self.shell = shell
        self.command_timeout = command_timeout
        self.max_output_chars = max_output_chars
        self.editor = Editor(run=lambda cmd: shell.run(cmd, timeout=command_timeout), workdir=workdir)

    def call(self, name: str, arguments: dict[str, Any], time_left: float | None = None) -> Observation:
        start = time.monotonic()
        if name == "submit":
            return Observation("Submitted.", submitted=True)
        if name == "bash":
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
        timeout = arguments.get("timeout")
        timeout = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else self.command_timeout
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


def _editor_args(arguments: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(arguments.get("command"), str) or not isinstance(arguments.get("path"), str):
        raise EditorError("str_replace_editor needs `command` and `path`")
    args = dict(arguments)
    if isinstance(args.get("insert_line"), str):  # native mode sends whatever JSON the model wrote
        try:
            args["insert_line"] = int(args["insert_line"])
        except ValueError:
            raise EditorError("insert_line must be a line number") from None
    return args
