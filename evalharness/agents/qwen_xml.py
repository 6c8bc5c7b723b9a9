"""Qwen3-Coder's XML tool-call format, for servers that run without a tool parser (text mode).

Parsing follows vLLM's `qwen3_coder` parser rule for rule, so a reply yields the same calls
whether the server parsed it or we did. Rendering follows Qwen3-Coder's chat template
(tools in the system prompt, calls in the assistant turn, results as `<tool_response>`
blocks in a user turn), so the model sees text mode exactly as it sees native mode.

Where vLLM would silently drop a call (it then returns the whole reply as plain content)
or pass on one the agent cannot run, `parse_tool_calls` raises `ToolCallFormatError`
instead, whose text tells the model what to fix:

- a `<tool_call>` block with no `<function=NAME>` in it (a JSON body, say), also a reply
  that only mentions `<tool_call>` in prose (see below);
- a `<function=` outside `<tool_call>` ... `</tool_call>` when the reply has such blocks
  (vLLM ignores it); a reply with no `<tool_call>` tag at all is searched for
  `<function=` blocks, as vLLM does;
- a `<function=` or `<parameter=` tag not closed by `>`;
- an unknown function name (the message lists the known ones);
- a required parameter (the schema's "required") missing;
- a value that holds `</parameter>`, `</function>` or `</tool_call>`: the first such tag
  ends the value, so vLLM runs the call with the text up to it (an edit of an XML template
  or of this parser's tests loses its tail). Seen as text the parser would skip: non-blank
  text after a `</parameter>` before the next `<parameter=` or `</function>`, after a
  `</function>` before `</tool_call>`, or a closing tag after a block's `</tool_call>`.
  The message says how to write such text (a quoted `bash` heredoc with a placeholder).

A reply cut off at the output limit is the agent's to refuse: `open_call` says whether its
last call was left open (after its last `<tool_call>` / `<function=`, no `</function>`
followed by `</tool_call>` or the end).

Tolerated as vLLM tolerates them: a missing `</parameter>` (the next `<parameter=` or
`</function>` ends the value), a missing `</function>`, a missing `</tool_call>` at the end
of the reply, text after the last call (ignored), parameters the schema does not know
(kept as strings), values that do not fit their type (kept as strings).

Kept as vLLM's parser (as ported) does, on purpose; how vLLM's newest stored parser
(vllm/tool_parsers/qwen3coder_tool_parser.py, commit 00d0a333) and SGLang's
(python/sglang/srt/function_call/qwen3_coder_detector.py after its schema-conversion rewrite,
sglang#13411/#15135, commit 048a57e8) treat the same reply:

- A complete call inside a markdown code fence is run: neither looks at fences; both run it.
- "null" for a string parameter becomes None. vLLM newest: no, a string keeps "null" unless
  the schema admits null (type "null" or an anyOf with null); "None" is read as null there
  too. SGLang: yes, "null" in any case is None for every type.
- `anyOf [integer, null]` (no "type" key) keeps "5" as the string "5". vLLM newest: no, it
  takes the first non-null anyOf type, so 5. SGLang: yes, no "type" means string.
- "yes" for a boolean becomes False (only "true", any case, is True): both do the same.
- A reply that only mentions `<tool_call>` in prose (no `<function=`) gets a format error.
  vLLM (newest too) returns it as plain content, no calls; SGLang returns no calls and as
  content only the text before the tag. The agent answers a reply without calls with a
  corrective message anyway, so only the wording differs.
- Not kept, for comparison: vLLM newest and SGLang still run a call cut off at the output
  limit (the value runs to the end of the text; SGLang drops it instead when an earlier
  block was complete), and vLLM can report such a turn as finish_reason "tool_calls", not
  "length" (vllm#58228, open; SGLang relabels only "stop"). vLLM newest treats a closing tag as
  structural only when a structural tag follows it, so most values holding tags survive
  there; SGLang cuts at the first tag, as vLLM's older parser did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalharness.agents.qwen_values import convert_value
from evalharness.model.llm import ToolCall

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
_FUNCTION_END = "</function>"
_TOOL_CALL_END = "</tool_call>"
_CLOSING_TAGS = ("</parameter>", _FUNCTION_END, _TOOL_CALL_END)
_FUNCTION_NAME_RE = re.compile(r"<function=([^<>\n]+)>")

# How to write what a value cannot hold: the tag must never appear whole in any value.
_TAG_ADVICE = (
    "A value cannot contain </parameter>, </function> or </tool_call>, not even a bash "
    "command. To write text that holds one, write the tag as <@/parameter> (<@/function>, "
    "<@/tool_call>) in a bash quoted heredoc, then put the slash back: "
    "cat > FILE <<'EOF' ... EOF, then sed -i 's#<@/#</#g' FILE"
)


class ToolCallFormatError(ValueError):
    """A reply tried to call a tool but the XML is malformed; str(exc) is a corrective
    message for the model (what was wrong, and the exact format to use, short).
    `problems` lists each fault found; none of the reply's calls should be run."""

    def __init__(self, problems: list[str], known_functions: list[str], advice: str = ""):
        self.problems = list(problems)
        self.known_functions = list(known_functions)
        super().__init__(_corrective_message(self.problems, self.known_functions, advice))


def _corrective_message(problems: list[str], known: list[str], advice: str = "") -> str:
    names = ", ".join(known) if known else "(none)"
    return (
        "Your tool call could not be parsed, so nothing was run: "
        + "; ".join(problems)
        + (f".\n{advice}" if advice else "")
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


def _strip_one_newline(value: str) -> str:
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value


@dataclass(frozen=True)
class _Body:
    """One `<function=` as the parser reads it: `text` runs to its `</function>` (or the end of
    its block); `cut_by` is the closing tag its last value must have held when the parser
    would pass over text after it that shows so ("" when none)."""

    text: str
    cut_by: str = ""


def _holds_closing_tag(text: str) -> bool:
    return any(tag in text for tag in _CLOSING_TAGS)


def _bodies_of(text: str, spill: str | None) -> list[_Body]:
    """The functions of one block (or of a reply without blocks). Text between a function's
    `</function>` and the next function (or the end) is passed over by the parser: inside a
    closed block it must be blank; otherwise (the reply's tail) it may be prose, but not hold
    a closing tag. `spill` is what follows the block's `</tool_call>` up to the next block,
    passed over too (prose, but no closing tag); None when the block is not closed or the
    reply has no blocks."""
    found = list(_FUNCTION_RE.finditer(text))
    bodies = []
    for i, match in enumerate(found):
        closed = match.group(1) is not None
        after = text[match.end() : found[i + 1].start() if i + 1 < len(found) else len(text)]
        in_block = spill is not None
        cut_by = ""
        if closed and (after.strip() if in_block else _holds_closing_tag(after)):
            cut_by = _FUNCTION_END
        elif i + 1 == len(found) and spill and _holds_closing_tag(spill):
            cut_by = _TOOL_CALL_END
        bodies.append(_Body(match.group(1) if closed else match.group(2) or "", cut_by))
    return bodies


def _function_bodies(text: str, problems: list[str]) -> tuple[str, list[_Body]]:
    """(content before the first call, each `<function=`), noting blocks that lead nowhere."""
    blocks = list(_TOOL_CALL_RE.finditer(text))
    if not blocks:
        # vLLM's fallback: no <tool_call> tag, so look for bare <function= blocks.
        return text[: text.find(_FUNCTION_TAG)], _bodies_of(text, None)
    bodies: list[_Body] = []
    for number, block in enumerate(blocks, 1):
        closed = block.group(1) is not None
        inner = block.group(1) if closed else block.group(2) or ""
        after = text[block.end() : blocks[number].start() if number < len(blocks) else len(text)]
        # A block that runs to the end of the reply is its tail: blank text after its
        # functions is not required there, as a missing </tool_call> is tolerated.
        found = _bodies_of(inner, after if closed else None)
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


_IN_THIS_FORMAT = " in this format"
_ENDS = {"</parameter>": "a value", _FUNCTION_END: "a function", _TOOL_CALL_END: "a call"}


def _cut_value(number: int, name: str, param: str | None, tag: str) -> str:
    where = f"the value of {param} holds {tag}" if param else f"text follows {tag}"
    return f"call {number} ({name}): {where}, which ends {_ENDS[tag]}{_IN_THIS_FORMAT}"


def _parse_function(
    body: _Body, number: int, specs: Mapping[str, Mapping[str, Any]], problems: list[str]
) -> ToolCall | None:
    end = body.text.find(">")
    if end < 0:
        problems.append(f"call {number}: the <function=NAME> tag is not closed with '>'")
        return None
    name = body.text[:end]
    spec = specs.get(name)
    if spec is None:
        if "<" in name or "\n" in name:  # the '>' found belongs to a later tag
            problems.append(f"call {number}: the <function=NAME> tag is not closed with '>'")
        else:
            problems.append(f"call {number}: unknown function {name[:60]!r}")
        return None
    schemas = _argument_schemas(spec)
    arguments: dict[str, Any] = {}
    rest = body.text[end + 1 :]
    matches = list(_PARAMETER_RE.finditer(rest))
    param = None
    for i, match in enumerate(matches):
        text = match.group(1)
        close = text.find(">")
        if close < 0:
            problems.append(f"call {number} ({name}): a <parameter=NAME> tag lacks its '>'")
            continue
        param = text[:close]
        arguments[param] = convert_value(_strip_one_newline(text[close + 1 :]), param, schemas)
        skipped = rest[match.end() : matches[i + 1].start() if i + 1 < len(matches) else len(rest)]
        if skipped.strip():  # the value ended at a </parameter> it held
            problems.append(_cut_value(number, name, param, "</parameter>"))
    if body.cut_by:
        problems.append(_cut_value(number, name, param, body.cut_by))
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


def open_call(text: str) -> str | None:
    """For a reply cut off at the output limit: the function name of its last call when that
    call was left open (no `</function>` followed by `</tool_call>` or the end after its last
    `<tool_call>` / `<function=`), "" when even the name was cut; None when the reply has no
    call or its last one was closed (the cut came after it)."""
    last = max(text.rfind(_TOOL_CALL_TAG), text.rfind(_FUNCTION_TAG))
    if last < 0:
        return None
    tail = text[last:]
    end = tail.find(_FUNCTION_END)
    if end >= 0:
        after = tail[end + len(_FUNCTION_END) :].lstrip()
        if not after or after.startswith(_TOOL_CALL_END):
            return None
    block = text[text.rfind(_TOOL_CALL_END) + 1 :]  # the call being written
    named = _FUNCTION_NAME_RE.search(block)
    return named.group(1) if named else ""


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
        cut = any(problem.endswith(_IN_THIS_FORMAT) for problem in problems)
        raise ToolCallFormatError(problems, list(specs), _TAG_ADVICE if cut else "")
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
    "open_call",
    "parse_tool_calls",
    "render_system_prompt",
    "render_tool_calls",
    "render_tool_response",
    "render_tool_responses",
    "render_tools",
]
