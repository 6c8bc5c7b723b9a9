"""Qwen3-Coder XML tool calls: parsing as vLLM's qwen3_coder parser does, rendering as the
model's chat template does. Pure Python, no network."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalharness.agents.qwen_xml import (
    DEFAULT_SYSTEM_PROMPT,
    ToolCallFormatError,
    parse_tool_calls,
    render_system_prompt,
    render_tool_calls,
    render_tool_response,
    render_tool_responses,
    render_tools,
)
from evalharness.model.llm import ToolCall


def _tool(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOLS = [
    _tool(
        "bash",
        "Run a bash command in the repository.",
        {
            "command": {"type": "string", "description": "The command to run."},
            "timeout": {"type": "integer", "description": "Seconds before it is stopped."},
        },
        ["command"],
    ),
    _tool(
        "str_replace_editor",
        "View, create and edit files.",
        {
            "command": {
                "type": "string",
                "enum": ["view", "create", "str_replace", "insert", "undo_edit"],
                "description": "The edit to make.",
            },
            "path": {"type": "string", "description": "Absolute path."},
            "old_str": {"type": "string"},
            "new_str": {"type": "string"},
            "insert_line": {"type": "integer"},
            "view_range": {"type": "array", "items": {"type": "integer"}},
        },
        ["command", "path"],
    ),
    _tool(
        "settings",
        "A tool with every kind of value.",
        {
            "ratio": {"type": "number"},
            "verbose": {"type": "boolean"},
            "options": {"type": "object"},
            "tags": {"type": "array"},
            "label": {"type": ["string", "null"]},
        },
        [],
    ),
    _tool("submit", "Finish the task.", {}, []),
]


def parse(text: str) -> tuple[str, list[ToolCall]]:
    return parse_tool_calls(text, TOOLS)


def calls_of(text: str) -> list[tuple[str, dict]]:
    return [(call.name, call.arguments) for call in parse(text)[1]]


# ---- parsing: replies as the model writes them -------------------------------------------


def test_one_call_with_leading_prose():
    reply = (
        "Let me look at the repository layout first.\n\n"
        "<tool_call>\n<function=bash>\n<parameter=command>\nls -la /testbed\n</parameter>\n"
        "</function>\n</tool_call>"
    )
    content, calls = parse(reply)
    assert content == "Let me look at the repository layout first.\n\n"
    assert [(c.name, c.arguments) for c in calls] == [("bash", {"command": "ls -la /testbed"})]
    assert calls[0].id == "call_0"
    assert json.loads(calls[0].raw_arguments) == {"command": "ls -la /testbed"}


def test_several_calls_get_distinct_ids():
    reply = (
        "<tool_call>\n<function=bash>\n<parameter=command>\ngit status\n</parameter>\n"
        "</function>\n</tool_call>\n"
        "<tool_call>\n<function=str_replace_editor>\n<parameter=command>\nview\n</parameter>\n"
        "<parameter=path>\n/testbed/setup.py\n</parameter>\n</function>\n</tool_call>\n"
        "<tool_call>\n<function=submit>\n</function>\n</tool_call>"
    )
    content, calls = parse(reply)
    assert content == ""
    assert [c.name for c in calls] == ["bash", "str_replace_editor", "submit"]
    assert calls[1].arguments == {"command": "view", "path": "/testbed/setup.py"}
    assert calls[2].arguments == {}
    assert len({c.id for c in calls}) == 3


def test_multiline_code_with_markup_and_closing_tag_fragments_is_kept_verbatim():
    old = (
        'def render(items):\n    html = "<div>" + "".join(items) + "</div>"\n'
        "    # a stray '</parameter' and '<b>' must survive\n    return html\n"
    )
    new = '    return "<section>\\n</section>"  # </function is fine too'
    reply = (
        "I'll fix the renderer.\n<tool_call>\n<function=str_replace_editor>\n"
        "<parameter=command>\nstr_replace\n</parameter>\n"
        "<parameter=path>\n/testbed/app/render.py\n</parameter>\n"
        f"<parameter=old_str>\n{old}\n</parameter>\n"
        f"<parameter=new_str>\n{new}\n</parameter>\n"
        "</function>\n</tool_call>"
    )
    [(name, args)] = calls_of(reply)
    assert name == "str_replace_editor"
    assert args["old_str"] == old  # its own trailing newline kept: only one is stripped
    assert args["new_str"] == new


def test_only_one_leading_and_one_trailing_newline_are_stripped():
    reply = (
        "<tool_call>\n<function=str_replace_editor>\n<parameter=command>\ncreate\n</parameter>\n"
        "<parameter=path>\n/t/a.txt\n</parameter>\n"
        "<parameter=new_str>\n\n  indented\n\n</parameter>\n</function>\n</tool_call>"
    )
    assert calls_of(reply)[0][1]["new_str"] == "\n  indented\n"


def test_values_on_the_tag_line_and_empty_values():
    reply = (
        "<tool_call><function=str_replace_editor><parameter=command>insert</parameter>"
        "<parameter=path>/t/x.py</parameter><parameter=insert_line>3</parameter>"
        "<parameter=new_str></parameter></function></tool_call>"
    )
    assert calls_of(reply) == [
        ("str_replace_editor", {"command": "insert", "path": "/t/x.py", "insert_line": 3, "new_str": ""})
    ]


def test_integer_parameter_parsed_and_kept_as_text_when_not_a_number():
    ok = "<tool_call>\n<function=bash>\n<parameter=command>\nsleep 1\n</parameter>\n<parameter=timeout>\n120\n</parameter>\n</function>\n</tool_call>"
    bad = ok.replace("120", "two minutes")
    assert calls_of(ok)[0][1]["timeout"] == 120
    assert calls_of(bad)[0][1]["timeout"] == "two minutes"


def test_number_boolean_object_array_conversion():
    def one(param: str, value: str):
        reply = f"<tool_call>\n<function=settings>\n<parameter={param}>\n{value}\n</parameter>\n</function>\n</tool_call>"
        return calls_of(reply)[0][1][param]

    assert one("ratio", "0.25") == 0.25
    ratio = one("ratio", "3.0")
    assert ratio == 3 and isinstance(ratio, int)  # a whole float becomes an int, as in vLLM
    assert one("ratio", "lots") == "lots"
    assert one("verbose", "true") is True
    assert one("verbose", "True") is True  # vLLM lower-cases before comparing
    assert one("verbose", "false") is False
    assert one("verbose", "yes") is False  # anything but "true" is false
    assert one("options", '{"depth": 2, "names": ["a", "b"]}') == {"depth": 2, "names": ["a", "b"]}
    assert one("options", "{'depth': 2, 'flag': True}") == {"depth": 2, "flag": True}  # Python literal
    assert one("options", "{not json") == "{not json"
    assert one("options", "{1, 2}") == "{1, 2}"  # a set literal has no JSON form: kept as text
    assert one("label", "b'raw'") == "b'raw'"
    assert one("tags", '["x", 1, null]') == ["x", 1, None]
    assert one("tags", "('a', 'b')") == ("a", "b")
    assert one("label", "null") is None  # "null" means None whatever the type
    assert one("verbose", "NULL") is None  # in any case
    assert one("label", "7") == 7  # an unrecognised type goes through literal_eval, as in vLLM
    assert one("label", "plain words") == "plain words"


def test_array_parameter_of_a_real_editor_call():
    reply = (
        "<tool_call>\n<function=str_replace_editor>\n<parameter=command>\nview\n</parameter>\n"
        "<parameter=path>\n/testbed/src/mod.py\n</parameter>\n"
        "<parameter=view_range>\n[10, 40]\n</parameter>\n</function>\n</tool_call>"
    )
    assert calls_of(reply)[0][1]["view_range"] == [10, 40]


def test_unknown_parameter_kept_as_string():
    reply = (
        "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n"
        "<parameter=cwd>\n42\n</parameter>\n</function>\n</tool_call>"
    )
    assert calls_of(reply)[0][1] == {"command": "ls", "cwd": "42"}


def test_missing_closing_parameter_tags_are_tolerated():
    reply = (
        "<tool_call>\n<function=str_replace_editor>\n<parameter=command>\ncreate\n"
        "<parameter=path>\n/testbed/new.py\n"
        "<parameter=new_str>\nprint('hi')\n</function>\n</tool_call>"
    )
    assert calls_of(reply) == [
        ("str_replace_editor", {"command": "create", "path": "/testbed/new.py", "new_str": "print('hi')"})
    ]


def test_missing_closing_tool_call_at_the_end_is_tolerated():
    reply = "Running the tests.\n<tool_call>\n<function=bash>\n<parameter=command>\npytest -x tests/\n</parameter>\n</function>\n"
    content, calls = parse(reply)
    assert content == "Running the tests.\n"
    assert [(c.name, c.arguments) for c in calls] == [("bash", {"command": "pytest -x tests/"})]


def test_reply_cut_off_inside_a_value_keeps_what_was_written():
    reply = "<tool_call>\n<function=bash>\n<parameter=command>\npython -c 'print(1)'"
    assert calls_of(reply) == [("bash", {"command": "python -c 'print(1)'"})]


def test_function_without_tool_call_tags_at_all_is_accepted_like_vllm():
    reply = "Checking.\n<function=bash>\n<parameter=command>\npwd\n</parameter>\n</function>"
    content, calls = parse(reply)
    assert content == "Checking.\n"
    assert [(c.name, c.arguments) for c in calls] == [("bash", {"command": "pwd"})]


def test_text_after_the_last_call_is_ignored():
    reply = "<tool_call>\n<function=submit>\n</function>\n</tool_call>\nI have submitted the fix."
    content, calls = parse(reply)
    assert content == "" and [c.name for c in calls] == ["submit"]


def test_no_call_at_all_is_plain_content():
    text = "The failing test expects a `ValueError`; I think the fix is in parse().\n<div>not a call</div>"
    assert parse(text) == (text, [])
    assert parse("") == ("", [])


def test_bare_function_schema_without_openai_wrapper():
    tools = [{"name": "ping", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}}]
    _, calls = parse_tool_calls("<tool_call>\n<function=ping>\n<parameter=n>\n3\n</parameter>\n</function>\n</tool_call>", tools)
    assert calls[0].arguments == {"n": 3}


# ---- parsing: malformed calls give a corrective message ----------------------------------


def error_for(text: str) -> ToolCallFormatError:
    with pytest.raises(ToolCallFormatError) as info:
        parse(text)
    return info.value


def assert_corrective(exc: ToolCallFormatError) -> None:
    message = str(exc)
    assert "<tool_call>\n<function=FUNCTION_NAME>\n<parameter=PARAMETER_NAME>" in message
    assert "bash, str_replace_editor, settings, submit" in message
    assert isinstance(exc, ValueError)


def test_unknown_function_lists_the_known_ones():
    exc = error_for("<tool_call>\n<function=run_shell>\n<parameter=command>\nls\n</parameter>\n</function>\n</tool_call>")
    assert "unknown function 'run_shell'" in str(exc)
    assert_corrective(exc)


def test_missing_required_parameter():
    exc = error_for(
        "<tool_call>\n<function=str_replace_editor>\n<parameter=command>\nview\n</parameter>\n"
        "</function>\n</tool_call>"
    )
    assert exc.problems == ["call 1 (str_replace_editor): missing required parameter path"]
    assert_corrective(exc)
    exc = error_for("<tool_call>\n<function=bash>\n</function>\n</tool_call>")
    assert "missing required parameter command" in str(exc)


def test_tool_call_without_function_for_example_hermes_json():
    exc = error_for('<tool_call>\n{"name": "bash", "arguments": {"command": "ls"}}\n</tool_call>')
    assert "<tool_call> block 1 has no <function=NAME> inside it" in str(exc)
    assert_corrective(exc)


def test_function_outside_tool_call_when_blocks_exist():
    exc = error_for(
        "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\n</tool_call>\n"
        "<function=submit>\n</function>"
    )
    assert "outside <tool_call></tool_call>" in str(exc)


def test_unclosed_function_and_parameter_tags():
    assert "not closed with '>'" in str(error_for("<tool_call>\n<function=bash\n</tool_call>"))
    assert "not closed with '>'" in str(
        error_for("<tool_call>\n<function=bash\n<parameter=command>\nls\n</parameter>\n</function>\n</tool_call>")
    )
    exc = error_for("<tool_call>\n<function=bash>\n<parameter=command")
    assert "lacks its '>'" in str(exc)


def test_one_bad_call_rejects_the_whole_reply_and_reports_every_problem():
    exc = error_for(
        "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\n</tool_call>\n"
        "<tool_call>\n<function=edit>\n</function>\n</tool_call>\n"
        "<tool_call>\n<function=str_replace_editor>\n</function>\n</tool_call>"
    )
    assert len(exc.problems) == 2
    assert "call 2: unknown function 'edit'" in exc.problems[0]
    assert "call 3 (str_replace_editor): missing required parameters command, path" in exc.problems[1]


# ---- rendering ---------------------------------------------------------------------------


def test_render_tools_describes_every_tool_and_parameter_in_the_template_layout():
    text = render_tools(TOOLS)
    assert text.startswith("# Tools\n\nYou have access to the following functions:\n\n<tools>\n<function>\n")
    for tool in TOOLS:
        spec = tool["function"]
        assert f"<function>\n<name>{spec['name']}</name>\n<description>{spec['description']}</description>" in text
        for name, fields in spec["parameters"]["properties"].items():
            assert f"<parameter>\n<name>{name}</name>\n<type>{fields['type']}</type>" in text
            if "description" in fields:
                assert f"<description>{fields['description']}</description>" in text
    assert '<enum>["view", "create", "str_replace", "insert", "undo_edit"]</enum>' in text
    assert '<required>["command", "path"]</required>\n</parameters>\n</function>' in text
    assert "<type>['string', 'null']</type>" in text  # the template's `string` filter
    assert "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format" in text
    assert "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n" in text
    assert text.endswith("do not tell the user about function calls\n</IMPORTANT>")
    assert render_tools([]) == ""


def test_render_tools_exact_layout_of_one_tool():
    tool = {
        "type": "function",
        "function": {
            "name": "grep",
            "description": "  Search files.\n",
            "parameters": {
                "type": "object",
                "properties": {"pattern": {"type": "string", "description": " regex ", "default": "."}},
                "required": ["pattern"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
    head = render_tools([tool]).split("\n\nIf you choose")[0]
    assert head == (
        "# Tools\n\nYou have access to the following functions:\n\n<tools>\n"
        "<function>\n<name>grep</name>\n<description>Search files.</description>\n<parameters>\n"
        "<parameter>\n<name>pattern</name>\n<type>string</type>\n<description>regex</description>\n"
        "<default>.</default>\n</parameter>\n"
        '<required>["pattern"]</required>\n<additionalProperties>False</additionalProperties>\n'
        "</parameters>\n<strict>True</strict>\n</function>\n</tools>"
    )


def test_render_system_prompt_joins_system_and_tools_as_the_template_does():
    assert render_system_prompt("Be careful.", TOOLS) == "Be careful.\n\n" + render_tools(TOOLS)
    assert render_system_prompt(None, TOOLS).startswith(DEFAULT_SYSTEM_PROMPT + "\n\n# Tools\n")
    assert render_system_prompt("Be careful.", []) == "Be careful."


def test_render_tool_calls_exact_text():
    calls = [
        ToolCall("bash", {"command": "ls\ncd /x", "timeout": 30}),
        ToolCall("str_replace_editor", {"command": "view", "path": "/a.py", "view_range": [1, 20]}),
    ]
    assert render_tool_calls("  Let me look.\n", calls) == (
        "Let me look.\n\n"
        "<tool_call>\n<function=bash>\n<parameter=command>\nls\ncd /x\n</parameter>\n"
        "<parameter=timeout>\n30\n</parameter>\n</function>\n</tool_call>\n"
        "<tool_call>\n<function=str_replace_editor>\n<parameter=command>\nview\n</parameter>\n"
        "<parameter=path>\n/a.py\n</parameter>\n<parameter=view_range>\n[1, 20]\n</parameter>\n"
        "</function>\n</tool_call>"
    )
    assert render_tool_calls("", [ToolCall("submit", {})]) == "<tool_call>\n<function=submit>\n</function>\n</tool_call>"
    assert render_tool_calls("  No calls, kept as is. ", []) == "  No calls, kept as is. "


def test_none_is_rendered_as_null_so_it_parses_back_as_none():
    # The template's `string` filter would write "None", which comes back as a string.
    text = render_tool_calls("", [ToolCall("settings", {"label": None, "ratio": 2})])
    assert "<parameter=label>\nnull\n</parameter>" in text
    assert parse(text)[1][0].arguments == {"label": None, "ratio": 2}


def test_render_tool_calls_uses_raw_arguments_when_arguments_are_missing():
    call = ToolCall("bash", None, raw_arguments='{"command": "ls"}')
    assert "<parameter=command>\nls\n</parameter>" in render_tool_calls("", [call])
    assert render_tool_calls("", [ToolCall("bash", None, raw_arguments="{broken")]) == (
        "<tool_call>\n<function=bash>\n</function>\n</tool_call>"
    )


def test_tool_responses_are_grouped_into_one_user_turn():
    assert render_tool_response("exit code 0\nok") == "<tool_response>\nexit code 0\nok\n</tool_response>\n"
    assert render_tool_responses(["a", "b"]) == (
        "<tool_response>\na\n</tool_response>\n<tool_response>\nb\n</tool_response>\n"
    )


# ---- round trip --------------------------------------------------------------------------

# Values the format cannot carry (vLLM's parser has the same limits): a string holding a
# closing tag the parser stops at, and the string "null", which always means None.
_UNSAFE = ("</parameter>", "<parameter=", "</function>", "</tool_call>")


def _safe_text(value: str) -> bool:
    return not any(marker in value for marker in _UNSAFE) and value.lower() != "null"


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(_safe_text)
code_like = st.lists(
    st.sampled_from(["<div>", "</div>", "</parameter", "<parameter", "def f():", "\n", "    ", "x = '<b>'", "\\n", '"'])
    | texts,
    max_size=8,
).map("".join).filter(_safe_text)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
).filter(lambda v: _safe_text(json.dumps(v, ensure_ascii=False)))


@st.composite
def tool_calls(draw) -> ToolCall:
    kind = draw(st.sampled_from(["bash", "str_replace_editor", "settings", "submit"]))
    if kind == "bash":
        args = {"command": draw(code_like)}
        if draw(st.booleans()):
            args["timeout"] = draw(st.integers())
    elif kind == "str_replace_editor":
        args = {"command": draw(st.sampled_from(["view", "str_replace"])), "path": draw(texts)}
        for key in draw(st.lists(st.sampled_from(["old_str", "new_str"]), unique=True)):
            args[key] = draw(code_like)
        if draw(st.booleans()):
            args["view_range"] = draw(st.lists(st.integers(), max_size=3))
    elif kind == "settings":
        args = {}
        if draw(st.booleans()):
            # a "number" goes through float(), as in vLLM: integers beyond 2**53 lose digits
            exact = st.integers(min_value=-(2**53), max_value=2**53)
            args["ratio"] = draw(st.floats(allow_nan=False, allow_infinity=False) | exact)
        if draw(st.booleans()):
            args["verbose"] = draw(st.booleans())
        if draw(st.booleans()):
            args["options"] = draw(st.dictionaries(texts, json_values, max_size=3))
        if draw(st.booleans()):
            args["tags"] = draw(st.lists(json_values, max_size=3))
        if draw(st.booleans()):
            # its type ["string", "null"] sends text through literal_eval, so keep it non-literal
            args["label"] = draw(st.none() | texts.map("label: {}".format))
    else:
        args = {}
    return ToolCall(kind, args)


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=0, abs_tol=0)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return a == b and type(a) is type(b)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never flakes
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    content=texts.filter(lambda t: "<tool_call>" not in t and "<function=" not in t),
    calls=st.lists(tool_calls(), min_size=1, max_size=3),
)
def test_round_trip_preserves_names_and_arguments(content, calls):
    text = render_tool_calls(content, calls)
    parsed_content, parsed = parse_tool_calls(text, TOOLS)
    assert [c.name for c in parsed] == [c.name for c in calls]
    for original, back in zip(calls, parsed):
        assert _same(original.arguments, back.arguments), (original.arguments, back.arguments)
    assert parsed_content.strip() == content.strip()
