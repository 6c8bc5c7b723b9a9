"""Qwen3-Coder's XML tool-call format, for servers that run without a tool parser (text mode).

Parsing follows vLLM's `qwen3_coder` parser rule for rule, so a reply yields the same calls
whether the server parsed it or we did. Rendering follows Qwen3-Coder's chat template
(tools in the system prompt, calls in the assistant turn, results as `<tool_response>`
blocks in a user turn), so the model sees text mode exactly as it sees native mode.

Where vLLM would silently drop a call (it then returns the whole reply as plain content)
or pass on one the agent cannot run, `parse_tool_calls` raises `ToolCallFormatError`
instead, whose text tells the model what to fix:

- a `<tool_call>` block with no `<function=NAME>` in it (a JSON body, say);
- a `<function=` outside `<tool_call>` ... `</tool_call>` when the reply has such blocks
  (vLLM ignores it); a reply with no `<tool_call>` tag at all is searched for
  `<function=` blocks, as vLLM does;
- a `<function=` or `<parameter=` tag not closed by `>`;
- an unknown function name (the message lists the known ones);
- a required parameter (the schema's "required") missing.

Tolerated as vLLM tolerates them: a missing `</parameter>` (the next `<parameter=` or
`</function>` ends the value), a missing `</function>`, a missing `</tool_call>` at the end
of the reply, text after the last call (ignored), parameters the schema does not know
(kept as strings), values that do not fit their type (kept as strings).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from evalharness.llm import ToolCall

# The chat template's default system message, used when the agent gives none.
DEFAULT_SYSTEM_PROMPT = (
    "You are Qwen, a helpful AI assistant that can interact with a computer to solve tasks."
)

# The template's instructions after the tool list: the model was trained on this exact text.
_CALL_INSTRUCTIONS = (
    "If you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\n"
    "value_1\n</parameter>\n<parameter=example_parameter_2>\n"
    "This is the value for the second parameter\nthat can span\nmultiple lines\n"
    "</parameter>\n</function>\n</tool_call>\n\n"
    "<IMPORTANT>\nReminder:\n"
    "- Function calls MUST follow the specified format: an inner <function=...></function> "
    "block must be nested within <tool_call></tool_call> XML tags\n"
    "- Required parameters MUST be specified\n"
    "- You may provide optional reasoning for your function call in natural language BEFORE "
    "the function call, but NOT after\n"
    "- If there is no function call available, answer the question like normal with your "
    "current knowledge and do not tell the user about function calls\n"
    "</IMPORTANT>"
)

# The same expressions as vLLM's parser: a block runs to its closing tag, or to the end of
# the reply when the tag is missing; a value ends at `</parameter>`, or just before the next
# `<parameter=` / `</function>`, or at the end.
_TOOL_CALL_RE = re.compile(r"<tool_call>(.*?)</tool_call>|<tool_call>(.*?)$", re.DOTALL)
_FUNCTION_RE = re.compile(r"<function=(.*?)</function>|<function=(.*)$", re.DOTALL)
_PARAMETER_RE = re.compile(
    r"<parameter=(.*?)(?:</parameter>|(?=<parameter=)|(?=</function>)|$)", re.DOTALL
)

_FUNCTION_TAG = "<function="
_TOOL_CALL_TAG = "<tool_call>"

_STRING_TYPES = ("string", "str", "text", "varchar", "char", "enum")
_INTEGER_PREFIXES = ("int", "uint", "long", "short", "unsigned")
_BOOLEAN_TYPES = ("boolean", "bool", "binary")


class ToolCallFormatError(ValueError):
    """A reply tried to call a tool but the XML is malformed; str(exc) is a corrective
    message for the model (what was wrong, and the exact format to use, short).
    `problems` lists each fault found; none of the reply's calls should be run."""

    def __init__(self, problems: list[str], known_functions: list[str]):
        self.problems = list(problems)
        self.known_functions = list(known_functions)
        super().__init__(_corrective_message(self.problems, self.known_functions))


def _corrective_message(problems: list[str], known: list[str]) -> str:
    names = ", ".join(known) if known else "(none)"
    return (
        "Your tool call could not be parsed, so nothing was run: "
        + "; ".join(problems)
        + ".\nCall a function exactly like this, and write nothing after </tool_call>:\n"
        "<tool_call>\n<function=FUNCTION_NAME>\n<parameter=PARAMETER_NAME>\nvalue\n"
        "</parameter>\n</function>\n</tool_call>\n"
        f"Available functions: {names}."
    )


def _function_spec(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    """OpenAI wraps the function in {"type": "function", "function": {...}}; the template
    accepts the bare function too, and so do we."""
    inner = tool.get("function")
    return inner if isinstance(inner, Mapping) else tool


def _specs_by_name(tools: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    specs: dict[str, Mapping[str, Any]] = {}
    for tool in tools:
        spec = _function_spec(tool)
        name = spec.get("name")
        if isinstance(name, str):
            specs.setdefault(name, spec)
    return specs


def _argument_schemas(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """Per-parameter schemas, looked up the way vLLM does (`properties`, else the whole
    `parameters` object)."""
    params = spec.get("parameters")
    if not isinstance(params, Mapping):
        return {}
    props = params.get("properties", params)
    return props if isinstance(props, Mapping) else {}


def convert_value(value: str, name: str, schemas: Mapping[str, Any]) -> Any:
    """A parameter's text converted by its JSON-schema type, exactly as vLLM converts it."""
    if value.lower() == "null":
        return None
    if name not in schemas:
        return value
    schema = schemas[name]
    has_type = isinstance(schema, Mapping) and "type" in schema
    kind = str(schema["type"]).strip().lower() if has_type else "string"
    if kind in _STRING_TYPES:
        return value
    if kind.startswith(_INTEGER_PREFIXES):
        try:
            return int(value)
        except (ValueError, TypeError):
            return value
    if kind.startswith(("num", "float")):
        try:
            number = float(value)
            return number if number - int(number) != 0 else int(number)
        except (ValueError, TypeError, OverflowError):
            return value
    if kind in _BOOLEAN_TYPES:
        return value.lower() == "true"
    if kind in ("object", "array", "arr") or kind.startswith(("dict", "list")):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, TypeError, ValueError):
            pass
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value
    # A set, bytes or complex literal has no JSON form (vLLM then loses the whole reply).
    return parsed if _json_safe(parsed) else value


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def _strip_one_newline(value: str) -> str:
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value


def _function_bodies(text: str, problems: list[str]) -> tuple[str, list[str]]:
    """(content before the first call, the text after each `<function=`), noting blocks
    that lead nowhere."""
    blocks = list(_TOOL_CALL_RE.finditer(text))
    if not blocks:
        # vLLM's fallback: no <tool_call> tag, so look for bare <function= blocks.
        bodies = [m.group(1) or m.group(2) or "" for m in _FUNCTION_RE.finditer(text)]
        return text[: text.find(_FUNCTION_TAG)], bodies
    bodies: list[str] = []
    for number, block in enumerate(blocks, 1):
        inner = block.group(1) or block.group(2) or ""
        found = [m.group(1) or m.group(2) or "" for m in _FUNCTION_RE.finditer(inner)]
        if not found:
            problems.append(f"<tool_call> block {number} has no <function=NAME> inside it")
        bodies.extend(found)
    spans = [block.span() for block in blocks]
    for stray in re.finditer(re.escape(_FUNCTION_TAG), text):
        if not any(start <= stray.start() < end for start, end in spans):
            problems.append(
                "a <function=...> appears outside <tool_call></tool_call>; "
                "wrap every function in its own <tool_call> block"
            )
            break
    return text[: text.find(_TOOL_CALL_TAG)], bodies


def _parse_function(
    body: str, number: int, specs: Mapping[str, Mapping[str, Any]], problems: list[str]
) -> ToolCall | None:
    end = body.find(">")
    if end < 0:
        problems.append(f"call {number}: the <function=NAME> tag is not closed with '>'")
        return None
    name = body[:end]
    spec = specs.get(name)
    if spec is None:
        if "<" in name or "\n" in name:  # the '>' found belongs to a later tag
            problems.append(f"call {number}: the <function=NAME> tag is not closed with '>'")
        else:
            problems.append(f"call {number}: unknown function {name[:60]!r}")
        return None
    schemas = _argument_schemas(spec)
    arguments: dict[str, Any] = {}
    for match in _PARAMETER_RE.findall(body[end + 1 :]):
        close = match.find(">")
        if close < 0:
            problems.append(f"call {number} ({name}): a <parameter=NAME> tag lacks its '>'")
            continue
        param = match[:close]
        arguments[param] = convert_value(_strip_one_newline(match[close + 1 :]), param, schemas)
    params = spec.get("parameters")
    required = params.get("required", []) if isinstance(params, Mapping) else []
    missing = [r for r in required if isinstance(r, str) and r not in arguments]
    if missing:
        problems.append(
            f"call {number} ({name}): missing required parameter"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    return ToolCall(
        name=name,
        arguments=arguments,
        raw_arguments=json.dumps(arguments, ensure_ascii=False),
    )


def parse_tool_calls(text: str, tools: list[dict]) -> tuple[str, list[ToolCall]]:
    """(content before the first call, the calls). No call at all gives (text, []).

    `tools` are OpenAI-format tool dicts; values are converted by each tool's JSON schema as
    vLLM converts them. ToolCall.id is "call_<n>" (n from 0, unique within the reply) and
    raw_arguments the arguments as JSON, as a server with the parser would send them.
    Raises ToolCallFormatError when the reply attempts a call that cannot be run."""
    if _FUNCTION_TAG not in text and _TOOL_CALL_TAG not in text:
        return text, []
    specs = _specs_by_name(tools)
    problems: list[str] = []
    content, bodies = _function_bodies(text, problems)
    calls: list[ToolCall] = []
    for number, body in enumerate(bodies, 1):
        call = _parse_function(body, number, specs, problems)
        if call is not None:
            call.id = f"call_{len(calls)}"
            calls.append(call)
    if problems:
        raise ToolCallFormatError(problems, list(specs))
    return content, calls


def _is_list_like(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _template_str(value: Any) -> str:
    """The template's `tojson` for mappings and lists, its `string` filter otherwise."""
    if isinstance(value, Mapping) or _is_list_like(value):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _extra_keys(obj: Any, handled: tuple[str, ...]) -> str:
    """Schema keys the template has no slot for (enum, default, required, ...) as
    `<key>value</key>` lines, in their order."""
    if not isinstance(obj, Mapping):
        return ""
    kept = ((key, value) for key, value in obj.items() if key not in handled)
    return "".join(f"\n<{key}>{_template_str(value)}</{key}>" for key, value in kept)


def _render_function(spec: Mapping[str, Any]) -> str:
    out = [f"\n<function>\n<name>{spec.get('name')}</name>"]
    if "description" in spec:
        out.append(f"\n<description>{str(spec['description']).strip()}</description>")
    out.append("\n<parameters>")
    params = spec.get("parameters")
    props = params.get("properties") if isinstance(params, Mapping) else None
    if isinstance(props, Mapping):
        for name, fields in props.items():
            out.append(f"\n<parameter>\n<name>{name}</name>")
            if isinstance(fields, Mapping):
                if "type" in fields:
                    out.append(f"\n<type>{fields['type']}</type>")
                if "description" in fields:
                    out.append(f"\n<description>{str(fields['description']).strip()}</description>")
            out.append(_extra_keys(fields, ("name", "type", "description")))
            out.append("\n</parameter>")
    out.append(_extra_keys(params, ("type", "properties")))
    out.append("\n</parameters>")
    out.append(_extra_keys(spec, ("type", "name", "description", "parameters")))
    out.append("\n</function>")
    return "".join(out)


def render_tools(tools: list[dict]) -> str:
    """The system-prompt section that describes the tools and the calling format, as
    Qwen3-Coder's chat template writes it; it follows the system message after a blank line
    (see render_system_prompt). Empty when there are no tools."""
    if not tools:
        return ""
    listing = "".join(_render_function(_function_spec(tool)) for tool in tools)
    return (
        "# Tools\n\nYou have access to the following functions:\n\n"
        f"<tools>{listing}\n</tools>\n\n{_CALL_INSTRUCTIONS}"
    )


def render_system_prompt(system: str | None, tools: list[dict]) -> str:
    """The whole system message the template would build: the agent's own (or the
    template's default), then the tools section."""
    base = DEFAULT_SYSTEM_PROMPT if system is None else system
    section = render_tools(tools)
    return f"{base}\n\n{section}" if section else base


def _call_arguments(call: ToolCall) -> Mapping[str, Any]:
    if call.arguments is not None:
        return call.arguments
    try:
        parsed = json.loads(call.raw_arguments) if call.raw_arguments else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, Mapping) else {}


def _render_argument(value: Any) -> str:
    # The template writes None as "None", which parses back as the string "None";
    # "null" is what the model writes and what the parser maps to None.
    return "null" if value is None else _template_str(value)


def _render_call(call: ToolCall) -> str:
    params = "".join(
        f"<parameter={name}>\n{_render_argument(value)}\n</parameter>\n"
        for name, value in _call_arguments(call).items()
    )
    return f"<tool_call>\n<function={call.name}>\n{params}</function>\n</tool_call>"


def render_tool_calls(content: str, calls: list[ToolCall]) -> str:
    """An assistant turn with its calls back as text, byte for byte what the template makes
    of a native assistant message (content trimmed, a blank line, the blocks), so history
    in text mode is in the model's own format. Without calls the content is kept as is."""
    if not calls:
        return content
    text = content.strip() if isinstance(content, str) else ""
    head = f"{text}\n" if text else ""
    rendered = head + "".join("\n" + _render_call(call) for call in calls)
    return rendered if text else rendered[1:]


def render_tool_response(output: str) -> str:
    """A tool result as the template wraps it, trailing newline included; results are
    concatenated as they are (no separator), see render_tool_responses."""
    return f"<tool_response>\n{output}\n</tool_response>\n"


def render_tool_responses(outputs: list[str]) -> str:
    """The user turn that carries the results of one assistant turn's calls: the template
    puts consecutive tool messages in a single user turn, one block after another."""
    return "".join(render_tool_response(output) for output in outputs)


__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "ToolCallFormatError",
    "convert_value",
    "parse_tool_calls",
    "render_system_prompt",
    "render_tool_calls",
    "render_tool_response",
    "render_tool_responses",
    "render_tools",
]
