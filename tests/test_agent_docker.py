"""The LLM agent solving a built-in task in a real container, driven by a scripted model.

The model is a real HTTP server speaking chat completions (tests/fake_llm.py) that
replays a fixed solve: explore, view, edit, run the tests, submit. The agent runs the
calls in a persistent shell in the container; the scorer then grades the diff. Both
tool-call modes must resolve the task.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from evalharness.cli import main
from fake_llm import FakeLLM, Reply

pytestmark = pytest.mark.docker

INSTANCE = "evalharness__confini-1"
OLD = '# An inline comment: "#" or ";" and everything after it.\n_INLINE_COMMENT = re.compile(r"[#;].*$")'
NEW = '# An inline comment: "#" or ";" after whitespace, and everything after it.\n_INLINE_COMMENT = re.compile(r"\\s[#;].*$")'

# (tool, arguments) per turn: the solve a model would do
SOLVE = [
    ("bash", {"command": "cd confini && grep -n _INLINE_COMMENT *.py"}),
    ("bash", {"command": "pwd && export PROBE=kept"}),  # the next turn sees cwd and env
    ("str_replace_editor", {"command": "view", "path": "/testbed/confini/parser.py", "view_range": [12, 20]}),
    ("str_replace_editor", {"command": "str_replace", "path": "confini/parser.py", "old_str": OLD, "new_str": NEW}),
    ("bash", {"command": "echo $PROBE && cd /testbed && python -m pytest -q tests/test_parser.py 2>&1 | tail -3"}),
    ("submit", {}),
]


def native_script() -> list[Reply]:
    return [Reply(content=f"Step {i}.", tool_calls=[(name, args)]) for i, (name, args) in enumerate(SOLVE)]


def xml_script() -> list[Reply]:
    replies = []
    for i, (name, args) in enumerate(SOLVE):
        params = "".join(
            f"<parameter={key}>\n{json.dumps(value) if not isinstance(value, str) else value}\n</parameter>\n"
            for key, value in args.items())
        replies.append(Reply(content=f"Step {i}.\n<tool_call>\n<function={name}>\n{params}</function>\n</tool_call>"))
    return replies


@pytest.mark.parametrize("mode", ["native", "qwen3_xml"])
def test_scripted_multi_turn_solve_is_resolved(mode, tmp_path, cache_dir, docker_client):
    script = native_script() if mode == "native" else xml_script()
    with FakeLLM(script=script, model="scripted-model") as server:
        code = main(["eval", "--base-url", server.base_url, "--model", "scripted-model", "--tool-mode", mode,
                     "--instance-ids", INSTANCE, "--reports-dir", str(tmp_path), "--run-id", mode,
                     "--cache-dir", str(cache_dir), "--no-progress"])
        requests = list(server.requests)
    assert code == 0
    row = pq.read_table(tmp_path / mode / "results.parquet").to_pylist()[0]
    assert row["status"] == "resolved", row["error"]
    assert row["exit_reason"] == "submitted"
    assert row["turns"] == len(SOLVE) and len(requests) == len(SOLVE)
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
    assert row["llm_seconds"] > 0 and row["tool_seconds"] > 0 and row["format_errors"] == 0
    assert "_INLINE_COMMENT = re.compile(r\"\\s[#;].*$\")" in row["patch"]

    events = [json.loads(line) for line in (tmp_path / mode / "logs" / INSTANCE / "trajectory.jsonl").open()]
    tools = [e for e in events if e["type"] == "tool"]
    assert [e["name"] for e in tools] == [name for name, _ in SOLVE]
    assert "parser.py" in tools[0]["output"]
    assert tools[1]["output"].startswith("/testbed/confini")  # cwd survived the previous call
    assert "\n    15\t" in tools[2]["output"]
    assert tools[4]["output"].startswith("kept")  # so did the exported variable
    assert "passed" in tools[4]["output"]
    assert events[-1] == {**events[-1], "type": "exit", "exit_reason": "submitted"}

    # what the model was sent: tools natively, or described in the prompt in text mode
    first = requests[0]
    assert first["model"] == "scripted-model"
    if mode == "native":
        assert [t["function"]["name"] for t in first["tools"]] == ["bash", "str_replace_editor", "submit"]
        assert requests[1]["messages"][-1]["role"] == "tool"
    else:
        assert "tools" not in first
        assert "<function=" in first["messages"][0]["content"] or "<tools>" in first["messages"][0]["content"]
        assert "<tool_response>" in requests[1]["messages"][-1]["content"]


def test_eval_serve_launches_the_local_server_for_the_run_and_stops_it(tmp_path, cache_dir, docker_client):
    """`eval --serve`: a stand-in for vLLM (the fake server, answering every request with a submit call in
    Qwen3-Coder's text format) is launched from the model's [serve] entry, health-checked, used, stopped."""
    import socket
    import sys

    from conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    submit = "<tool_call>\\n<function=submit>\\n</function>\\n</tool_call>"
    models = tmp_path / "models.toml"
    models.write_text(f"""
[models.standin]
base_url = "http://127.0.0.1:{port}/v1"
model = "standin-model"
tool_mode = "native"

[models.standin.serve]
hf_model = "standin-model"
port = {port}
startup_timeout = 60
command = ["{sys.executable}", "{ROOT / 'tests' / 'fake_llm.py'}", "--port", "{{port}}", "--model", "{{model}}",
           "--reply", "{submit}"]
""")
    code = main(["eval", "--model", "standin", "--models", str(models), "--serve", "--instance-ids", INSTANCE,
                 "--reports-dir", str(tmp_path / "reports"), "--run-id", "served", "--cache-dir", str(cache_dir),
                 "--no-progress"])
    assert code == 0
    row = pq.read_table(tmp_path / "reports" / "served" / "results.parquet").to_pylist()[0]
    assert row["exit_reason"] == "submitted" and row["status"] == "empty_patch" and row["turns"] == 1
    assert "standin-model" in (tmp_path / "reports" / "served" / "serve.log").read_text()
    with socket.socket() as s:  # the server is gone
        assert s.connect_ex(("127.0.0.1", port)) != 0
