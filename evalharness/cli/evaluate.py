"""`evalharness eval`: an agent on the selected tasks, graded, locally or on a Ray cluster."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from evalharness.cli.common import (
    _build_setup, _environment, _limits, _select, _sigterm_as_ctrl_c, default_run_id, log,
)
from evalharness.cli.gc import leftovers_note
from evalharness.core.errors import UserError


def cmd_eval(args) -> int:
    from evalharness.agents import INSTALLED, get_agent
    from evalharness.run.pipeline import DEFAULT_START_RATE
    from evalharness.run.runner import RunConfig, Runner, summarize

    args.agent = args.agent or ("replay" if args.predictions else "llm" if args.model or args.base_url else "gold")
    if args.predictions and args.agent != "replay":  # it would be ignored, and the run graded as another agent's
        raise UserError(f"--predictions is read only by --agent replay, not --agent {args.agent}; "
                        "drop one of the two")
    tasks = _select(args)
    limiter = None
    ray = args.executor == "ray"
    if ray:
        _connect_ray(args.ray_address)  # before the agent: a shared limiter lives on the cluster
    if args.agent == "replay":
        replay = get_agent("replay", predictions=args.predictions)
        args.model = args.model or replay.model_name  # names the run and its predictions.jsonl
        if replay.outside(tasks):
            ids = replay.outside(tasks)
            log.warning("%d prediction(s) name instances not in the selection (not run): %s",
                        len(ids), ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else ""))
        make_agent = functools.partial(_same, replay)
    else:
        options = _agent_options(args)
        if args.agent == "llm" or args.agent in INSTALLED:
            options["limiter"] = limiter = _llm_limiter(args, ray)
        make_agent = functools.partial(get_agent, args.agent, **options)
    agent = make_agent()  # here too for a local run; on Ray, checks the options (and key) before any node works
    make_scorer, scorer, flaky = _scorer_factory(args)
    run_id = args.run_id or default_run_id(args.agent, args.model, args.dataset, args.split)
    config = RunConfig(
        run_id=run_id,
        dataset=args.dataset,
        agent=args.agent,
        model=args.model,
        workers=args.workers,
        eval_workers=args.eval_workers,
        start_rate=DEFAULT_START_RATE if args.start_rate is None else args.start_rate,
        redo=args.redo,
        reports_dir=args.reports_dir,
        limits=_limits(args),
        settings={**getattr(agent, "settings", dict)(), **flaky},
        test_env=scorer.test_env,
    )
    if ray:
        runner = Runner(config, executor=_ray_executor(args, config, make_agent, make_scorer))
    else:
        builder, specs, client = _environment(args)
        note = leftovers_note(client, args.reports_dir, exclude_key=config.run_key)  # its own: the resume's
        if note:
            log.warning("%s", note)
        runner = Runner(config, client=client, builder=builder, specs=specs, agent=agent, scorer=scorer)
    with _sigterm_as_ctrl_c(), _served(args, agent, config.run_dir):
        outcome = runner.run(tasks, progress=not args.no_progress)
    print(summarize(outcome.records))
    if limiter is not None:
        print(_backpressure(limiter.stats()))
    print(f"\nresults: {outcome.run_dir / 'results.parquet'}\nlogs:    {outcome.run_dir / 'logs'}")
    if outcome.skipped:  # last, next to the result: a resumed run's figure is not this command's work
        print(resumed_line(outcome))
    return 0


def resumed_line(outcome) -> str:
    """What a resume did, in one line: "nothing ran: all 11 already done in reports/gold__builtin; ..."."""
    resolved = sum(r.resolved for r in outcome.records)
    result = f"resolved {resolved}/{len(outcome.records)}"
    if not outcome.ran:
        return (f"nothing ran: all {outcome.skipped} already done in {outcome.run_dir} ({result}); "
                "--redo runs them again")
    return (f"resumed: {outcome.ran} ran, {outcome.skipped} already done in {outcome.run_dir} ({result}); "
            "--redo runs them all again")


def _scorer_factory(args):
    """A picklable factory of the run's scorer (its options: the flaky list under --flaky), and what
    run.json says of it. The scorer is built here once, so a bad name or option fails before the run."""
    from evalharness.scorers import get_scorer

    options: dict = {}
    if args.flaky is None:
        if args.flaky_policy:
            raise UserError("--flaky-policy needs --flaky FILE")
    else:
        from evalharness.run.validate import read_flaky_file

        options["flaky"] = tests = read_flaky_file(args.flaky)
        if args.flaky_policy:
            options["flaky_policy"] = args.flaky_policy
    try:
        scorer = get_scorer(args.scorer, **options)
    except UserError as exc:
        raise UserError(f"--flaky: {exc}" if options else str(exc)) from None
    recorded = {}
    if options:
        recorded = {"flaky": {"file": str(args.flaky), "policy": getattr(scorer, "flaky_policy", args.flaky_policy), "instances": len(tests),
                              "tests": sum(len(v) for v in tests.values())}}
    return functools.partial(get_scorer, args.scorer, **options), scorer, recorded


def _backpressure(stats) -> str:
    limits = ", ".join(part for part in (
        f"{stats.max_concurrent} in flight" if stats.max_concurrent else "",
        f"{stats.per_minute}/min" if stats.per_minute else "") if part)
    return (f"\nmodel requests: {stats.requests} under the limit of {limits}; {stats.waited} waited "
            f"({stats.wait_seconds:.1f} s in all)")


def _same(value):
    """A picklable factory of an object built once on the driver (the replay agent's predictions)."""
    return value


def _llm_limiter(args, ray: bool):
    """One limit on model requests for all workers: a lock here, an actor on a Ray cluster."""
    from evalharness.model.ratelimit import make_limiter

    return make_limiter(args.llm_concurrency, args.llm_rpm, ray=ray)


def _connect_ray(address: str | None) -> None:
    try:
        from evalharness.run.executors.ray import connect
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'evalharness[ray]'") from None
    connect(address)


def _ray_executor(args, config, make_agent, make_scorer):
    """Each instance a Ray task; nodes build the pipeline from this recipe (no Docker needed here)."""
    try:
        from evalharness.run.executors.ray import RayExecutor
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'evalharness[ray]'") from None
    from evalharness.run.pipeline import PipelineRecipe

    build, sources, specs = _build_setup(args)
    recipe = PipelineRecipe(config=config, build=build, specs=specs, repo_sources=tuple(sources),
                            agent=make_agent, scorer=make_scorer)
    return RayExecutor(recipe, address=args.ray_address, max_attempts=args.max_attempts,
                       eval_slots=args.eval_workers, build_slots=args.build_workers)


def _served(args, agent, run_dir: Path):
    """`eval --serve`: the model's local server (vLLM/SGLang) runs for the duration of the run."""
    import contextlib

    if not args.serve:
        return contextlib.nullcontext()
    from evalharness.model.serve import serve

    model = getattr(agent, "model", None)
    if model is None or getattr(model, "serve", None) is None:
        raise UserError("--serve needs --model NAME whose models.toml entry has a [serve] section "
                        "(e.g. qwen3-coder-local)")
    print(f"starting the model server for {model.name} (log: {run_dir / 'serve.log'})", file=sys.stderr)
    return serve(model, log_path=run_dir / "serve.log")


def _agent_options(args) -> dict:
    return {"model": args.model, "base_url": args.base_url, "model_id": args.model_id, "tool_mode": args.tool_mode,
            "models_files": tuple(args.models_files), "max_turns": args.max_turns, "max_cost": args.max_cost,
            "max_seconds": args.agent_timeout, "command_timeout": args.command_timeout,
            **({"agent_disk_limit": args.agent_disk_limit} if getattr(args, "agent_disk_limit", None) else {})}
