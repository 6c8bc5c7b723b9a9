"""`evalharness rollout`: K rollouts per task (GRPO groups) of an agent against a policy server,
every model request through the gateway, rewarded by the eval's grading (evalharness/rl/rollout.py).

Its options are its own (cli/parser.py imports this module, so this one may not import that one):
the task selection and environment options carry the names `eval` gives them, so the shared
helpers of cli/common.py read them alike.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from evalharness.core.errors import UserError

EPILOG = """examples:
  evalharness rollout --policy-url http://gpu-box:8000/v1 --group-size 8 --token-ids vllm
  evalharness rollout --policy-url http://127.0.0.1:30000/v1 --agent mini-swe-agent --token-ids sglang \\
      --dataset verified --slice 0:16 --workers 32 --run-id step-120

outputs in <reports>/<run-id>/: rollouts.parquet (a row per rollout: task, group, rollout, reward,
status, turns, tokens, timings), rollouts/<rollout>.jsonl (per turn: messages, answer, token ids,
logprobs), atif/<rollout>.json (ATIF v1.4); the same command again resumes the run."""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("rollout", help="K rollouts per task against a policy server, rewarded by the tests "
                                       "(for Agent RL: Parquet, per-turn token ids, ATIF)",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy-url", required=True, help="the policy's OpenAI-compatible server (.../v1: vLLM, SGLang)")
    p.add_argument("--agent", default="llm", help="llm (default) | qwen-code | mini-swe-agent")
    p.add_argument("--group-size", default="4", help="rollouts per task, a GRPO group (default 4)")
    p.add_argument("--model", default="", help="the model id to ask for, or a models.toml entry (default: the "
                                               "first model the server lists)")
    p.add_argument("--token-ids", default="none", help="none (default) | vllm | sglang: ask the server for each "
                                                       "turn's token ids and logprobs in that server's fields")
    p.add_argument("--policy-key-env", default="", help="environment variable holding the server's key, if any")
    p.add_argument("--tool-mode", choices=["native", "qwen3_xml"], help="llm agent: how tool calls are sent")
    p.add_argument("--models", dest="models_files", action="append", type=Path, default=[],
                   help="your own models.toml (for --model NAME)")
    g = p.add_argument_group("limits per rollout")
    g.add_argument("--max-turns", type=int, default=50, help="model calls per rollout (default 50)")
    g.add_argument("--max-cost", type=float, default=0.0, help="USD per rollout, 0 = no limit (default)")
    g.add_argument("--agent-timeout", type=float, default=1800, help="seconds of agent phase (default 1800)")
    g.add_argument("--command-timeout", type=float, default=120, help="seconds per agent command (default 120)")
    g.add_argument("--agent-disk-limit", help="installed agents: what a CLI may write to its container's disk")
    x = p.add_argument_group("execution")
    x.add_argument("--workers", type=int, default=8, help="rollouts at once (default 8)")
    x.add_argument("--eval-workers", type=int, default=0, help="test runs at once (default: the machine's cores)")
    x.add_argument("--start-rate", type=float, help="rollouts started per second as the run begins (default 16)")
    x.add_argument("--llm-concurrency", type=int, help="model requests in flight at once (default: no limit)")
    x.add_argument("--run-id", help="name of the run (default rollout-<agent>__<dataset>); the same id resumes it")
    x.add_argument("--reports-dir", type=Path, default=Path("reports"), help="default: reports/")
    x.add_argument("--redo", action="store_true", help="run finished rollouts again")
    x.add_argument("--no-progress", action="store_true", help="no progress bar")
    _selection_args(p)
    _environment_args(p)
    p.set_defaults(func=run)
    return p


def _selection_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tasks (as for eval)")
    g.add_argument("--dataset", default="builtin", help="builtin | verified | lite | HF name | .jsonl/.json/.parquet")
    g.add_argument("--split", default="test")
    g.add_argument("--instance-ids", action="append", default=[], metavar="IDS", help="comma-separated; repeatable")
    g.add_argument("--repos", action="append", default=[], metavar="REPOS", help="owner/name, comma-separated")
    g.add_argument("--filter", dest="regex", help="regex on instance_id")
    g.add_argument("--slice", help="python slice of the selection, e.g. 0:10")
    g.add_argument("--shuffle", action="store_true")
    g.add_argument("--seed", type=int, default=0)


def _environment_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("environments (as for eval)")
    g.add_argument("--specs", action="append", type=Path, default=[], help="extra spec TOML file(s)")
    g.add_argument("--repo-mirror", action="append", type=Path, default=[], help="folder of bare git mirrors")
    g.add_argument("--cache-dir", type=Path,
                   default=Path(os.environ.get("EVALHARNESS_CACHE", Path.home() / ".cache" / "evalharness")))
    g.add_argument("--no-pull", action="store_true", help="never pull from a registry")
    g.add_argument("--namespace", help="pull official SWE-bench images from this namespace")
    g.add_argument("--base-image", help="upstream image for the base layer")
    g.add_argument("--ca-bundle", type=Path, help="CA bundle to inject into images (default: the host's)")
    g.add_argument("--no-host-ca", action="store_true", help="do not inject the host's CA bundle")
    g.add_argument("--build-workers", type=int, default=2, help="image builds in parallel")
    g.add_argument("--registry", help="registry through which nodes share the images they build")
    g.add_argument("--allow-network", action="store_true", help="give agent and test containers network")
    g.add_argument("--memory", help="memory limit per container (default 4g; none: no limit)")
    g.add_argument("--cpus", help="CPU quota per container (default: the host's cores; 0: no quota)")
    g.add_argument("--pids", help="process limit per container (default 4096; none: no limit)")


def _group_size(text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UserError(f"--group-size must be a whole number of at least 1 (rollouts per task), got {text!r}") from None
    return value


def run(args: argparse.Namespace) -> int:
    from evalharness.cli.common import _environment, _limits, _select, _sigterm_as_ctrl_c, default_run_id
    from evalharness.rl.rollout import RolloutSpec, group_table, policy_model, run_rollouts
    from evalharness.run.config import DEFAULT_START_RATE, RunConfig

    for name in ("workers", "max_turns"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    spec = RolloutSpec(
        policy_url=args.policy_url, agent=args.agent, group_size=_group_size(args.group_size), model=args.model,
        token_ids=args.token_ids, api_key_env=args.policy_key_env, models_files=tuple(args.models_files),
        tool_mode=args.tool_mode, agent_disk_limit=args.agent_disk_limit,
        limits={"max_turns": args.max_turns, "max_cost": args.max_cost, "max_seconds": args.agent_timeout,
                "command_timeout": args.command_timeout})
    spec.check()  # one line for a bad agent, group size or URL, before the server is asked
    model, key = policy_model(spec)  # an unreachable server fails here, before any Docker work
    tasks = _select(args)
    from evalharness.scorers import get_scorer

    scorer = get_scorer("tests")
    limiter = None
    if args.llm_concurrency:
        from evalharness.model.ratelimit import make_limiter

        limiter = make_limiter(args.llm_concurrency, None, ray=False)
    run_id = args.run_id or default_run_id(f"rollout-{spec.agent}", "", args.dataset, args.split)
    config = RunConfig(run_id=run_id, dataset=args.dataset, agent=spec.agent, model=model.model,
                       workers=args.workers, eval_workers=args.eval_workers,
                       start_rate=DEFAULT_START_RATE if args.start_rate is None else args.start_rate,
                       redo=args.redo, reports_dir=args.reports_dir, limits=_limits(args), test_env=scorer.test_env)
    builder, specs, client = _environment(args)
    with _sigterm_as_ctrl_c():
        outcome = run_rollouts(spec, tasks, config, client=client, builder=builder, specs=specs, scorer=scorer,
                               model=model, key=key, limiter=limiter, progress=not args.no_progress)
    if outcome.skipped:
        print(f"resumed: {outcome.skipped} rollout(s) were already done (use --redo to run them again)")
    print(group_table(outcome.rows))
    print(f"\nrollouts: {outcome.run_dir / 'rollouts.parquet'}\nturns:    {outcome.run_dir / 'rollouts'}"
          f"\natif:     {outcome.run_dir / 'atif'}")
    return 0
