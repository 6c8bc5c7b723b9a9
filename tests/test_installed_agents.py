"""Installed agents: the real CLIs (Qwen Code and Claude Code from npm, mini-swe-agent from PyPI)
installed into a layer on the instance image, run headless in the task container behind the
model gateway, driven by the fake model server with scripted replies in each CLI's own tool
format (chat completions, or Anthropic's Messages API for Claude Code).

What is real here: the registries' packages, the CLIs' own tool loops (Qwen Code's `edit` and
`run_shell_command`, Claude Code's `Read`, `Edit` and `Bash`, mini-swe-agent's `bash`), the
container without network, the gateway on a Unix socket, the scorer. The fake model answers
as the model would, turn by turn.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evalharness.agents import get_agent
from evalharness.agents.installed import (
    CLI_AGENTS,
    OUTPUT_TAIL_BYTES,
    InstalledAgent,
    _exit_code,
    launcher,
    layer_dockerfile,
    tools_dockerfile,
)
from evalharness.core.errors import UserError
from evalharness.model.registry import ModelConfig
from fake_llm import FakeLLM, Reply
from test_secrets import canary, find_leaks, scan_tree

ROOT = Path(__file__).resolve().parents[1]
INSTANCE = "evalharness__confini-1"
OLD = '# An inline comment: "#" or ";" and everything after it.\n_INLINE_COMMENT = re.compile(r"[#;].*$")'
NEW = ('# An inline comment: "#" or ";" after whitespace, and everything after it.\n'
       '_INLINE_COMMENT = re.compile(r"\\s[#;].*$")')
KEY_VAR = "EVALHARNESS_CLI_CANARY_KEY"
# What a CLI's shell can see of secrets: its environment, every process's, the process list, the files.
LOOK_FOR_KEYS = ("env | sort; echo ---PROCS---; ps auxeww; echo ---ENVIRON---; "
                 "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | sort -u; echo ---FILES---; "
                 "echo \"$(echo {needle} | base64 -d)\" > /tmp/grep-control; "
                 "grep -rIl --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e \"$(echo {needle} | base64 -d)\" / "
                 "2>/dev/null | head; "
                 "echo ---END---")


def _text(content) -> str:
    """A message's content as text (CLIs send strings or lists of parts)."""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _turn(request: dict) -> int:
    return sum(1 for m in request.get("messages", ()) if m.get("role") == "assistant")


def _last_tool_output(request: dict) -> str:
    return next((_text(m.get("content")) for m in reversed(request["messages"]) if m.get("role") == "tool"), "")


def _tool(request: dict, name: str) -> dict:
    """The CLI's tool `name` as it described it: scripted calls must use its real parameters."""
    tools = {t["function"]["name"]: t["function"] for t in request.get("tools") or []}
    assert name in tools, f"the CLI offers no {name!r} tool: {sorted(tools)}"
    return tools[name]


class QwenCodeSolve:
    """Qwen Code's turns: read the file with `read_file` (its `edit` refuses a file it has not
    read), edit it with `edit`, run the tests and look for keys with `run_shell_command`, then
    answer in text (no tool call), which ends a headless run. `loop`: after the edit, a model
    that never stops; `final`: the last answer's text (e.g. megabytes of it)."""

    def __init__(self, key: str = "", loop: bool = False, final: str = "The pattern now needs whitespace. Done."):
        self.key, self.loop, self.final = key, loop, final
        self.shell_outputs: list[str] = []

    def __call__(self, request: dict) -> Reply:
        turn = _turn(request)
        if turn >= 1:
            self.shell_outputs.append(_last_tool_output(request))
        if turn == 0:
            assert "file_path" in _tool(request, "read_file")["parameters"]["properties"]
            return Reply("Let me read the parser.", tool_calls=[("read_file", {"file_path": "/testbed/confini/parser.py"})])
        if turn == 1:
            edit = _tool(request, "edit")
            assert {"file_path", "old_string", "new_string"} <= set(edit["parameters"]["properties"])
            return Reply("I will fix the comment pattern.", tool_calls=[(
                "edit", {"file_path": "/testbed/confini/parser.py", "old_string": OLD, "new_string": NEW})])
        if self.loop:  # a model that never stops: the agent timeout must end it
            # (each call differs: Qwen Code halts a run that repeats one call verbatim)
            return Reply(f"Checking again ({turn}).", tool_calls=[
                ("run_shell_command", {"command": f"sleep 1; echo check {turn}; ls tests | head -{turn % 5 + 1}"})])
        if turn == 2:
            assert "command" in _tool(request, "run_shell_command")["parameters"]["properties"]
            # the key's start, encoded: the command's own text (which the CLI keeps in its history
            # files) must not match
            needle = base64.b64encode((self.key or "sk-none")[:24].encode()).decode()
            command = ("python -m pytest -q tests/test_parser.py 2>&1 | tail -3; "
                       + LOOK_FOR_KEYS.format(needle=needle))
            return Reply("Now the tests.", tool_calls=[("run_shell_command", {"command": command})])
        return Reply(self.final)


def _blocks(content) -> str:
    """Anthropic content (a string or blocks) as text."""
    if isinstance(content, list):
        return "".join(b.get("text", "") if b.get("type") == "text" else _blocks(b.get("content"))
                       for b in content if isinstance(b, dict))
    return content or ""


class ClaudeCodeSolve:
    """Claude Code's turns over the Messages API: `Read` the file (its `Edit` refuses a file it
    has not read), `Edit` it, run the tests and look for keys with `Bash`, then answer in text
    (no tool_use), which ends a headless run. Requests without Claude Code's tools (a side
    request: a title, a summary) are answered with text and kept in `side`."""

    def __init__(self, key: str = ""):
        self.key = key
        self.shell_outputs: list[str] = []
        self.side: list[dict] = []

    @staticmethod
    def tool(request: dict, name: str) -> dict:
        tools = {t["name"]: t for t in request.get("tools") or [] if "name" in t}
        assert name in tools, f"Claude Code offers no {name!r} tool: {sorted(tools)}"
        return tools[name]["input_schema"]["properties"]

    def __call__(self, request: dict) -> Reply:
        if not any(t.get("name") == "Bash" for t in request.get("tools") or []):
            self.side.append(request)
            return Reply("Fixing a parser bug.")
        history = request["messages"]
        turn = sum(1 for m in history if m.get("role") == "assistant")
        if turn >= 1:
            results = [b for b in history[-1]["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
            self.shell_outputs.append(_blocks(results[-1].get("content")) if results else "")
        if turn == 0:
            assert "file_path" in self.tool(request, "Read")
            return Reply("Let me read the parser.", tool_calls=[("Read", {"file_path": "/testbed/confini/parser.py"})])
        if turn == 1:
            assert {"file_path", "old_string", "new_string"} <= set(self.tool(request, "Edit"))
            return Reply("I will fix the comment pattern.", tool_calls=[(
                "Edit", {"file_path": "/testbed/confini/parser.py", "old_string": OLD, "new_string": NEW})])
        if turn == 2:
            assert "command" in self.tool(request, "Bash")
            needle = base64.b64encode((self.key or "sk-none")[:24].encode()).decode()
            command = ("python -m pytest -q tests/test_parser.py 2>&1 | tail -3; "
                       + LOOK_FOR_KEYS.format(needle=needle))
            return Reply("Now the tests.", tool_calls=[("Bash", {"command": command, "description": "Run the tests"})])
        return Reply("The pattern now needs whitespace. Done.")


class MiniSweAgentSolve:
    """mini-swe-agent's turns: one `bash` call that edits the file, then its submit command
    with megabytes of text, which the CLI prints."""

    def __call__(self, request: dict) -> Reply:
        turn = _turn(request)
        if turn == 0:
            assert "command" in _tool(request, "bash")["parameters"]["properties"]
            fix = (f"import pathlib; p = pathlib.Path('confini/parser.py'); "
                   f"p.write_text(p.read_text().replace({OLD!r}, {NEW!r}))")
            return Reply("Fixing the pattern.", tool_calls=[("bash", {"command": f"python3 -c {json.dumps(fix)} "
                                                                                  "&& git diff --stat"})])
        # 3 MB of text with the submit call: mini-swe-agent prints it all, the harness keeps the last MiB
        return Reply("Submitting. " + "z" * 3_000_000,
                     tool_calls=[("bash", {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"})])


def _models_file(tmp_path: Path, base_url: str, anthropic_base_url: str = "") -> Path:
    path = tmp_path / "cli-models.toml"
    path.write_text(f'[models.fake]\nbase_url = "{base_url}"\nmodel = "fake-coder"\napi_key_env = "{KEY_VAR}"\n'
                    "input_price = 1.0\noutput_price = 2.0\n"
                    + (f'anthropic_base_url = "{anthropic_base_url}"\n' if anthropic_base_url else ""))
    return path


def _eval(tmp_path: Path, cache_dir: Path, base_url: str, agent: str, run_id: str, key: str,
          *extra: str, instances: str = INSTANCE, anthropic_base_url: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in __import__("os").environ.items() if k != KEY_VAR}
    env["PYTHONPATH"] = str(ROOT)
    env[KEY_VAR] = key
    cmd = [sys.executable, "-m", "evalharness.cli", "eval", "--agent", agent, "--model", "fake",
           "--models", str(_models_file(tmp_path, base_url, anthropic_base_url)), "--instance-ids", instances,
           "--reports-dir", str(tmp_path / "reports"), "--run-id", run_id, "--cache-dir", str(cache_dir),
           "--no-progress", *extra]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=1500)


def _assert_no_key_in_container(shell: str, key: str, token_var: str) -> None:
    """What the CLI's shell saw (LOOK_FOR_KEYS, after the tests): the token, never the key."""
    assert "---PROCS---" in shell and "---END---" in shell and f"{token_var}=eh-" in shell
    assert "13 passed" in shell  # the tests ran after the edit
    assert not find_leaks(key, "container", shell)
    # only the control file the command wrote (so the search works) holds the key's start
    assert shell.rsplit("---FILES---", 1)[1].split("---END---")[0].split() == ["/tmp/grep-control"]


def _row(tmp_path: Path, run_id: str) -> dict:
    return pq.read_table(tmp_path / "reports" / run_id / "results.parquet").to_pylist()[0]


def _events(tmp_path: Path, run_id: str, instance: str = INSTANCE) -> list[dict]:
    path = tmp_path / "reports" / run_id / "logs" / instance / "trajectory.jsonl"
    return [json.loads(line) for line in path.open()]


# ---------------------------------------------------------------- no Docker


def test_layers_pin_the_cli_and_its_runtime():
    spec = CLI_AGENTS["qwen-code"]
    tools = tools_dockerfile(spec, "evalharness-os:bookworm", ca=True)
    assert "@qwen-code/qwen-code@0.24.4" in tools and "node-linux-$arch@22." in tools
    assert "apt-get install" in tools and " nodejs npm " in tools  # Debian's npm fetches them
    assert "--omit=optional" in tools and "NPM_CONFIG_CAFILE" in tools
    assert "cli-entry.js" in launcher(spec) and "/node/bin/node" in launcher(spec)
    layer = layer_dockerfile(spec, "inst:1", "tools:1")
    assert layer.startswith("FROM tools:1 AS agent\nFROM inst:1\n") and "COPY --from=agent" in layer
    mini = layer_dockerfile(CLI_AGENTS["mini-swe-agent"], "inst:1", None)
    assert " mini-swe-agent==2.4.6\n" in mini and "needs Python >= 3.10" in mini and "venv" in mini
    claude = CLI_AGENTS["claude-code"]
    assert claude.api == "anthropic" and not claude.omit_optional
    claude_tools = tools_dockerfile(claude, "evalharness-os:bookworm", ca=False)
    # its native binary comes as an optional dependency; the layer keeps only that binary
    assert "@anthropic-ai/claude-code@2.1.332" in claude_tools and "--omit=optional" not in claude_tools
    assert "claude --version && rm -rf node_modules/@anthropic-ai/claude-code-*/ node " in claude_tools
    assert 'node_modules/.bin/claude" "$@"' in launcher(claude)


def test_cli_exit_code_is_read_from_the_marker_only():
    assert _exit_code("noise\nevalharness-cli-exit 3\n") == 3
    assert _exit_code("evalharness-cli-exit 0") == 0
    assert _exit_code("the CLI printed evalharness-cli-exit 9 itself\n") is None
    assert _exit_code("") is None  # killed before the marker: a timeout


def test_installed_agent_needs_its_key_before_any_work(tmp_path):
    models = tmp_path / "m.toml"
    models.write_text('[models.k]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "x"\napi_key_env = "NO_SUCH_KEY_VAR"\n')
    with pytest.raises(UserError, match="NO_SUCH_KEY_VAR"):
        get_agent("qwen-code", model="k", models_files=(models,), environ={}, dotenv=None)
    with pytest.raises(UserError, match="the mini-swe-agent agent needs --model"):
        get_agent("mini-swe-agent")
    agent = get_agent("qwen-code", model="k", models_files=(models,), environ={"NO_SUCH_KEY_VAR": "sk-x"},
                      dotenv=None)
    settings = agent.settings()
    assert settings["cli"] == {"name": "qwen-code", "package": "@qwen-code/qwen-code", "version": "0.24.4",
                               "installer": "npm", "node": "22.23.5"}
    assert "sk-x" not in json.dumps(settings)
    with pytest.raises(UserError, match="needs an anthropic_base_url"):
        get_agent("claude-code", model="k", models_files=(models,), environ={"NO_SUCH_KEY_VAR": "sk-x"}, dotenv=None)
    assert "node" not in CLI_AGENTS["claude-code"].describe()  # its native binary runs without Node.js
    models.write_text(models.read_text() + 'anthropic_base_url = "http://127.0.0.1:9"\n')
    claude = get_agent("claude-code", model="k", models_files=(models,), environ={"NO_SUCH_KEY_VAR": "sk-x"},
                       dotenv=None)  # the gateway relays its Anthropic API
    assert claude.spec.api == "anthropic" and claude.settings()["cli"]["version"] == "2.1.332"


def test_installed_agent_pickles_without_its_gateway():
    import pickle

    agent = InstalledAgent(CLI_AGENTS["qwen-code"], ModelConfig(name="m", base_url="http://127.0.0.1:9/v1", model="m"),
                           "sk-test")
    agent._gateway = object()  # a live gateway stays on the node that started it
    copy = pickle.loads(pickle.dumps(agent))
    assert copy._gateway is None and copy.spec == agent.spec and copy.model == agent.model


# ---------------------------------------------------------------- end to end, in Docker


@pytest.mark.docker
def test_qwen_code_resolves_a_builtin_task_behind_the_gateway(tmp_path, cache_dir, docker_client):
    key = canary()
    model = QwenCodeSolve(key)
    with FakeLLM(model, model="fake-coder") as server:
        done = _eval(tmp_path, cache_dir, server.base_url, "qwen-code", "qwen", key)
        requests, headers = list(server.requests), list(server.request_headers)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err[-3000:]
    row = _row(tmp_path, "qwen")
    assert row["status"] == "resolved", (row["error"], row["exit_reason"])
    assert row["exit_reason"] == "completed" and row["turns"] == 4
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0 and row["cost"] > 0  # priced by the gateway
    assert row["llm_seconds"] > 0

    # the gateway held the key: the upstream saw it, the CLI only its token; the model was the registry's
    assert {h.get("Authorization") for h in headers} == {f"Bearer {key}"}
    assert all(r["model"] == "fake-coder" and r.get("stream") for r in requests)

    # no key in the container: its shell looked at every environment, the process list and the files
    _assert_no_key_in_container(model.shell_outputs[2], key, "OPENAI_API_KEY")

    # the trajectory: the gateway's record of the CLI's turns, as the built-in agent's
    events = _events(tmp_path, "qwen")
    kinds = [e["type"] for e in events]
    assert kinds.count("assistant") == 4 and "system" in kinds and "user" in kinds
    tools = [e for e in events if e["type"] == "tool"]
    assert [t["name"] for t in tools] == ["read_file", "edit", "run_shell_command"]
    assert "13 passed" in tools[2]["output"] and "_INLINE_COMMENT" in tools[0]["output"]
    assert events[-1]["type"] == "exit" and events[-1]["cli"]["version"] == "0.24.4"
    logs = tmp_path / "reports" / "qwen" / "logs" / INSTANCE
    gateway_log = [json.loads(line) for line in (logs / "gateway.jsonl").open()]
    assert len(gateway_log) == 4 and all(r["status"] == 200 for r in gateway_log)
    run = json.loads((tmp_path / "reports" / "qwen" / "run.json").read_text())
    assert "0.24.4" in json.dumps(run) and "22.23.5" in json.dumps(run)

    # the instance page shows the CLI's turns
    site = subprocess.run([sys.executable, "-m", "evalharness.cli", "report", str(tmp_path / "reports" / "qwen"),
                           "--out", str(tmp_path / "site")], capture_output=True, timeout=300, cwd=tmp_path)
    assert site.returncode == 0, site.stderr.decode()[-2000:]
    page = next(p for p in (tmp_path / "site").rglob("*.html") if INSTANCE in p.name)
    html = page.read_text()
    assert "run_shell_command" in html and "pytest -q tests/test_parser.py" in html and "fix the comment" in html

    leaks, files = scan_tree(key, tmp_path / "reports")
    leaks += scan_tree(key, tmp_path / "site")[0] + find_leaks(key, "stdout", out) + find_leaks(key, "stderr", err)
    assert not leaks and files >= 8


@pytest.mark.docker
def test_claude_code_resolves_a_builtin_task_behind_the_gateway(tmp_path, cache_dir, docker_client):
    key = canary()
    model = ClaudeCodeSolve(key)
    with FakeLLM(model, model="fake-coder") as server:
        done = _eval(tmp_path, cache_dir, server.base_url, "claude-code", "claude", key,
                     anthropic_base_url=server.anthropic_base_url)
        requests, headers, paths = list(server.requests), list(server.request_headers), list(server.request_paths)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err[-3000:]
    row = _row(tmp_path, "claude")
    assert row["status"] == "resolved", (row["error"], row["exit_reason"])
    assert row["exit_reason"] == "completed" and row["turns"] == len(requests) == 4 + len(model.side)
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0 and row["cost"] > 0  # priced by the gateway

    # over the Messages API; the gateway held the key (sent as x-api-key and as Bearer), the CLI
    # only its token; the model was the registry's
    assert {p.split("?")[0] for p in paths} == {"/v1/messages"}
    assert {(h.get("x-api-key"), h.get("Authorization")) for h in headers} == {(key, f"Bearer {key}")}
    assert all(h.get("anthropic-version") for h in headers)
    assert all(r["model"] == "fake-coder" for r in requests)

    # no key in the container: its shell looked at every environment, the process list and the files
    _assert_no_key_in_container(model.shell_outputs[2], key, "ANTHROPIC_AUTH_TOKEN")

    # the trajectory: the gateway's record of Claude Code's turns, as for chat completions
    events = _events(tmp_path, "claude")
    kinds = [e["type"] for e in events]
    assert kinds.count("assistant") == len(requests) and "system" in kinds and "user" in kinds
    tools = [e for e in events if e["type"] == "tool"]
    assert [t["name"] for t in tools] == ["Read", "Edit", "Bash"]
    assert "_INLINE_COMMENT" in tools[0]["output"] and "13 passed" in tools[2]["output"]
    assert tools[1]["arguments"]["old_string"] == OLD
    assert events[-1]["type"] == "exit" and events[-1]["cli"]["version"] == "2.1.332"
    logs = tmp_path / "reports" / "claude" / "logs" / INSTANCE
    gateway_log = [json.loads(line) for line in (logs / "gateway.jsonl").open()]
    assert len(gateway_log) == len(requests) and all(r["status"] == 200 for r in gateway_log)
    assert "The pattern now needs whitespace. Done." in (logs / "agent_output.txt").read_text()
    run = json.loads((tmp_path / "reports" / "claude" / "run.json").read_text())
    assert "@anthropic-ai/claude-code" in json.dumps(run) and "2.1.332" in json.dumps(run)

    leaks, files = scan_tree(key, tmp_path / "reports")
    leaks += find_leaks(key, "stdout", out) + find_leaks(key, "stderr", err)
    assert not leaks and files >= 8


@pytest.mark.docker
def test_mini_swe_agent_resolves_a_builtin_task_behind_the_gateway(tmp_path, cache_dir, docker_client):
    key = canary()
    with FakeLLM(MiniSweAgentSolve(), model="fake-coder") as server:
        done = _eval(tmp_path, cache_dir, server.base_url, "mini-swe-agent", "mini", key)
        headers = list(server.request_headers)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    row = _row(tmp_path, "mini")
    assert row["status"] == "resolved", (row["error"], row["exit_reason"])
    assert row["exit_reason"] == "completed" and row["turns"] == 2
    assert {h.get("Authorization") for h in headers} == {f"Bearer {key}"}
    output = (tmp_path / "reports" / "mini" / "logs" / INSTANCE / "agent_output.txt").stat().st_size
    assert (1 << 20) - 4096 < output <= (1 << 20)  # it printed 3 MB: the last MiB is kept
    tools = [e for e in _events(tmp_path, "mini") if e["type"] == "tool"]
    assert [t["name"] for t in tools] == ["bash"]  # the submit call is answered by the CLI, not sent back
    assert not scan_tree(key, tmp_path / "reports")[0]


@pytest.mark.docker
def test_a_cli_that_never_stops_hits_the_timeout_and_still_yields_a_patch(tmp_path, cache_dir, docker_client):
    key = canary()
    with FakeLLM(QwenCodeSolve(key, loop=True), model="fake-coder") as server:
        done = _eval(tmp_path, cache_dir, server.base_url, "qwen-code", "loop", key, "--agent-timeout", "25")
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    row = _row(tmp_path, "loop")
    assert row["exit_reason"] == "timeout"
    assert row["status"] == "resolved", row["error"]  # the edit it made before looping is graded
    assert "_INLINE_COMMENT" in row["patch"] and row["turns"] >= 3
    assert 20 < row["agent_seconds"] < 120
    events = _events(tmp_path, "loop")
    assert events[-1]["exit_reason"] == "timeout" and sum(e["type"] == "assistant" for e in events) >= 3


# The loud answer: 3.3 MB of numbered lines, so that any part of it, its end above all, is found
# byte for byte in what the CLI printed.
LOUD = "".join(f"line {i:06d} of the answer {'y' * 40}\n" for i in range(50_000)) + "The end of the answer."


class Misbehaving:
    """Three instances, three ways for a CLI to go wrong; told apart by their problem statements.
    confini-1: fixes the bug, then fills the disk; spans-1: answers megabytes of text, which the
    CLI prints; textkit-1: the model refuses every request (HTTP 400), so the CLI exits with an error."""

    def __init__(self):
        self.solve = QwenCodeSolve()

    def __call__(self, request: dict) -> Reply:
        task = _text(next(m["content"] for m in request["messages"] if m.get("role") == "user"))
        turn = _turn(request)
        if "truncate(..., break_words=False)" in task:
            return Reply(status=400, body={"error": {"message": "this model refuses", "type": "invalid_request_error"}})
        if "parse() rejects intervals" in task:
            return Reply(LOUD)
        if turn < 2:
            return self.solve(request)  # read, then edit
        # 50 MB a second into files of 50 MB: past --agent-disk-limit 300m within a few seconds; if
        # nothing stops it, it ends after 1.5 GB and the next call differs (no loop detection)
        fill = (f"for i in $(seq 30); do head -c 50000000 /dev/zero > /tmp/fill{turn}-$i; sleep 0.5; done; "
                "echo filled")
        return Reply("Making room.", tool_calls=[("run_shell_command", {"command": fill, "timeout": 600000})])


@pytest.mark.docker
def test_a_cli_that_fills_the_disk_prints_megabytes_or_crashes_ends_as_its_instance_status(
        tmp_path, cache_dir, docker_client):
    key = canary()
    instances = "evalharness__confini-1,evalharness__spans-1,evalharness__textkit-1"
    with FakeLLM(Misbehaving(), model="fake-coder") as server:
        done = _eval(tmp_path, cache_dir, server.base_url, "qwen-code", "misbehave", key,
                     "--workers", "3", "--agent-disk-limit", "300m", instances=instances)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    rows = {r["instance_id"]: r for r in pq.read_table(tmp_path / "reports" / "misbehave" / "results.parquet").to_pylist()}
    assert len(rows) == 3

    filled = rows["evalharness__confini-1"]
    assert filled["exit_reason"] == "disk_limit"
    assert filled["status"] == "resolved", filled["error"]  # the fix it made first is graded
    assert filled["agent_seconds"] < 120  # stopped at the limit, not at the agent timeout

    loud = rows["evalharness__spans-1"]
    assert loud["exit_reason"] == "completed" and loud["status"] == "empty_patch"
    output = tmp_path / "reports" / "misbehave" / "logs" / "evalharness__spans-1" / "agent_output.txt"
    # Qwen Code prints the whole answer and a newline, all of it in the file (a pipe lost the end
    # when Node exited), and the record is its last MiB to the byte
    assert output.read_bytes() == (LOUD + "\n").encode()[-OUTPUT_TAIL_BYTES:]

    crashed = rows["evalharness__textkit-1"]
    assert crashed["status"] == "agent_error" and crashed["exit_reason"].startswith("exit_")
    assert "qwen-code exited with" in crashed["error"] and "left no changes" in crashed["error"]
    events = _events(tmp_path, "misbehave", "evalharness__textkit-1")
    assert any(e["type"] == "api_error" for e in events)  # the refusals are in its record


@pytest.mark.docker
def test_a_cli_whose_file_reaches_the_disk_limit_ends_as_disk_limit(tmp_path, cache_dir, docker_client):
    """No file grows past `ulimit -f`, the CLI's output and its own records included. Qwen Code
    records the 3.3 MB answer in its chat file first: at 2 MiB that write fails, and it exits 0
    without printing a word. The instance says disk_limit and names the file, not "completed"."""
    key = canary()
    with FakeLLM(lambda request: Reply(LOUD), model="fake-coder") as server:
        done = _eval(tmp_path, cache_dir, server.base_url, "qwen-code", "loud", key,
                     "--agent-disk-limit", "2m", instances="evalharness__spans-1")
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    row = _row(tmp_path, "loud")
    assert row["exit_reason"] == "disk_limit", (row["exit_reason"], row["error"])
    assert row["status"] == "agent_error" and "/root/.qwen/" in row["error"], row["error"]
    assert "to the disk limit (2097152 bytes, --agent-disk-limit) and left no changes" in row["error"]
