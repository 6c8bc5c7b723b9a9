"""Qwen3-Coder XML replies that vLLM's parser would run wrongly: values cut at a closing tag
they hold, calls left open by a reply cut at the output limit, and the cases qwen_xml's
docstring keeps as vLLM does (pinned here so the docstring stays true). Pure Python."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalharness.agents.qwen_xml import ToolCallFormatError, open_call, parse_tool_calls, render_tool_calls
from evalharness.model.llm import ToolCall
from test_qwen_xml import TOOLS, calls_of, parse

TAGS = ("</parameter>", "</function>", "</tool_call>")


def call(name: str, **params: str) -> str:
    """One call written as the model writes it."""
    body = "".join(f"<parameter={key}>\n{value}\n</parameter>\n" for key, value in params.items())
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


def error_for(text: str) -> ToolCallFormatError:
    with pytest.raises(ToolCallFormatError) as info:
        parse(text)
    return info.value


# ---- values that hold a closing tag ------------------------------------------------------


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("where", ["middle", "end", "alone"])
def test_a_value_holding_a_closing_tag_is_refused_not_cut(tag, where):
    value = {"middle": f"<tpl>\n  {tag}\n</tpl>", "end": f"x = 1  # {tag}", "alone": tag}[where]
    reply = "Editing the template.\n" + call("str_replace_editor", command="create", path="/t/a.xml", new_str=value)
    exc = error_for(reply)
    ends = {"</parameter>": "a value", "</function>": "a function", "</tool_call>": "a call"}[tag]
    assert exc.problems == [
        f"call 1 (str_replace_editor): the value of new_str holds {tag}, which ends {ends} in this format"]
    message = str(exc)
    assert message.startswith("Your tool call could not be parsed, so nothing was run")
    assert "A value cannot contain </parameter>, </function> or </tool_call>, not even a bash command" in message
    assert "<<'EOF'" in message and "sed -i 's#<@/#</#g' FILE" in message


def test_the_tag_is_found_in_any_call_and_parameter_and_named():
    reply = call("bash", command="ls") + "\n" + call("bash", command="echo '</parameter>' > t.xml", timeout="5")
    assert error_for(reply).problems == [
        "call 2 (bash): the value of command holds </parameter>, which ends a value in this format"
    ]


def test_text_after_function_inside_the_block_is_refused():
    reply = "<tool_call>\n<function=submit>\n</function>\nextra\n</tool_call>"
    assert error_for(reply).problems == [
        "call 1 (submit): text follows </function>, which ends a function in this format"
    ]


def test_the_advice_is_only_for_tags_in_values():
    assert "A value cannot contain" not in str(error_for("<tool_call>\n<function=run>\n</function>\n</tool_call>"))


@pytest.mark.parametrize("reply", [
    # prose after the last call, with or without </tool_call>, or without any <tool_call>
    call("bash", command="ls") + "\nI listed the files.",
    "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\nDone.",
    "<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\nDone.",
    # closing tags in the prose before the first call are content, not a value
    "The </parameter> and </tool_call> tags confuse the parser.\n" + call("bash", command="ls"),
    # tags not closed by '>' and opening tags are plain text in a value
    call("bash", command="grep -n '</parameter' f; grep '<tool_call>' g"),
    # a missing </parameter> leaves nothing behind to pass over
    "<tool_call>\n<function=bash>\n<parameter=command>\nls\n<parameter=timeout>\n5\n</function>\n</tool_call>",
])
def test_replies_without_a_tag_held_in_a_value_still_parse(reply):
    assert [name for name, _ in calls_of(reply)] == ["bash"]


# A value may hold any closing tag anywhere; the opening tags (which the parser cannot tell
# from a missing </parameter>) and "null" (always None) are left out.
_OPENING = ("<parameter=", "<function=", "<tool_call>")
values = st.lists(st.sampled_from([*TAGS, "\n", " ", "x", "<b>", "</b>"]) | st.text(max_size=8), max_size=8).map(
    "".join
).filter(lambda v: not any(tag in v for tag in _OPENING) and v.lower() != "null")


@st.composite
def string_calls(draw) -> ToolCall:
    if draw(st.booleans()):
        return ToolCall("bash", {"command": draw(values)})
    return ToolCall("str_replace_editor", {"command": "str_replace", "path": "/t/f", "old_str": draw(values),
                                           "new_str": draw(values)})


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(string_calls(), min_size=1, max_size=3))
def test_a_reply_either_parses_back_exactly_or_is_refused_never_cut(calls):
    text = render_tool_calls("", calls)
    held = any(tag in value for c in calls for value in c.arguments.values() for tag in TAGS)
    if held:
        with pytest.raises(ToolCallFormatError):
            parse_tool_calls(text, TOOLS)
    else:
        assert [c.arguments for c in parse_tool_calls(text, TOOLS)[1]] == [c.arguments for c in calls]


# ---- a reply cut at the output limit -----------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Let me fix it.", None),
    (call("bash", command="ls"), None),
    (call("bash", command="ls") + "\nNow I", None),  # cut after the call
    ("<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\n", None),
    ("<tool_call>\n<function=bash>\n<parameter=command>\nrm -rf /testbed/bu", "bash"),
    ("<tool_call>\n<function=str_replace_editor>\n<parameter=command>\ncreate\n</parameter>\n", "str_replace_editor"),
    ("<tool_call>\n<function=bash>\n<parameter=command>\nx\n</parameter>\n</function>\nmore", "bash"),
    ("<tool_call>\n<function=bas", ""),
    (call("bash", command="ls") + "\n<tool_call>\n", ""),
    (call("bash", command="ls") + "\n<tool_call>\n<function=submit>\n", "submit"),
    ("<function=bash>\n<parameter=command>\ngrep '<tool_call>' f | hea", "bash"),
])
def test_open_call_names_the_call_a_cut_reply_left_open(text, expected):
    assert open_call(text) == expected


# ---- kept as vLLM's parser does (qwen_xml's docstring) -----------------------------------


def test_a_complete_call_inside_a_markdown_fence_is_run():
    reply = "I will run:\n```xml\n" + call("bash", command="pytest -x") + "\n```"
    assert calls_of(reply) == [("bash", {"command": "pytest -x"})]


def test_null_for_a_string_parameter_is_none():
    assert calls_of(call("bash", command="null")) == [("bash", {"command": None})]


def test_anyof_integer_or_null_keeps_text_and_yes_is_false():
    tools = [{"type": "function", "function": {"name": "t", "parameters": {"type": "object", "properties": {
        "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "flag": {"type": "boolean"}}}}}]
    _, [parsed] = parse_tool_calls(call("t", n="5", flag="yes"), tools)
    assert parsed.arguments == {"n": "5", "flag": False}


def test_a_tool_call_mentioned_in_prose_is_a_format_error():
    exc = error_for("To call a tool I write <tool_call> and then the function.")
    assert exc.problems == ["<tool_call> block 1 has no <function=NAME> inside it"]
