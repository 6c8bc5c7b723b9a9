"""Whole episodes of the LLM agent (real HTTP to tests/fake_llm.py, a host repo as in
test_llm_agent.py) whose model sends a call that must not run: one cut off at the output
limit, or one whose value holds a closing tag of the XML format. Each shows the call did not
run (its file is absent, or the file it edits is unchanged) and that the agent's next request
carries the corrective message; then the model submits."""

from __future__ import annotations

import pytest

from evalharness.env.local import LocalEnvironment
from fake_llm import FakeLLM, Reply
from test_llm_agent import make_agent, make_task, repo  # noqa: F401 - repo: a fixture

LIMIT = 8192  # the max_tokens make_agent's model asks for (ModelConfig's default)
SUBMIT_XML = "<tool_call>\n<function=submit>\n</function>\n</tool_call>"
CALC = "def add(a, b):\n    return a - b\n"


def xml_call(name: str, **params: str) -> str:
    body = "".join(f"<parameter={key}>\n{value}\n</parameter>\n" for key, value in params.items())
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


def episode(root, head, script: list[Reply], tool_mode: str):
    """Run the agent to its end; (result, the requests the fake model received)."""
    with FakeLLM(script=script) as server:
        result = make_agent(server, tool_mode=tool_mode).run(make_task(head), LocalEnvironment(root))
        return result, list(server.requests)


def correction(requests: list[dict], number: int) -> str:
    """What the agent told the model after its reply to request `number` (1-based)."""
    last = requests[number]["messages"][-1]
    assert last["role"] == "user"
    return last["content"]


def ran(result) -> list[str]:
    return [e["name"] for e in result.trajectory if e["type"] == "tool"]


# ---- cut off at max_tokens ---------------------------------------------------------------

CUT_XML = "I'll start the build.\n<tool_call>\n<function=bash>\n<parameter=command>\ntouch cut.txt && rm -rf buil"


@pytest.mark.parametrize("tool_mode", ["qwen3_xml", "native"])  # native: a server that left the call in the text
def test_a_text_call_cut_at_max_tokens_is_not_run_and_the_model_is_told(repo, tool_mode):
    root, head = repo
    script = [Reply(content=CUT_XML, finish_reason="length", completion_tokens=LIMIT),
              Reply(content=SUBMIT_XML) if tool_mode == "qwen3_xml" else Reply(tool_calls=[("submit", {})])]
    result, requests = episode(root, head, script, tool_mode)
    assert not (root / "cut.txt").exists()
    assert ran(result) == ["submit"]
    told = correction(requests, 1)
    assert told.startswith(f"Your reply was cut off at the output limit ({LIMIT} tokens) inside its `bash` call, "
                           "so that call was not run")
    assert "cat >> FILE <<'EOF'" in told
    assert result.exit_reason == "submitted" and result.format_errors == 1
    assistant = next(e for e in result.trajectory if e["type"] == "assistant")
    assert assistant["finish_reason"] == "length" and assistant["usage"]["completion_tokens"] == LIMIT


@pytest.mark.parametrize("finish_reason", ["length", "tool_calls"])  # "tool_calls": vLLM's label for a cut turn
def test_native_arguments_cut_at_max_tokens_are_not_run_and_the_model_is_told(repo, finish_reason):
    root, head = repo
    cut = '{"command": "touch cut.txt && echo sta'
    script = [Reply(tool_calls=[("bash", cut)], finish_reason=finish_reason, completion_tokens=LIMIT),
              Reply(tool_calls=[("submit", {})])]
    result, requests = episode(root, head, script, "native")
    assert not (root / "cut.txt").exists() and ran(result) == ["submit"]
    assert correction(requests, 1).startswith(
        f"Your reply was cut off at the output limit ({LIMIT} tokens) inside its `bash` call")
    assert result.format_errors == 1


def test_a_text_call_complete_before_the_cut_runs(repo):
    """The limit was hit after the call, in prose after it: the raw text shows the call closed."""
    root, head = repo
    first = Reply(content=xml_call("bash", command="touch done.txt") + "\nNext I will", finish_reason="length")
    result, requests = episode(root, head, [first, Reply(content=SUBMIT_XML)], "qwen3_xml")
    assert (root / "done.txt").exists() and ran(result) == ["bash", "submit"]
    assert result.format_errors == 0 and "cut off" not in str(requests[1]["messages"])


def test_a_cut_native_call_with_valid_json_is_not_run_either(repo):
    """vLLM's qwen3_coder parser closes a value the cut left open: valid JSON, a cut command."""
    root, head = repo
    closed_by_the_server = {"command": "touch cut.txt && rm -rf buil"}
    script = [Reply(tool_calls=[("bash", closed_by_the_server)], finish_reason="length", completion_tokens=LIMIT),
              Reply(tool_calls=[("submit", {})])]
    result, requests = episode(root, head, script, "native")
    assert not (root / "cut.txt").exists() and ran(result) == ["submit"]
    assert correction(requests, 1).startswith(
        f"Your reply was cut off at the output limit ({LIMIT} tokens) inside its `bash` call")
    assert result.format_errors == 1


def test_prose_cut_at_max_tokens_is_told_it_was_cut(repo):
    root, head = repo
    prose = "First I will think about the design. " * 40
    script = [Reply(content=prose, finish_reason="length", completion_tokens=1200), Reply(tool_calls=[("submit", {})])]
    result, requests = episode(root, head, script, "native")
    told = correction(requests, 1)
    assert told.startswith("Your reply called no tool.")
    assert told.endswith("It was cut off at the output limit (1200 tokens): write less before the call.")
    assert result.format_errors == 1


# ---- a value holding a closing tag -------------------------------------------------------


@pytest.mark.parametrize("tag", ["</parameter>", "</function>", "</tool_call>"])
def test_an_edit_whose_value_holds_a_closing_tag_is_not_run_and_the_model_is_told(repo, tag):
    root, head = repo
    edit = xml_call("str_replace_editor", command="str_replace", path="calc.py", old_str="a - b",
                    new_str=f"a + b  # renders {tag} in the template")
    result, requests = episode(root, head, [Reply(content=edit), Reply(content=SUBMIT_XML)], "qwen3_xml")
    assert (root / "calc.py").read_text() == CALC  # vLLM's parser would have written "a + b  # renders "
    assert ran(result) == ["submit"] and result.patch == ""
    told = correction(requests, 1)
    assert f"call 1 (str_replace_editor): the value of new_str holds {tag}" in told
    assert "not even a bash command" in told and "sed -i 's#<@/#</#g' FILE" in told
    assert result.exit_reason == "submitted" and result.format_errors == 1


def test_native_call_left_in_the_text_holding_a_closing_tag_is_not_run(repo):
    root, head = repo
    create = xml_call("str_replace_editor", command="create", path="tpl.xml",
                      file_text="<call>\n</tool_call>\n</call>")
    result, requests = episode(root, head, [Reply(content=create), Reply(tool_calls=[("submit", {})])], "native")
    assert not (root / "tpl.xml").exists()  # vLLM's parser would have created it holding "<call>"
    assert "the value of file_text holds </tool_call>" in correction(requests, 1)
    assert ran(result) == ["submit"] and result.format_errors == 1
