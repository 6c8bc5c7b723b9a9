"""API keys never leave the harness process: not into containers, logs, trajectories, Parquet or HTML.

The end-to-end tests run `evalharness eval -vv` (a separate process, DEBUG logging on) with the LLM
agent against the fake model server and a distinctive key, from the environment or from a .env
file. The fake model makes the agent dump the container's environment (`env`, `printenv`,
/proc/1/environ), write and read files, echoes back what it was sent (the Authorization header
included) in its replies, fails a request once with a 500 whose body and headers echo the key, and
answers the other instance with a 401 that does the same. While the agent works, the model's
callback inspects the run's containers (and their image) through Docker. Afterwards every file
the run wrote, the HTML report built from it, and the process's stdout and stderr are searched
for the key: as is, URL-encoded, and base64-encoded at every alignment.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pyarrow.parquet as pq
import pytest

from evalharness.model.llm import LLMClient, LLMError
from evalharness.model.registry import ModelConfig
from evalharness.core.redact import MASK, redact, register_secret
from fake_llm import FakeLLM, Reply

ROOT = Path(__file__).resolve().parents[1]
KEY_VAR = "EVALHARNESS_CANARY_API_KEY"
SOLVED = "evalharness__confini-1"  # explores, leaks what it can, solves, submits
REJECTED = "evalharness__spans-1"  # dumps the environment, then the server rejects the key (401)
OLD = '# An inline comment: "#" or ";" and everything after it.\n_INLINE_COMMENT = re.compile(r"[#;].*$")'
NEW = ('# An inline comment: "#" or ";" after whitespace, and everything after it.\n'
       '_INLINE_COMMENT = re.compile(r"\\s[#;].*$")')
DUMP_ENV = ("env; echo ---; printenv; echo ---; tr '\\0' '\\n' < /proc/1/environ; echo ---; "
            "tr '\\0' '\\n' < /proc/self/environ; echo ---; "
            "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | sort -u")


def canary() -> str:
    return "sk-evalharness-canary-" + secrets.token_hex(16)


def leak_forms(key: str) -> list[str]:
    """How the key could show up in a file: as is, URL-encoded, base64 (alone, after "Bearer ",
    and at each byte offset inside a longer base64 text, e.g. basic auth "user:key")."""
    forms = {key, quote(key, safe=""), quote_plus(key), f"Bearer {key}"}
    data = key.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(data).decode())
        forms.add(encode(data).decode().rstrip("="))
        forms.add(encode(b"Bearer " + data).decode())
        for offset in range(3):  # the characters that encode only the key's bytes, at each alignment
            text = encode(b"\0" * offset + data).decode()
            forms.add(text[(offset * 8 + 5) // 6:((offset + len(data)) * 8) // 6])
    return sorted(forms)


def find_leaks(key: str, name: str, data: bytes | str) -> list[str]:
    blob = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
    return [f"{name}: {form[:12]}..." for form in leak_forms(key) if form.encode() in blob]


def scan_tree(key: str, root: Path) -> tuple[list[str], int]:
    """Leaks in every file under `root` (Parquet files also decoded, since they may be compressed)."""
    leaks, files = [], 0
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        files += 1
        leaks += find_leaks(key, str(path.relative_to(root)), path.read_bytes())
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            leaks += find_leaks(key, f"{path.relative_to(root)} (decoded)", json.dumps(rows, default=str))
    return leaks, files


# ---------------------------------------------------------------- no Docker: the redaction itself


def test_redact_replaces_the_key_in_every_encoding():
    key = canary()
    register_secret(key)
    register_secret("EMPTY")  # a placeholder, not a secret: never redacted
    for user in ("", "u", "us", "user"):  # every base64 alignment
        basic = base64.b64encode(f"{user}:{key}".encode()).decode()
        assert key not in redact(basic) and not find_leaks(key, "basic", redact(f"Authorization: Basic {basic}"))
    text = f"Bearer {key} / {quote(key, safe='')} / {base64.urlsafe_b64encode(key.encode()).decode()} / EMPTY"
    red = redact(text)
    assert not find_leaks(key, "text", red)
    assert red.count(MASK) >= 3 and red.endswith("EMPTY")


def test_log_records_are_redacted_whatever_logger_and_handler():
    key = canary()
    register_secret(key)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("openai._base_client.test_secrets")  # any logger, the SDK's included
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("request_id: %s", f"Bearer {key}")
        try:
            raise RuntimeError(f"server said: invalid key {key}")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert f"request_id: Bearer {MASK}" in out and "RuntimeError: server said: invalid key" in out
    assert not find_leaks(key, "log", out)


def test_errors_and_replies_that_echo_the_key_are_redacted():
    """A server that echoes the Authorization header: in a 401 body, a 5xx body, a reply and a tool call."""
    key = canary()
    config = ModelConfig(name="m", base_url="http://127.0.0.1:1/v1", model="m", api_key_env=KEY_VAR)

    def echo(request):
        auth = server.request_headers[-1]["Authorization"]
        if len(server.requests) == 1:
            return Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {auth}"}})
        if len(server.requests) == 2:
            return Reply(status=503, body=f"upstream refused {auth}", headers={"x-should-retry": "false"})
        return Reply(content=f"you sent {auth}", tool_calls=[("bash", {"command": f"echo {auth}"})])

    with FakeLLM(echo) as server:
        client = LLMClient(_with_url(config, server.base_url), key, max_attempts=1)
        with pytest.raises(LLMError) as rejected:
            client.complete([{"role": "user", "content": "hi"}])
        with pytest.raises(LLMError) as failed:
            client.complete([{"role": "user", "content": "hi"}])
        reply = client.complete([{"role": "user", "content": "hi"}])
        client.close()
        assert server.request_headers[0]["Authorization"] == f"Bearer {key}"  # the key was really sent
    assert "HTTP 401" in rejected.value.reason and f"Bearer {MASK}" in rejected.value.reason
    assert f"Bearer {MASK}" in failed.value.reason
    assert reply.content == f"you sent Bearer {MASK}"
    assert reply.tool_calls[0].arguments == {"command": f"echo Bearer {MASK}"}
    for text in (str(rejected.value), str(failed.value), reply.content, reply.tool_calls[0].raw_arguments):
        assert not find_leaks(key, "error", text)


def _with_url(config: ModelConfig, url: str) -> ModelConfig:
    import dataclasses

    return dataclasses.replace(config, base_url=url)


# ---------------------------------------------------------------- end to end, in Docker


class LeakyModel:
    """The fake model's script: per instance (told apart by the problem statement), by turn."""

    def __init__(self, server_ref: list, docker_client, run_id: str):
        self.server_ref = server_ref
        self.docker = docker_client
        self.run_id = run_id
        self.inspected: list[str] = []  # `docker inspect` of the run's containers and their images, mid-run
        self.failed_once = False
        self.auth_seen: set[str] = set()

    def __call__(self, request: dict) -> Reply:
        server = self.server_ref[0]
        auth = server.request_headers[-1].get("Authorization", "")  # workers=1: one request at a time
        self.auth_seen.add(auth)
        messages = request["messages"]
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        last = next((m["content"] for m in reversed(messages) if m.get("role") == "tool"), "")
        if turn == 0:
            self._inspect()
            return Reply(content="Let me look at the environment.", tool_calls=[("bash", {"command": DUMP_ENV})])
        if "Values containing '#'" not in messages[1]["content"]:  # the instance whose key gets rejected
            return Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {auth}. "
                                                                f"You sent: Authorization: {auth}",
                                                     "type": "invalid_request_error"}},
                         headers={"x-request-id": auth})
        if turn == 1 and not self.failed_once:  # one failed request, retried by the client
            self.failed_once = True
            return Reply(status=500, body={"error": {"message": f"internal error handling {auth}"}},
                         headers={"x-request-id": auth, "x-echo-authorization": auth})
        echo = f"You sent me {auth}. The environment was:\n{last[:3000]}"
        script = {
            1: ("bash", {"command": f"echo '{auth}' > leaked.txt; cat leaked.txt; echo {auth} | base64; "
                                    "cat /proc/1/environ | base64 | head -3"}),
            2: ("str_replace_editor", {"command": "create", "path": "/testbed/notes.txt",
                                       "file_text": f"auth: {auth}\nseen:\n{last[:2000]}\n"}),
            3: ("bash", {"command": "cat notes.txt; rm notes.txt leaked.txt; git status --short"}),
            4: ("str_replace_editor", {"command": "str_replace", "path": "confini/parser.py",
                                       "old_str": OLD, "new_str": NEW}),
        }
        if turn in script:
            return Reply(content=echo, tool_calls=[script[turn]])
        return Reply(content=echo, tool_calls=[("submit", {})])

    def _inspect(self) -> None:
        """What `docker inspect` shows of the run's containers (and their images) while the agent works."""
        containers = self.docker.containers.list(all=True, filters={"label": f"evalharness.run_id={self.run_id}"})
        for container in containers:
            self.inspected.append(json.dumps(container.attrs))
            self.inspected.append(json.dumps(self.docker.images.get(container.attrs["Config"]["Image"]).attrs))
            top = container.exec_run(["sh", "-c", "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'"])
            self.inspected.append(top.output.decode("utf-8", "replace"))


def _models_file(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "canary-models.toml"
    path.write_text(f'[models.canary]\nbase_url = "{base_url}"\nmodel = "canary-model"\n'
                    f'api_key_env = "{KEY_VAR}"\ntool_mode = "native"\n')
    return path


def _run_eval(tmp_path: Path, cache_dir: Path, base_url: str, instances: str, run_id: str,
              env: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "evalharness.cli", "eval", "-vv", "--model", "canary",
           "--models", str(_models_file(tmp_path, base_url)), "--instance-ids", instances, "--workers", "1",
           "--reports-dir", str(tmp_path / "reports"), "--run-id", run_id, "--cache-dir", str(cache_dir),
           "--no-progress"]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=1200)


def _report(tmp_path: Path, run_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalharness.cli", "report", str(run_dir), "--out",
                           str(tmp_path / "reports" / "site")], cwd=tmp_path, capture_output=True, timeout=300)


def _environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != KEY_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**env, **extra}


@pytest.mark.docker
def test_api_key_from_the_environment_is_nowhere_in_what_a_run_wrote(tmp_path, cache_dir, docker_client):
    key = canary()
    run_id = "secrets"
    server_ref: list = []
    model = LeakyModel(server_ref, docker_client, run_id)
    with FakeLLM(model, model="canary-model") as server:
        server_ref.append(server)
        done = _run_eval(tmp_path, cache_dir, server.base_url, f"{SOLVED},{REJECTED}", run_id,
                         _environ(**{KEY_VAR: key}))
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err[-3000:]
    assert model.auth_seen == {f"Bearer {key}"}  # the key was really used, and was what the server echoed
    run_dir = tmp_path / "reports" / run_id

    rows = {r["instance_id"]: r for r in pq.read_table(run_dir / "results.parquet").to_pylist()}
    assert rows[SOLVED]["status"] == "resolved", rows[SOLVED]["error"]
    assert rows[SOLVED]["api_retries"] == 1  # the 500 that echoed the key was retried
    rejected = rows[REJECTED]
    assert rejected["status"] == "agent_error" and rejected["exit_reason"] == "api_error"
    assert "HTTP 401" in rejected["error"] and f"Bearer {MASK}" in rejected["error"]  # echoed, then redacted

    # what the agent saw in the container: its environment, with no key in it
    events = [json.loads(line) for line in (run_dir / "logs" / SOLVED / "trajectory.jsonl").open()]
    tools = [e for e in events if e["type"] == "tool"]
    assert "PATH=" in tools[0]["output"] and "HOSTNAME=" in tools[0]["output"]
    assert f"Bearer {MASK}" in tools[1]["output"]  # the model's echo reached the container only redacted
    assert MASK in "".join(e.get("content") or "" for e in events if e["type"] == "assistant")

    # the containers and their image, inspected while the agent ran
    assert len(model.inspected) == 6  # one agent container per instance: attrs, image attrs, processes' environ
    assert any('"Env"' in text for text in model.inspected)
    for i, text in enumerate(model.inspected):
        assert not find_leaks(key, f"docker inspect #{i}", text)

    site = _report(tmp_path, run_dir)
    assert site.returncode == 0, site.stderr.decode()[-2000:]
    assert list((tmp_path / "reports" / "site").rglob("*.html"))

    leaks, files = scan_tree(key, tmp_path / "reports")
    leaks += find_leaks(key, "stdout", out) + find_leaks(key, "stderr", err)
    leaks += find_leaks(key, "report stdout/stderr", site.stdout + site.stderr)
    assert not leaks
    assert files >= 10 and {"results.parquet", "run.json", "predictions.jsonl"} <= {p.name for p in run_dir.iterdir()}
    assert "evalharness: " in err  # -vv: the debug log (the SDK's and docker-py's too) went to stderr
    if "request_id: " in err:  # the openai SDK logs each response's x-request-id, which the server echoed
        assert f"request_id: Bearer {MASK}" in err


@pytest.mark.docker
def test_api_key_from_a_dotenv_file_is_nowhere_in_what_a_run_wrote(tmp_path, cache_dir, docker_client):
    key = canary()
    run_id = "secrets-dotenv"
    (tmp_path / ".env").write_text(f"{KEY_VAR}={key}\n")
    server_ref: list = []
    model = LeakyModel(server_ref, docker_client, run_id)
    with FakeLLM(model, model="canary-model") as server:
        server_ref.append(server)
        done = _run_eval(tmp_path, cache_dir, server.base_url, REJECTED, run_id, _environ())
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert model.auth_seen == {f"Bearer {key}"}
    run_dir = tmp_path / "reports" / run_id
    (row,) = pq.read_table(run_dir / "results.parquet").to_pylist()
    assert row["status"] == "agent_error" and f"Bearer {MASK}" in row["error"]
    assert len(model.inspected) == 3
    site = _report(tmp_path, run_dir)
    assert site.returncode == 0, site.stderr.decode()[-2000:]
    leaks, _ = scan_tree(key, tmp_path / "reports")
    for i, text in enumerate(model.inspected):
        leaks += find_leaks(key, f"docker inspect #{i}", text)
    leaks += find_leaks(key, "stdout", done.stdout) + find_leaks(key, "stderr", done.stderr)
    assert not leaks
