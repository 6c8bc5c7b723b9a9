"""The multi-turn tool-using agent over an OpenAI-compatible chat-completions endpoint.

One loop, two tool-call modes: `native` sends the tools as OpenAI `tools` and reads
`tool_calls`; `qwen3_xml` describes the tools in the system prompt and parses
Qwen3-Coder's XML calls from the reply text (for servers run without a tool parser).
In native mode, calls a server left in the text are recovered the same way.

Every stop has an exit reason (submitted, max_turns, max_cost, timeout,
context_exceeded, api_error, format_errors). Whatever the reason, the patch is the
working tree's diff against base_commit, collected by the harness, not printed by the model.

A reply cut off at the output limit (finish_reason "length", or completion_tokens at the
max_tokens asked for: vLLM reports a cut tool-calling turn as "tool_calls", vllm#58228) does
not run a call it left unfinished. In text (and calls a server left in the text), that is one
whose `</function>` never came: calls complete before the cut run. In native mode the reply is
not run at all: a server-side XML parser closes a value the cut left open (vLLM's and SGLang's
qwen3_coder parsers turn it into valid JSON) and nothing in the response says so, so no call
of a cut native reply can be trusted (Qwen3-Coder ends its turn right after a call: a cut
after a complete one costs a turn, rarely). The model is told where it was cut instead, and
the reply counts as a format error.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import jinja2

import evalharness.agents.qwen_xml as qwen_xml
from evalharness.agents.base import AgentResult, Usage
from evalharness.agents.context import elide_to_fit, estimate_tokens, for_api
from evalharness.agents.patch import collect_patch
from evalharness.agents.tools import TOOL_NAMES, TOOLS, ToolBox
from evalharness.env.base import Environment
from evalharness.model.llm import Completion, ContextOverflowError, LLMClient, LLMError, ToolCall
from evalharness.model.registry import ModelConfig
from evalharness.env.shell import OpeningShell, ShellError
from evalharness.core.task import Task
from evalharness.core.trajectory import Trajectory

PROMPTS = Path(__file__).parent / "prompts"
CONTEXT_SAFETY_TOKENS = 1024  # room for the estimate being off


@dataclass(frozen=True)
class AgentLimits:
    max_turns: int = 100
    max_seconds: float = 3600.0  # wall time of the whole agent phase
    max_cost: float = 3.0  # USD; 0 = no limit
    command_timeout: float = 120.0
    max_output_chars: int = 10_000  # per observation, head and tail kept
    max_format_errors: int = 3  # consecutive malformed replies before giving up


@dataclass
class _State:
    """Counters of one agent run (the agent object itself is shared by worker threads)."""

    trajectory: Trajectory = field(default_factory=Trajectory)
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    llm_seconds: float = 0.0
    tool_seconds: float = 0.0
    format_errors: int = 0
    api_retries: int = 0
    error: str | None = None


class LLMAgent:
    name = "llm"

    def __init__(self, model: ModelConfig, client: LLMClient, limits: AgentLimits = AgentLimits(),
                 prompts_dir: Path = PROMPTS):
        self.model = model
        self.client = client
        self.limits = limits
        self.native = model.tool_mode == "native"
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(prompts_dir)), undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False, autoescape=False)

    def settings(self) -> dict[str, Any]:
        """What a reader of the run needs to reproduce it (stored in run.json; holds no secret)."""
        model = asdict(self.model)
        if model.get("serve") and model["serve"].get("env"):  # names only: values may be tokens (HF_TOKEN)
            model["serve"]["env"] = {name: "<set>" for name in model["serve"]["env"]}
        return {"model": model, "limits": asdict(self.limits)}

    def run(self, task: Task, env: Environment) -> AgentResult:
        state = _State()
        messages = self._initial_messages(task, env, state.trajectory)
        start = time.monotonic()
        patch = ""
        try:
            with OpeningShell(env.open_shell) as shell:  # opens while the first model call runs
                box = ToolBox(shell, env.workdir, command_timeout=self.limits.command_timeout,
                              max_output_chars=self.limits.max_output_chars)
                exit_reason = self._loop(messages, box, state, start)
                try:
                    patch = collect_patch(lambda cmd: shell.run(cmd, timeout=300), task.base_commit)
                except RuntimeError as exc:
                    state.error = state.error or f"could not collect the patch: {exc}"
        except ShellError as exc:
            exit_reason, state.error = "error", f"shell session failed: {exc}"
        state.trajectory.add("exit", exit_reason=exit_reason, patch_chars=len(patch))
        return AgentResult(
            patch=patch, trajectory=state.trajectory.events, usage=state.usage, turns=state.turns,
            exit_reason=exit_reason, llm_seconds=state.llm_seconds, tool_seconds=state.tool_seconds,
            format_errors=state.format_errors, api_retries=state.api_retries, error=state.error)

    # ---- the loop -----------------------------------------------------------------------
    def _loop(self, messages: list[dict[str, Any]], box: ToolBox, state: _State, start: float) -> str:
        limits, traj = self.limits, state.trajectory
        tools = TOOLS if self.native else None
        budget = self.model.context_window - (self.model.max_tokens or 0) - CONTEXT_SAFETY_TOKENS
        consecutive_errors = 0
        while True:
            if state.turns >= limits.max_turns:
                return "max_turns"
            if time.monotonic() - start >= limits.max_seconds:
                return "timeout"
            if limits.max_cost and state.usage.cost >= limits.max_cost:
                return "max_cost"
            elided, fits = elide_to_fit(messages, budget, tools)
            if elided:
                traj.add("elided", count=elided)
            if not fits:
                return "context_exceeded"
            state.turns += 1
            traj.turn = state.turns
            try:
                reply = self.client.complete(for_api(messages), tools)
            except ContextOverflowError as exc:
                # The server counts tokens better than our estimate: shrink harder, try again.
                state.turns -= 1
                traj.add("api_error", message=exc.reason)
                elided, _ = elide_to_fit(messages, int(estimate_tokens(messages, tools) * 0.75), tools)
                if not elided:
                    return "context_exceeded"
                traj.add("elided", count=elided)
                # the server's real limit is below what we just sent: aim under it from now on
                budget = min(budget, estimate_tokens(messages, tools))
                continue
            except LLMError as exc:
                traj.add("api_error", message=exc.reason)
                state.error = f"model API failed: {exc.reason}"
                return "api_error"
            self._account(reply, state)
            content, calls, problem = self._calls(reply)
            traj.add("assistant", content=reply.content,
                     tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls],
                     usage={"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens},
                     finish_reason=reply.finish_reason, cost=reply.cost, llm_seconds=round(reply.seconds, 3),
                     retries=reply.retries)
            if problem:
                state.format_errors += 1
                consecutive_errors += 1
                traj.add("format_error", message=problem, content=reply.content)
                messages.append({"role": "assistant", "content": reply.content})
                messages.append({"role": "user", "content": problem})
                if consecutive_errors >= limits.max_format_errors:
                    return "format_errors"
                continue
            consecutive_errors = 0
            if self._act(calls, content, messages, box, state, start):
                return "submitted"

    def _act(self, calls: list[ToolCall], content: str, messages: list[dict[str, Any]], box: ToolBox,
             state: _State, start: float) -> bool:
        """Run the calls in order (stopping at submit); append them and their results. True if submitted."""
        results: list[tuple[ToolCall, str]] = []
        submitted = False
        for call in calls:
            time_left = self.limits.max_seconds - (time.monotonic() - start)
            obs = box.call(call.name, call.arguments or {}, time_left=time_left)
            state.tool_seconds += obs.seconds
            state.trajectory.add("tool", tool_call_id=call.id, name=call.name, arguments=call.arguments,
                                 output=obs.output, exit_code=obs.exit_code, seconds=round(obs.seconds, 3))
            results.append((call, obs.output))
            if obs.submitted:
                submitted = True
                break
        done = [call for call, _ in results]
        if self.native:
            messages.append({"role": "assistant", "content": content, "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                for c in done]})
            for call, output in results:
                messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
        else:
            messages.append({"role": "assistant", "content": qwen_xml.render_tool_calls(content, done)})
            messages.append({"role": "user", "is_observation": True,
                             "content": qwen_xml.render_tool_responses([out for _, out in results])})
        return submitted

    def _calls(self, reply: Completion) -> tuple[str, list[ToolCall], str | None]:
        """(the reply's text, its tool calls, None) or ("", [], a corrective message for the model)."""
        content, calls = reply.content, reply.tool_calls if self.native else []
        cut = self._cut_at(reply)
        if not calls and ("<tool_call>" in content or "<function=" in content):
            # text mode, or a native server that left the call in the text
            unfinished = qwen_xml.open_call(content) if cut is not None else None
            if unfinished is not None:
                return "", [], _cut_message(cut, unfinished)
            try:
                content, calls = qwen_xml.parse_tool_calls(reply.content, TOOLS)
            except qwen_xml.ToolCallFormatError as exc:
                return "", [], str(exc)
        if not calls:
            return "", [], ("Your reply called no tool. Every reply must call a tool: run commands with `bash`, "
                            "edit files with `str_replace_editor`, or call `submit` when the task is solved."
                            + (f" It was cut off at {_tokens(cut)}: write less before the call." if cut is not None
                               else ""))
        if cut is not None and self.native and reply.tool_calls:
            return "", [], _cut_message(cut, calls[-1].name)  # the server may have closed a cut value
        for i, call in enumerate(calls):
            if not call.id:
                call.id = f"call_{i}"
            if call.arguments is None:
                return "", [], (f"The arguments of your `{call.name}` call are not valid JSON "
                            f"({call.raw_arguments[:200]!r}). Send them again as a JSON object.")
            if call.name not in TOOL_NAMES:
                return "", [], f"There is no tool named {call.name!r}. The tools are: {', '.join(TOOL_NAMES)}."
        return content, calls, None

    # ---- helpers ------------------------------------------------------------------------
    def _cut_at(self, reply: Completion) -> int | None:
        """The tokens a reply was cut off at by the output limit (0: not known); None if it was not cut."""
        limit = self.model.max_tokens
        if reply.finish_reason == "length" or (limit and reply.completion_tokens >= limit):
            return reply.completion_tokens or limit or 0
        return None

    def _initial_messages(self, task: Task, env: Environment, traj: Trajectory) -> list[dict[str, Any]]:
        system = self._templates.get_template("system.j2").render(
            workdir=env.workdir, tools_prompt=None if self.native else qwen_xml.render_tools(TOOLS))
        user = self._templates.get_template("instance.j2").render(
            problem_statement=task.problem_statement, workdir=env.workdir, max_turns=self.limits.max_turns)
        traj.add("system", content=system)
        traj.add("user", content=user)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    @staticmethod
    def _account(reply: Completion, state: _State) -> None:
        state.usage.add(reply.prompt_tokens, reply.completion_tokens, reply.cost)
        state.llm_seconds += reply.seconds
        state.api_retries += reply.retries


def _tokens(count: int) -> str:
    return f"the output limit ({count} tokens)" if count else "the output limit"


def _cut_message(count: int, function: str) -> str:
    """The corrective message for a reply cut off inside a call."""
    where = f"inside its `{function}` call" if function else "inside a tool call"
    return (f"Your reply was cut off at {_tokens(count)} {where}, so that call was not run, nor any other call "
            "of this reply. Send it again, shorter: keep the text before the call brief, and write a long file "
            "in parts (create it with the first part, then append the rest with `bash`, e.g. "
            "cat >> FILE <<'EOF' ... EOF).")


def make_llm_agent(model: str = "", *, base_url: str | None = None, model_id: str | None = None,
                   tool_mode: str | None = None, models_files: tuple[Path, ...] = (),
                   environ: dict[str, str] | None = None, dotenv: Path | None = Path(".env"),
                   limiter: Any = None, **limits: Any) -> LLMAgent:
    """The agent for a registry model (`--model qwen3-coder`) or any endpoint (`--base-url URL --model ID`)."""
    from evalharness.model.registry import resolve_endpoint

    config, key = resolve_endpoint(model, base_url=base_url, model_id=model_id, tool_mode=tool_mode,
                                   models_files=models_files, environ=environ, dotenv=dotenv)
    known = {f.name for f in fields(AgentLimits)}
    return LLMAgent(config, LLMClient(config, key, limiter=limiter), AgentLimits(**{k: v for k, v in limits.items() if k in known}))
