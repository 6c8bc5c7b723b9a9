"""Installed agents: the coding CLIs that models ship with (Qwen Code, mini-swe-agent, Claude
Code), run headless inside the task container, behind the harness's model gateway.

Each CLI is installed once into a cached layer: npm CLIs into an agent-tools image (Debian's
npm fetches the package and a pinned Node.js runtime, `node-linux-<arch>`, from the npm
registry: Qwen Code needs Node 22, which no Debian suite ships), copied onto the instance
image; pip CLIs into a venv of their own on the instance image (the repo's environment is
left alone). The tag of each layer is a hash of its Dockerfile, so a layer is built once and
shared through `--registry` like every other.

The container has no network. Its one route out is a read-only bind of the gateway's Unix
socket for this instance (model/gateway/ says why a socket and not a Docker network); a small
forwarder in the container serves it on 127.0.0.1, where the CLI's OpenAI base URL points.
The CLI's API key is the session's own token: the real key stays in the harness.

Whatever the CLI does (finishes, crashes, hangs past --agent-timeout, prints megabytes), the
patch is the harness's own `git diff`, its output goes to a file (capped by the disk limit; the
last MiB is kept), its processes are killed as a group, and the gateway's record of its requests
is its trajectory. A file and not a pipe: Node writes to a pipe asynchronously and drops what is
still pending when the process exits, so a pipe loses the end of what a Node CLI printed.
"""

from __future__ import annotations

import logging
import shlex
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import jinja2

from evalharness.agents.gateway_user import UsesGateway
from evalharness.agents.base import AgentResult, Usage
from evalharness.agents.cli_agents import (  # noqa: F401 - AGENT_ROOT, NODE_VERSION: imported from here by older code
    AGENT_ROOT,
    CLI_AGENTS,
    NODE_VERSION,
    TOOLS_SUITE,
    CLIAgentSpec,
    launcher,
    layer_dockerfile,
    tools_dockerfile,
)
from evalharness.agents.llm_agent import PROMPTS, AgentLimits
from evalharness.agents.patch import collect_patch
from evalharness.env.docker import SocketMount
from evalharness.env.base import Environment
from evalharness.core.errors import UserError
from evalharness.env.images import content_hash, image_slug
from evalharness.model.registry import ModelConfig
from evalharness.core.task import Task

log = logging.getLogger(__name__)

RUN_DIR = "/tmp/evalharness-agent"  # the run's prompt, output, pid and forwarder, in the container
FORWARD_PORT = 4000  # the forwarder's port on the container's loopback
OUTPUT_TAIL_BYTES = 1 << 20  # the CLI's output kept (its last MiB)
OUTPUT_FILE = f"{RUN_DIR}/output.txt"  # all the CLI prints (stdout and stderr), under the disk limit
DISK_LIMIT = "10g"  # what the CLI may add to the container's disk (--agent-disk-limit); one file no more
DISK_POLL_SECONDS = 2.0  # how often the container's writable layer is measured while the CLI runs
_EXIT_MARK = "evalharness-cli-exit"


class InstalledAgent(UsesGateway):
    """A CLI agent (CLI_AGENTS) on one model endpoint; shared by the run's workers."""

    def __init__(self, spec: CLIAgentSpec, model: ModelConfig, api_key: str,
                 limits: AgentLimits = AgentLimits(), *, disk_limit: int | str = DISK_LIMIT, limiter: Any = None,
                 gateway_factory: Callable[[], Any] | None = None, prompts_dir: Path = PROMPTS):
        self.spec = spec
        self.name = spec.name
        self.model = model
        self.limits = limits
        self.disk_limit = _size(disk_limit)
        self._api_key = api_key
        self._limiter = limiter
        self._gateway_factory = gateway_factory
        self._prompts_dir = prompts_dir
        self._gateway: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # a Ray node starts its own gateway
        state = dict(self.__dict__)
        state["_gateway"], state["_lock"] = None, None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """run.json's record of the agent: the CLI and its pinned versions, the model, the limits."""
        model = asdict(self.model)
        if model.get("serve") and model["serve"].get("env"):
            model["serve"]["env"] = {name: "<set>" for name in model["serve"]["env"]}
        return {"cli": self.spec.describe(), "model": model,
                "limits": {**asdict(self.limits), "disk_limit_bytes": self.disk_limit}}

    def run(self, task: Task, env: Environment) -> AgentResult:
        raise TypeError(f"{self.name} runs in a container of its own layer: the pipeline calls session(task)")

    # ---- the pipeline's two calls -----------------------------------------------------------
    def agent_image(self, builder: Any, task: Task, image: str, sink: Callable[[str], None]) -> str:
        """The instance image with this CLI installed (built once, then cached)."""
        tools = None
        if self.spec.installer == "npm":
            os_tag = builder.os_image(TOOLS_SUITE, sink)
            ca = builder.ca_bundle
            dockerfile = tools_dockerfile(self.spec, os_tag, bool(ca))
            files = {"launcher": launcher(self.spec).encode(), **({"ca-bundle.crt": ca} if ca else {})}
            tools = (f"evalharness-agent-tools:{self.spec.name}-{self.spec.version}-"
                     f"{content_hash(dockerfile, files['launcher'].decode())[:12]}")
            builder.layer_image(tools, dockerfile, sink, "agent-tools", files)
        dockerfile = layer_dockerfile(self.spec, image, tools)
        tag = f"evalharness-agent:{image_slug(task.instance_id)}-{self.spec.name}-{content_hash(dockerfile)[:12]}"
        return builder.layer_image(tag, dockerfile, sink, "agent")

    @contextmanager
    def session(self, task: Task) -> Iterator[CLISession]:
        with self.gateway().open_session(task.instance_id, max_cost=self.limits.max_cost) as gateway_session:
            yield CLISession(self, task, gateway_session)

    def prompt(self, task: Task, workdir: str) -> str:
        templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(self._prompts_dir)),
                                       undefined=jinja2.StrictUndefined, autoescape=False)
        return templates.get_template("cli_instance.j2").render(
            problem_statement=task.problem_statement, workdir=workdir, max_turns=self.limits.max_turns)


@dataclass
class CLISession:
    """One instance's run of the CLI: its gateway session (token, socket) and the container run."""

    agent: InstalledAgent
    task: Task
    gateway: Any  # gateway.GatewaySession
    mounts: tuple[SocketMount, ...] = field(init=False)

    def __post_init__(self) -> None:
        from evalharness.model.gateway import CONTAINER_DIR

        self.mounts = (SocketMount(str(self.gateway.directory), CONTAINER_DIR),)

    def run(self, env: Environment) -> AgentResult:
        spec, limits = self.agent.spec, self.agent.limits
        env.write_file(f"{RUN_DIR}/prompt.md", self.agent.prompt(self.task, env.workdir))
        self._start_forwarder(env)
        if spec.junk:  # never part of the patch, whatever the CLI leaves there
            env.exec("printf '%s\\n' " + " ".join(shlex.quote(j) for j in spec.junk) + " >> .git/info/exclude")
        base_url = f"http://127.0.0.1:{FORWARD_PORT}"
        values = {"base_url": f"{base_url}/v1", "anthropic_base_url": base_url, "token": self.gateway.token,
                  "model": self.agent.model.model}
        exports = " ".join(f"{k}={shlex.quote(v.format(**values))}" for k, v in spec.env.items())
        command = spec.command.format(**{k: shlex.quote(v) for k, v in values.items()}, cli=spec.executable,
                                      prompt_file=f"{RUN_DIR}/prompt.md", max_turns=limits.max_turns, run_dir=RUN_DIR)
        # Its own session (setsid), so that every process it starts can be killed with it; its
        # output into a file, never a pipe (the module says why); no file past the disk limit,
        # its output included.
        file_limit = max(1, self.agent.disk_limit // 1024)  # ulimit -f counts KiB in bash
        inner = f"echo $$ > {RUN_DIR}/pid; {command} < /dev/null > {OUTPUT_FILE} 2>&1"
        script = (f"cd {shlex.quote(env.workdir)} && export HOME=/root {exports} && "
                  f"ulimit -f {file_limit} && setsid bash -c {shlex.quote(inner)}; "
                  f"echo \"{_EXIT_MARK} $?\"")
        kill = f"kill -9 -- -$(cat {RUN_DIR}/pid) 2>/dev/null; true"
        with DiskWatch(env, self.agent.disk_limit, lambda: env.exec(kill, timeout=30)) as disk:
            finished = env.exec(script, timeout=limits.max_seconds)
        env.exec(kill, timeout=30)  # what it left running
        exit_code = _exit_code(finished.output)
        usage = self.gateway.usage
        full = "" if disk.tripped else _file_at_limit(env, file_limit * 1024)
        if disk.tripped or full:
            exit_reason = "disk_limit"
        elif finished.timed_out or exit_code is None:
            exit_reason = "timeout"
        elif usage.refused and limits.max_cost and usage.cost >= limits.max_cost:
            exit_reason = "max_cost"
        elif exit_code == 0:
            exit_reason = "completed"
        else:
            exit_reason = f"exit_{exit_code}"
        output = env.exec(f"tail -c {OUTPUT_TAIL_BYTES} {OUTPUT_FILE} 2>/dev/null", timeout=60).output
        result = AgentResult(
            patch="", exit_reason=exit_reason, turns=usage.requests,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens, usage.cost),
            llm_seconds=usage.model_seconds, api_retries=usage.retries,
            tool_seconds=max(0.0, finished.seconds - usage.model_seconds))
        try:
            result.patch = collect_patch(lambda cmd: env.exec(cmd, timeout=300), self.task.base_commit)
        except RuntimeError as exc:
            result.error = f"could not collect the patch: {exc}"
        if not result.patch.strip() and result.error is None and exit_reason not in ("completed", "max_cost"):
            how = {"timeout": f"timed out after {limits.max_seconds:g}s",
                   "disk_limit": (f"filled {full} to the disk limit" if full else "wrote past the disk limit")
                   + f" ({self.agent.disk_limit} bytes, --agent-disk-limit)",
                   }.get(exit_reason, f"exited with {exit_code}")
            last = " ".join(output.strip().splitlines()[-3:])[-300:]
            result.error = f"{spec.name} {how} and left no changes" + (f": {last}" if last else "")
        events = list(self.gateway.events())
        events.append({"type": "exit", "turn": usage.requests, "t": round(finished.seconds, 3),
                       "exit_reason": exit_reason, "patch_chars": len(result.patch), "cli": spec.describe()})
        result.trajectory = events
        result.logs = {"agent_output.txt": output,
                       "gateway.jsonl": "".join(_json_line(r) for r in self.gateway.requests_log())}
        return result

    def _start_forwarder(self, env: Environment) -> None:
        """The gateway on the container's loopback: a stdlib-only Python forwarder to the socket."""
        from evalharness.model.gateway import CONTAINER_DIR, FORWARDER_SOURCE, SOCKET_NAME

        env.write_file(f"{RUN_DIR}/forward.py", FORWARDER_SOURCE)
        started = env.exec(
            f"cd {RUN_DIR} && (setsid python3 forward.py --listen 127.0.0.1:{FORWARD_PORT} "
            f"--socket {CONTAINER_DIR}/{SOCKET_NAME} > forward.log 2>&1 &) && "
            f"for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/{FORWARD_PORT}) 2>/dev/null && exit 0; sleep 0.05; done; "
            "cat forward.log; exit 1", timeout=60)
        if started.exit_code != 0:
            raise RuntimeError(f"the gateway forwarder did not start in the container: {started.output.strip()[-300:]}")


class DiskWatch:
    """Measures the container's writable layer (Docker's SizeRw) while the CLI runs and calls
    `kill` once it grows past `limit`: a CLI filling the disk ends as its instance's status,
    before the host's disk is full. Where the size can't be read (no Docker container) it
    watches nothing; `ulimit -f` still caps any one file."""

    def __init__(self, env: Environment, limit: int, kill: Callable[[], Any], every: float = DISK_POLL_SECONDS):
        container = getattr(env, "container", None)
        self._api = getattr(getattr(container, "client", None), "api", None)
        self._id = getattr(container, "id", None)
        self.limit, self._kill, self._every = limit, kill, every
        self.tripped = False
        self.peak = 0
        self._baseline: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="evalharness-disk-watch", daemon=True)

    def __enter__(self) -> DiskWatch:
        if self._api is not None and self._id is not None and self.limit > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _size(self) -> int:
        # The container list is the API call that takes `size` (inspect does not, in docker-py).
        found = self._api.containers(all=True, size=True, filters={"id": self._id})
        if not found:
            raise LookupError(f"container {self._id[:12]} is gone")
        return int(found[0].get("SizeRw") or 0)

    def _watch(self) -> None:
        try:
            self._baseline = self._size()  # what the harness itself wrote (prompt, forwarder)
            while not self._stop.wait(self._every):
                grown = self._size() - self._baseline
                self.peak = max(self.peak, grown)
                if grown > self.limit:
                    self.tripped = True
                    self._kill()
                    return
        except Exception as exc:  # noqa: BLE001 - the container went away: the run itself says so
            log.warning("stopped watching the disk of container %s: %s", self._id[:12], str(exc)[:200])


def _size(value: int | str) -> int:
    """Bytes from 10g / 512m / 1000000; UserError for anything else."""
    if isinstance(value, int):
        return value
    from docker.utils import parse_bytes

    try:
        size = parse_bytes(str(value).strip().lower())
    except Exception:  # noqa: BLE001 - docker's own error is about its own options
        raise UserError(f"disk limit {value!r}: give a size like 512m or 10g") from None
    if size <= 0:
        raise UserError(f"disk limit {value!r} must be positive")
    return size


def _file_at_limit(env: Environment, limit: int) -> str:
    """A file the CLI wrote that reached `ulimit -f` ('' if none): its writes to it failed there
    (Node and Python ignore SIGXFSZ and get EFBIG; Qwen Code, its chat record full, then exits 0
    having printed nothing), so the disk limit ended the run, whatever its exit code says."""
    found = env.exec(f"find / -xdev -type f -newer {RUN_DIR}/prompt.md -size +{limit - 1}c -print -quit "
                     "2>/dev/null", timeout=120)
    return found.output.strip()


def _exit_code(output: str) -> int | None:
    for line in reversed(output.splitlines()):
        if line.startswith(_EXIT_MARK + " "):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def _json_line(row: Mapping[str, Any]) -> str:
    import json

    return json.dumps(row, default=str) + "\n"


def make_installed_agent(name: str, model: str = "", *, base_url: str | None = None, model_id: str | None = None,
                         tool_mode: str | None = None, models_files: tuple[Path, ...] = (),
                         environ: dict[str, str] | None = None, dotenv: Path | None = Path(".env"),
                         limiter: Any = None, agent_disk_limit: str | None = None, **limits: Any) -> InstalledAgent:
    """`--agent qwen-code --model qwen3-coder` (or --base-url URL --model ID): the key is checked now."""
    from evalharness.model.registry import resolve_endpoint

    spec = CLI_AGENTS[name]
    config, key = resolve_endpoint(model, base_url=base_url, model_id=model_id, tool_mode=tool_mode,
                                   models_files=models_files, environ=environ, dotenv=dotenv,
                                   who=f"the {name} agent")
    from evalharness.model import gateway

    if spec.api not in gateway.APIS:
        raise UserError(f"{name} speaks the {spec.api} API, which the model gateway does not relay")
    if spec.api == "anthropic" and not config.anthropic_base_url:
        raise UserError(f"{name} speaks Anthropic's Messages API: model {config.name!r} needs an "
                        "anthropic_base_url (its Anthropic-compatible endpoint, in models.toml)")
    known = {f.name for f in fields(AgentLimits)}
    return InstalledAgent(spec, config, key, AgentLimits(**{k: v for k, v in limits.items() if k in known}),
                          disk_limit=agent_disk_limit or DISK_LIMIT, limiter=limiter)
