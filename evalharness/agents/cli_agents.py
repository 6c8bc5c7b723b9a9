"""The CLI agents as they ship (Qwen Code, mini-swe-agent, Claude Code): the one table of them,
and the Dockerfiles of the layers they are installed in.

The table is the registry: `evalharness.agents` offers each name in it as an agent, and
`installed.py` runs them. It is plain data, so listing the agents runs none of their code.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from evalharness.env.images import CA_PATH, PIP_BUILD_ARGS

AGENT_ROOT = "/opt/evalharness-agent"  # where the CLIs live in the agent image
NODE_VERSION = "22.23.5"  # the Node.js runtime npm CLIs run on (npm package node-linux-<arch>)
TOOLS_SUITE = "bookworm"  # the Debian suite whose npm installs the CLIs


@dataclass(frozen=True)
class CLIAgentSpec:
    """How to install and run one CLI. `command` is shell, run in the repo; it and the `env`
    values are formatted with `base_url`, `anthropic_base_url`, `token` and `model` (the
    gateway's, as the container sees them; shell-quoted in `command`), and `command` also with
    `cli` (its executable), `prompt_file`, `max_turns` and `run_dir`."""

    name: str
    installer: str  # "npm" | "pip"
    package: str
    version: str
    command: str
    env: Mapping[str, str]
    entry: str = ""  # npm: the JS file (relative to the package) Node runs, or a bin name; pip: the venv's executable
    api: str = "openai"  # the protocol the CLI speaks to its model
    omit_optional: bool = True  # npm: skip optional dependencies (native add-ons the headless CLI needs not)
    post_install: tuple[str, ...] = ()  # shell, run in the package's folder after the install
    junk: tuple[str, ...] = ()  # what the CLI leaves in the repo that is never part of the patch
    min_python: tuple[int, int] = (3, 10)  # pip CLIs: the interpreter their venv needs

    @property
    def prefix(self) -> str:
        return f"{AGENT_ROOT}/{self.name}"

    @property
    def executable(self) -> str:
        return f"{self.prefix}/bin/{self.name}" if self.installer == "npm" else f"{self.prefix}/venv/bin/{self.entry}"

    def describe(self) -> dict[str, str]:
        """What run.json records: enough to install the same CLI again."""
        out = {"name": self.name, "package": self.package, "version": self.version, "installer": self.installer}
        if self.installer == "npm" and self.entry.endswith(".js"):  # a native binary keeps no Node.js
            out["node"] = NODE_VERSION
        return out


CLI_AGENTS: dict[str, CLIAgentSpec] = {
    # Qwen Code, headless: a positional prompt is one-shot; --bare skips the start-up discovery
    # (extensions, skills, the memory sub-agent that costs a request per run), so a run is
    # the task alone; yolo approves every tool call.
    "qwen-code": CLIAgentSpec(
        name="qwen-code", installer="npm", package="@qwen-code/qwen-code", version="0.24.4",
        entry="cli-entry.js",
        command='{cli} --bare --yolo --auth-type openai --max-session-turns {max_turns} "$(cat {prompt_file})"',
        env={"OPENAI_BASE_URL": "{base_url}", "OPENAI_API_KEY": "{token}", "OPENAI_MODEL": "{model}",
             "QWEN_CODE_SUPPRESS_YOLO_WARNING": "1"},
        post_install=("find node_modules/@qwen-code -path '*ripgrep*' -type f -name rg -exec chmod +x {} +",),
        junk=(".qwen/",),
    ),
    # mini-swe-agent 2.x: one `bash` tool, a fresh subshell per command, local environment (it is
    # already inside the task container); it stops at `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`.
    # Cost is counted by the gateway, so its own (litellm's price table) is off.
    "mini-swe-agent": CLIAgentSpec(
        name="mini-swe-agent", installer="pip", package="mini-swe-agent", version="2.4.6", entry="mini",
        command=("{cli} --yolo --exit-immediately --cost-limit 0 -m openai/{model} -c mini.yaml "
                 "-c agent.step_limit={max_turns} -c model.model_kwargs.api_base={base_url} "
                 "-c environment.timeout=120 -o {run_dir}/mini.traj.json -t \"$(cat {prompt_file})\""),
        env={"OPENAI_API_KEY": "{token}", "MSWEA_CONFIGURED": "true", "MSWEA_COST_TRACKING": "ignore_errors",
             "MSWEA_SILENT_STARTUP": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    ),
    # Claude Code speaks Anthropic's Messages API: for models with an Anthropic-compatible
    # endpoint (models.toml anthropic_base_url; DashScope has one), which the gateway relays.
    # The npm package is a stub whose postinstall puts the native binary (from the optional
    # dependency @anthropic-ai/claude-code-linux-x64, hence omit_optional=False) in its place;
    # the binary needs no Node.js. post_install drops what the layer need not carry: the
    # platform packages (Debian's npm 9 also installs the musl build, ~370 MB) and the Node.js
    # runtime with its libstdc++ (~185 MB). Headless: -p; --dangerously-skip-permissions as
    # root needs IS_SANDBOX=1; without network nothing waits at start (no login, update check or
    # telemetry with these variables; measured: a one-turn run takes ~2 s).
    "claude-code": CLIAgentSpec(
        name="claude-code", installer="npm", package="@anthropic-ai/claude-code", version="2.1.332",
        entry="claude", api="anthropic", omit_optional=False,
        command='{cli} -p --dangerously-skip-permissions --max-turns {max_turns} "$(cat {prompt_file})"',
        env={"ANTHROPIC_BASE_URL": "{anthropic_base_url}", "ANTHROPIC_AUTH_TOKEN": "{token}",
             "ANTHROPIC_MODEL": "{model}", "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1",
             "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "IS_SANDBOX": "1"},
        post_install=("test -x node_modules/.bin/claude && node_modules/.bin/claude --version && "
                      "rm -rf node_modules/@anthropic-ai/claude-code-*/ node node_modules/node-linux-* "
                      "node_modules/.bin/node lib",),
        junk=(".claude/",),
    ),
}


# ---- the layers ---------------------------------------------------------------------------
def launcher(spec: CLIAgentSpec) -> str:
    """The npm CLI's executable: the package on its own Node.js, which no other process sees
    (the CLI's shell commands find the image's own tools); the agent image's libstdc++ only
    where the image lacks one."""
    p = spec.prefix
    run = (f'exec "{p}/node/bin/node" "{p}/node_modules/{spec.package}/{spec.entry}" "$@"'
           if spec.entry.endswith(".js") else f'exec "{p}/node_modules/.bin/{spec.entry}" "$@"')
    return "\n".join([
        "#!/bin/sh",
        f'[ -d "{p}/lib" ] && export LD_LIBRARY_PATH="{p}/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"',
        run,
    ]) + "\n"


def tools_dockerfile(spec: CLIAgentSpec, os_tag: str, ca: bool) -> str:
    """The agent-tools image of an npm CLI: Debian's npm installs the package and a pinned
    Node.js runtime under spec.prefix, self-contained (libstdc++ too), launcher at spec.executable."""
    p = spec.prefix
    omit = " --omit=optional" if spec.omit_optional else ""
    lines = [
        f"FROM {os_tag}",
        "ENV DEBIAN_FRONTEND=noninteractive",
        "RUN apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm ca-certificates "
        "&& rm -rf /var/lib/apt/lists/*",
    ]
    if ca:
        lines += [f"COPY ca-bundle.crt {CA_PATH}", f"ENV NPM_CONFIG_CAFILE={CA_PATH} NODE_EXTRA_CA_CERTS={CA_PATH}"]
    lines += [
        *[f"ARG {k}" for k in PIP_BUILD_ARGS],
        f"RUN case \"$(uname -m)\" in x86_64) arch=x64;; aarch64) arch=arm64;; "
        f"*) echo \"no Node.js package for $(uname -m)\"; exit 1;; esac && mkdir -p {p}/bin {p}/lib && cd {p} && "
        f"npm install --no-audit --no-fund --no-update-notifier --loglevel=error{omit} "
        f"node-linux-$arch@{NODE_VERSION} {shlex.quote(spec.package + '@' + spec.version)} && "
        f"ln -s node_modules/node-linux-$arch node && "
        f"cp -L /usr/lib/$(uname -m)-linux-gnu/libstdc++.so.6 /usr/lib/$(uname -m)-linux-gnu/libgcc_s.so.1 lib/ && "
        "rm -rf /root/.npm",
        *[f"RUN cd {p} && {command}" for command in spec.post_install],
        f"COPY launcher {spec.executable}",
        f"RUN chmod 755 {spec.executable} && {spec.executable} --version",
    ]
    return "\n".join(lines) + "\n"


def layer_dockerfile(spec: CLIAgentSpec, instance_tag: str, tools_tag: str | None) -> str:
    """The CLI on the instance image: copied from the tools image (npm), or a venv of its own (pip)."""
    p = spec.prefix
    if spec.installer == "npm":
        return "\n".join([
            f"FROM {tools_tag} AS agent",
            f"FROM {instance_tag}",
            f"COPY --from=agent {p} {p}",
            # the image's own libstdc++ when it has one (ours is only for images without)
            f"RUN if env -u LD_LIBRARY_PATH {p}/node/bin/node --version >/dev/null 2>&1; then rm -rf {p}/lib; fi && "
            f"{spec.executable} --version",
        ]) + "\n"
    need = ".".join(map(str, spec.min_python))
    check = f"import sys; sys.exit(sys.version_info < {tuple(spec.min_python)!r})"
    return "\n".join([
        f"FROM {instance_tag}",
        *[f"ARG {k}" for k in PIP_BUILD_ARGS],
        # The first Python that is new enough: the repo's, a conda base, the system's.
        f"RUN py=''; for c in python3 /opt/miniconda3/bin/python3 /usr/bin/python3 /usr/local/bin/python3; do "
        f"if command -v $c >/dev/null 2>&1 && $c -c {shlex.quote(check)}; then py=$c; break; fi; done; "
        f"if [ -z \"$py\" ]; then echo \"{spec.package} {spec.version} needs Python >= {need} in the image "
        f"(python3 here: $(python3 -V 2>&1))\"; exit 1; fi; "
        f"$py -m venv {p}/venv && {p}/venv/bin/pip install -q --no-cache-dir "
        f"{shlex.quote(spec.package + '==' + spec.version)}",
        f"RUN {spec.executable} --help >/dev/null",
    ]) + "\n"


# ---- the agent ------------------------------------------------------------------------------
