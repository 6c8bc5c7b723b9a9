"""Local serving, with a stand-in for vLLM: an executable named `vllm`, first on PATH, that
records the flags it got, forks a "worker" (as vLLM does) and serves tests/fake_llm.py on the
requested port. No GPU, no model weights."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from fake_llm import FakeLLM

from evalharness.cli import main
from evalharness.core.errors import UserError
from evalharness.model.llm import LLMClient
from evalharness.model.registry import ModelConfig, ModelRegistry
from evalharness.model.serve import ServeError, Server, build_command, group_members, parse_command, serve

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

STAND_IN = textwrap.dedent(f"""\
    #!{sys.executable}
    # stand-in for `vllm`: record argv, fork a worker, serve the fake LLM on --port
    import json, os, signal, subprocess, sys, time
    sys.path.insert(0, {str(TESTS)!r})
    import fake_llm

    args = sys.argv[1:]
    mode = os.environ.get("FAKE_VLLM_MODE", "serve")
    record = {{"argv": args, "pid": os.getpid(), "pgid": os.getpgid(0),
               "deep_gemm": os.environ.get("VLLM_USE_DEEP_GEMM")}}
    print("INFO stand-in vllm starting", flush=True)
    if mode == "crash":
        print("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True)
        sys.exit(3)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    record["worker"] = worker.pid
    with open(os.environ["FAKE_VLLM_RECORD"], "w") as f:
        json.dump(record, f)
    if mode == "hang":
        time.sleep(600)
    port = int(args[args.index("--port") + 1])
    model = args[args.index("--served-model-name") + 1]
    if mode == "stubborn":  # ignores SIGTERM, like a wedged server
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        fake_llm.FakeLLM(lambda request: fake_llm.Reply("ok"), model=model, port=port).serve_forever()
    fake_llm.main(["--port", str(port), "--model", model])
""")


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """Puts the stand-in `vllm` first on PATH; returns a reader of what it recorded."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "vllm"
    exe.write_text(STAND_IN)
    exe.chmod(0o755)
    record = tmp_path / "record.json"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VLLM_RECORD", str(record))
    monkeypatch.delenv("FAKE_VLLM_MODE", raising=False)
    return lambda: json.loads(record.read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_model(name: str = "qwen3-coder-local", **serve_changes) -> ModelConfig:
    config = ModelRegistry.load(environ={}).get(name)
    changes = {"port": free_port(), "startup_timeout": 60.0, **serve_changes}
    return replace(config, serve=replace(config.serve, **changes))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_stand_in_is_launched_with_qwen3_coder_flags_health_checked_and_stopped(stand_in, tmp_path):
    config = local_model()
    port = config.serve.port
    log = tmp_path / "logs" / "vllm.log"
    with serve(config, log_path=log) as base_url:
        assert base_url == f"http://127.0.0.1:{port}/v1"
        seen = stand_in()
        assert alive(seen["pid"]) and alive(seen["worker"])
        argv = seen["argv"]
        assert argv[:2] == ["serve", "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8"]
        flags = " ".join(argv)
        for expected in ("--enable-auto-tool-choice", "--tool-call-parser qwen3_coder", f"--port {port}",
                         "--host 127.0.0.1", "--tensor-parallel-size 1", "--data-parallel-size 8",
                         "--enable-expert-parallel", "--max-model-len 131072",
                         "--served-model-name Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8"):
            assert expected in flags
        assert seen["deep_gemm"] == "1"  # the registry's env reached the server
        assert seen["pgid"] == seen["pid"]  # its own process group, so stop() reaches every worker
        # the server is really usable by the client
        client = LLMClient(replace(config, base_url=base_url), "EMPTY", sleep=lambda s: None)
        assert client.complete([{"role": "user", "content": "hi"}]).content == "ok"
        client.close()
    assert not alive(seen["pid"]) and not alive(seen["worker"])
    assert group_members(seen["pgid"]) == []
    text = log.read_text()
    assert text.startswith("$ vllm serve Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8")
    assert "stand-in vllm starting" in text


def test_early_exit_fails_fast_with_the_log_tail(stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "crash")
    with pytest.raises(ServeError) as exc:
        with serve(local_model(startup_timeout=300.0), log_path=tmp_path / "vllm.log"):
            pytest.fail("the server must not be reported ready")
    message = str(exc.value)
    assert "vllm exited with code 3 before it was ready" in message  # not a wait for the 300 s deadline
    assert "CUDA out of memory" in message and str(tmp_path / "vllm.log") in message


def test_a_server_that_never_answers_hits_the_deadline_and_is_stopped(stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "hang")
    with pytest.raises(ServeError) as exc:
        with serve(local_model(), log_path=tmp_path / "vllm.log", startup_timeout=3.0):
            pass
    assert "did not answer GET http://127.0.0.1:" in str(exc.value) and "within 3s" in str(exc.value)
    seen = stand_in()
    assert group_members(seen["pgid"]) == [] and not alive(seen["worker"])


def test_a_server_ignoring_sigterm_is_killed(stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "stubborn")
    server = Server(local_model(), log_path=tmp_path / "vllm.log", stop_timeout=0.5)
    server.start()
    seen = stand_in()
    assert server.stop() == -signal.SIGKILL
    assert group_members(seen["pgid"]) == [] and not alive(seen["pid"]) and not alive(seen["worker"])
    assert server.stop() is None  # stopping twice is harmless


def test_missing_binary_says_what_to_install(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(UserError) as exc:
        with serve(local_model(), log_path=tmp_path / "vllm.log"):
            pass
    assert "'vllm' not found on PATH" in str(exc.value) and "pip install vllm" in str(exc.value)
    with pytest.raises(UserError, match="'my-server' not found on PATH.*--serve-command"):
        Server(local_model(), log_path=tmp_path / "x.log", command=["my-server", "--port", "{port}"]).start()
    assert not (tmp_path / "vllm.log").exists()  # nothing was launched


def test_occupied_port_is_refused(stand_in, tmp_path):
    with FakeLLM() as other:
        config = local_model(port=other.port)
        with pytest.raises(ServeError, match=f"127.0.0.1:{other.port} is already in use"):
            Server(config, log_path=tmp_path / "vllm.log").start()


def test_a_model_without_serve_section_cannot_be_served(tmp_path):
    with pytest.raises(UserError, match=r"no \[models.qwen3-coder.serve\] section"):
        Server(ModelRegistry.load(environ={}).get("qwen3-coder"), log_path=tmp_path / "x.log")


def test_commands_per_engine_tool_mode_and_override():
    reg = ModelRegistry.load(environ={})
    small = reg.get("qwen3-coder-30b-local")
    assert build_command(small, small.serve) == [
        "vllm", "serve", "Qwen/Qwen3-Coder-30B-A3B-Instruct", "--host", "127.0.0.1", "--port", "8000",
        "--served-model-name", "Qwen/Qwen3-Coder-30B-A3B-Instruct", "--tensor-parallel-size", "2",
        "--max-model-len", "262144", "--enable-auto-tool-choice", "--tool-call-parser", "qwen3_coder"]
    xml = reg.get("qwen3-coder-local-xml")  # text-mode tool calls: the server must not parse them
    assert "--tool-call-parser" not in build_command(xml, xml.serve)
    assert "--enable-auto-tool-choice" not in build_command(xml, xml.serve)

    sglang = replace(small.serve, engine="sglang", python="/opt/sglang/bin/python",
                     extra_args=("--mem-fraction-static", "0.85"))
    assert build_command(small, sglang) == [
        "/opt/sglang/bin/python", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen3-Coder-30B-A3B-Instruct",
        "--host", "127.0.0.1", "--port", "8000", "--served-model-name", "Qwen/Qwen3-Coder-30B-A3B-Instruct",
        "--tp", "2", "--context-length", "262144", "--tool-call-parser", "qwen3_coder",
        "--mem-fraction-static", "0.85"]

    override = parse_command(
        "docker run --gpus all -p {port}:8000 vllm/vllm-openai {hf_model} --tp {tp} --keep {literal}")
    assert build_command(small, small.serve, override) == [
        "docker", "run", "--gpus", "all", "-p", "8000:8000", "vllm/vllm-openai", "Qwen/Qwen3-Coder-30B-A3B-Instruct",
        "--tp", "2", "--keep", "{literal}"]
    from_registry = replace(small.serve, command=("my-launcher", "--model={model}", "--len={max_model_len}"))
    assert build_command(small, from_registry) == ["my-launcher", "--model=Qwen/Qwen3-Coder-30B-A3B-Instruct",
                                                   "--len=262144"]
    with pytest.raises(UserError, match="--serve-command"):
        parse_command("vllm serve 'unclosed")


def test_cli_serve_user_errors(capsys):
    assert main(["serve", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["serve", "qwen3-coder"]) == 2
    assert "cannot be launched locally" in capsys.readouterr().err


def test_cli_serve_runs_in_the_foreground_until_ctrl_c(stand_in, tmp_path):
    port = free_port()
    user = tmp_path / "models.toml"
    user.write_text(f"[models.qwen3-coder-30b-local.serve]\nport = {port}\n")
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalharness.cli", "serve", "qwen3-coder-30b-local", "--models", str(user),
         "--log", str(log), "--startup-timeout", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        while not any(line.startswith("serving ") for line in lines):
            line = proc.stdout.readline()
            assert line, f"the CLI ended before serving: {proc.wait()} {proc.stderr.read()}"
            lines.append(line)
        assert f"at http://127.0.0.1:{port}/v1" in lines[-1]
        assert lines[0].startswith("starting qwen3-coder-30b-local: vllm serve Qwen/Qwen3-Coder-30B-A3B-Instruct")
        seen = stand_in()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopping the server" in proc.stderr.read()
    assert group_members(seen["pgid"]) == [] and not alive(seen["worker"])
    with pytest.raises(OSError):  # every process is gone, so nothing listens on the port any more
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
