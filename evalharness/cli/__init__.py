"""Command line: `evalharness eval|tasks|build|summary|serve`. User mistakes print one line, no traceback."""

from __future__ import annotations

import argparse
import functools
import logging
import math
import os
import re
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from evalharness import __version__
from evalharness.core.errors import UserError

log = logging.getLogger("evalharness")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="evalharness: %(message)s",
    )
    try:
        return args.func(args)
    except UserError as exc:
        print(f"evalharness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # one line, no traceback; the runner says what it kept
        kept = str(exc) or "finished instances are kept"
        print(f"evalharness: interrupted: {kept}; run the same command to resume", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evalharness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"evalharness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p_eval = sub.add_parser("eval", help="run an agent on tasks in Docker and grade it")
    _selection_args(p_eval)
    _environment_args(p_eval)
    p_eval.add_argument("--agent", help="gold | empty | llm | replay | qwen-code | mini-swe-agent | claude-code "
                             "(default: llm with --model, else gold)")
    _model_args(p_eval)
    p_eval.add_argument("--scorer", default="tests", help="scorer (default: tests)")
    _executor_args(p_eval)
    p_eval.add_argument("--run-id", help="name of the run; re-running the same id resumes it")
    p_eval.add_argument("--reports-dir", type=Path, default=Path("reports"), help="default: reports/")
    p_eval.add_argument("--redo", action="store_true", help="run instances again even if already done")
    p_eval.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_eval.add_argument("--predictions", type=Path,
                        help="SWE-bench predictions (JSONL/JSON) for --agent replay; missing instances: empty_patch")
    p_eval.add_argument("--flaky", type=Path, metavar="FILE",
                        help="flaky tests per instance ({instance_id: [test ids]}, the flaky.json of validate "
                             "--repeats N), graded by --flaky-policy")
    p_eval.add_argument("--flaky-policy", choices=("ignore", "flag"),
                        help="with --flaky: ignore = left out of FAIL_TO_PASS/PASS_TO_PASS before grading; "
                             "flag (default) = graded as usual, the failing ones named in the record")
    p_eval.set_defaults(func=cmd_eval)

    p_val = sub.add_parser("validate", help="gold and empty over a selection: list instances where gold does not "
                                            "resolve or empty does (exit 1 if any)")
    _selection_args(p_val)
    _environment_args(p_val)
    p_val.add_argument("--workers", type=_positive_int, default=1, help="instances in parallel (default 1)")
    p_val.add_argument("--run-id", help="name (default validate__<dataset>); runs go to <reports>/<name>/gold, /empty "
                                        "(and gold-2, empty-2, ... with --repeats)")
    p_val.add_argument("--repeats", type=_positive_int, default=1,
                       help="run gold and empty N times each; tests whose status changes go to <name>/flaky.json "
                            "(default 1)")
    p_val.add_argument("--reports-dir", type=Path, default=Path("reports"), help="default: reports/")
    p_val.add_argument("--redo", action="store_true", help="run instances again even if already done")
    p_val.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_val.set_defaults(func=cmd_validate)

    p_tasks = sub.add_parser("tasks", help="list the tasks a selection picks")
    _selection_args(p_tasks)
    p_tasks.set_defaults(func=cmd_tasks)

    p_build = sub.add_parser("build", help="build (or pull) the images of a selection, nothing else")
    _selection_args(p_build)
    _environment_args(p_build)
    p_build.add_argument("--offline-check", action="store_true",
                         help="build nothing: list the instances that can't be built without a registry or GitHub, "
                              "and why")
    p_build.set_defaults(func=cmd_build)

    p_sum = sub.add_parser("summary", help="print the summary table of a finished or running run")
    p_sum.add_argument("run_dir", type=Path)
    p_sum.set_defaults(func=cmd_summary)

    p_models = sub.add_parser("models", help="list the registered models (models.toml) and whether their keys are set")
    _models_file_arg(p_models)
    p_models.add_argument("--check", metavar="NAME", help="exit 2, naming the variable to set, if NAME's key is missing")
    p_models.set_defaults(func=cmd_models)

    p_serve = sub.add_parser("serve", help="launch a local model server (vLLM/SGLang) until Ctrl-C")
    p_serve.add_argument("serve_model", metavar="MODEL", help="a models.toml entry with a [serve] section")
    _models_file_arg(p_serve)
    p_serve.add_argument("--serve-command", help="launch command to use instead of the registry's ({port}, {model}, "
                                                 "{hf_model}, {tp}, {max_model_len}, {host} are filled in)")
    p_serve.add_argument("--log", type=Path, help="server log (default: <cache>/serve/<MODEL>.log)")
    p_serve.add_argument("--startup-timeout", type=float, help="seconds to wait for /v1/models (default: registry's)")
    p_serve.set_defaults(func=cmd_serve)

    p_report = sub.add_parser("report", help="the leaderboard site over runs, with SWE-bench exports")
    p_report.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR",
                          help="run folders, or folders of runs (e.g. reports/); runs of the same model, agent "
                               "and dataset given together are attempts (pass@k)")
    p_report.add_argument("--out", type=Path, default=Path("reports/site"), help="default: reports/site/")
    p_report.add_argument("--title", default="SWE-bench leaderboard")
    p_report.add_argument("--compare", nargs=2, type=Path, metavar=("BASE", "NEW"),
                          help="show the paired comparison of two runs on the leaderboard")
    p_report.add_argument("--alpha", type=float, default=0.05, help="for --compare (default 0.05)")
    p_report.add_argument("--max-drop", type=int, help="for --compare: net instances NEW may lose")
    p_report.add_argument("--experiments", type=Path, metavar="DIR",
                          help="also export each run in SWE-bench's experiments layout under DIR")
    p_report.add_argument("--no-attempts", action="store_true",
                          help="runs of one system are not attempts (e.g. a nightly history): no pass@k table")
    p_report.set_defaults(func=cmd_report)

    p_cmp = sub.add_parser("compare", help="paired comparison of two runs (McNemar); exit 1 on a regression")
    p_cmp.add_argument("base", type=Path, metavar="BASE")
    p_cmp.add_argument("new", type=Path, metavar="NEW")
    p_cmp.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p_cmp.add_argument("--max-drop", type=int, help="fail when NEW loses more than this many instances net")
    p_cmp.add_argument("--out", type=Path, help="also write the markdown summary to this file")
    p_cmp.set_defaults(func=cmd_compare)

    for p in (p_eval, p_tasks, p_build, p_sum, p_models, p_serve, p_report, p_cmp, p_val):
        p.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def _selection_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tasks")
    g.add_argument("--dataset", default="builtin",
                   help="builtin | verified | lite | full | HF name | path to .jsonl/.json/.parquet")
    g.add_argument("--split", default="test")
    g.add_argument("--instance-ids", action="append", default=[], metavar="IDS",
                   help="comma-separated ids; repeatable")
    g.add_argument("--repos", action="append", default=[], metavar="REPOS", help="owner/name, comma-separated")
    g.add_argument("--filter", dest="regex", help="regex on instance_id")
    g.add_argument("--slice", help="python slice of the selection, e.g. 0:10")
    g.add_argument("--shuffle", action="store_true")
    g.add_argument("--seed", type=int, default=0)


def _environment_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("environments")
    g.add_argument("--specs", action="append", type=Path, default=[], help="extra spec TOML file(s)")
    g.add_argument("--repo-mirror", action="append", type=Path, default=[],
                   help="folder of bare git mirrors (owner__name.git), for air-gapped sites")
    g.add_argument("--cache-dir", type=Path,
                   default=Path(os.environ.get("EVALHARNESS_CACHE", Path.home() / ".cache" / "evalharness")))
    g.add_argument("--no-pull", action="store_true", help="never pull from a registry (air-gapped)")
    g.add_argument("--namespace", help="pull official SWE-bench images from this namespace (swebench = Docker Hub's); "
                                       "default: use an official image only if present locally, else build")
    g.add_argument("--base-image", help="upstream image for the base layer (default python:<ver>-slim)")
    g.add_argument("--ca-bundle", type=Path, help="CA bundle to inject into images (default: the host's)")
    g.add_argument("--no-host-ca", action="store_true", help="do not inject the host's CA bundle")
    g.add_argument("--build-workers", type=_positive_int, default=2, help="image builds in parallel")
    g.add_argument("--allow-network", action="store_true", help="give agent and test containers network")
    g.add_argument("--memory", help="memory limit per agent/test container, e.g. 8g (default 4g; none: no limit)")
    g.add_argument("--cpus", help="CPU quota per agent/test container, e.g. 2 (default: the host's cores; 0: no quota)")
    g.add_argument("--pids", help="process/thread limit per agent/test container (default 4096; none: no limit)")


def _executor_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--workers", type=_positive_int, default=1,
                   help="agent sessions at once (default 1); they mostly wait on the model, so this can be high "
                        "(--executor ray: each node's `docker` resource sets it instead)")
    g.add_argument("--start-rate", type=_non_negative_float,
                   help="instances started per second as the run begins (default 16; 0: all at once); sessions "
                        "started together stay in step and load the machine in bursts, turn after turn")
    g.add_argument("--eval-workers", type=_non_negative_int, default=0,
                   help="test runs at once, per machine (CPU-bound; default: its number of cores)")
    g.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local threads (default), or one Ray task per instance on nodes with Docker")
    g.add_argument("--ray-address", help="Ray cluster to join (e.g. ray://head:10001 or auto; "
                                         "default: $RAY_ADDRESS, else a new local cluster)")
    g.add_argument("--registry", help="registry (host:port[/prefix]) through which nodes share the images they build")
    g.add_argument("--max-attempts", type=_positive_int, default=3,
                   help="--executor ray: tries per instance when its worker or node dies (default 3)")
    g.add_argument("--llm-concurrency", type=_positive_int,
                   help="model requests in flight at once, across all workers (default: no limit)")
    g.add_argument("--llm-rpm", type=_positive_int,
                   help="model requests per minute, across all workers (default: no limit)")


def _models_file_arg(p) -> None:
    p.add_argument("--models", dest="models_files", action="append", type=Path, default=[],
                   help="your own models.toml (entries win over the packaged ones)")


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (llm and installed agents)")
    g.add_argument("--model", default="", help="a models.toml entry (e.g. qwen3-coder), or a model id with --base-url")
    g.add_argument("--base-url", help="any OpenAI-compatible endpoint (.../v1)")
    g.add_argument("--model-id", help="model id to send, overriding the registry's")
    g.add_argument("--tool-mode", choices=["native", "qwen3_xml"], help="override the registry's tool-call mode")
    _models_file_arg(g)
    g.add_argument("--max-turns", type=_positive_int, default=100, help="model calls per instance (default 100)")
    g.add_argument("--max-cost", type=float, default=3.0, help="USD per instance, 0 = no limit (default 3)")
    g.add_argument("--agent-timeout", type=float, default=3600, help="seconds per instance's agent phase (default 3600)")
    g.add_argument("--command-timeout", type=float, default=120, help="seconds per agent command (default 120)")
    g.add_argument("--agent-disk-limit", help="installed agents: what a CLI may write to its container's disk, "
                                              "e.g. 2g (default 10g); past it the CLI is stopped")
    g.add_argument("--serve", action="store_true",
                   help="launch the model's local server (vLLM/SGLang, from its [serve] entry) for the run")


# ---- commands ---------------------------------------------------------------------------
def cmd_tasks(args) -> int:
    tasks = _select(args, required=False)
    for t in tasks:
        print(f"{t.instance_id:<40} {t.repo:<28} {t.version:<8} F2P={len(t.FAIL_TO_PASS):<3} P2P={len(t.PASS_TO_PASS)}")
    print(f"{len(tasks)} task(s)", file=sys.stderr)
    return 0


def cmd_build(args) -> int:
    from evalharness.core.errors import EnvBuildError

    tasks = _select(args)
    builder, specs, _ = _environment(args)
    if args.offline_check:
        return _offline_check(tasks, builder, specs)
    failed = 0
    for task in tasks:
        try:
            spec = specs.get(task.repo, task.version) if (task.repo, task.version) in specs else None
            tag = builder.image_for(task, spec, log.debug).tag
            print(f"{task.instance_id}: {tag}")
        except (EnvBuildError, UserError) as exc:
            failed += 1
            print(f"{task.instance_id}: FAILED: {exc}")
    return 1 if failed else 0


def cmd_eval(args) -> int:
    from evalharness.agents import INSTALLED, get_agent
    from evalharness.run.pipeline import DEFAULT_START_RATE
    from evalharness.run.runner import RunConfig, Runner, summarize

    tasks = _select(args)
    args.agent = args.agent or ("llm" if args.model or args.base_url else "gold")
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
    make_scorer, flaky = _scorer_factory(args)
    make_scorer()  # an unknown scorer fails now
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
    )
    if ray:
        runner = Runner(config, executor=_ray_executor(args, config, make_agent, make_scorer))
    else:
        builder, specs, client = _environment(args)
        runner = Runner(config, client=client, builder=builder, specs=specs, agent=agent, scorer=make_scorer())
    with _sigterm_as_ctrl_c(), _served(args, agent, config.run_dir):
        outcome = runner.run(tasks, progress=not args.no_progress)
    if outcome.skipped:
        print(f"resumed: {outcome.skipped} instance(s) were already done (use --redo to run them again)")
    print(summarize(outcome.records))
    if limiter is not None:
        print(_backpressure(limiter.stats()))
    print(f"\nresults: {outcome.run_dir / 'results.parquet'}\nlogs:    {outcome.run_dir / 'logs'}")
    return 0


def _scorer_factory(args):
    """A picklable factory of the run's scorer (with its flaky list under --flaky), and what run.json says of it."""
    from evalharness.scorers import get_scorer

    if args.flaky is None:
        if args.flaky_policy:
            raise UserError("--flaky-policy needs --flaky FILE")
        return functools.partial(get_scorer, args.scorer), {}
    if args.scorer != "tests":
        raise UserError(f"--flaky works with the tests scorer, not {args.scorer!r}")
    from evalharness.scorers.tests_scorer import FLAKY_FLAG, TestScorer
    from evalharness.run.validate import read_flaky_file

    tests = read_flaky_file(args.flaky)
    policy = args.flaky_policy or FLAKY_FLAG
    recorded = {"flaky": {"file": str(args.flaky), "policy": policy, "instances": len(tests),
                          "tests": sum(len(v) for v in tests.values())}}
    return functools.partial(TestScorer, flaky=tests, flaky_policy=policy), recorded


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


def _offline_check(tasks, builder, specs) -> int:
    groups: dict[str, list[str]] = {}
    for task in tasks:
        spec = specs.get(task.repo, task.version) if (task.repo, task.version) in specs else None
        problem = builder.offline_problem(task, spec)
        if problem:
            groups.setdefault(problem, []).append(task.instance_id)
    blocked = sum(len(ids) for ids in groups.values())
    print(f"{len(tasks) - blocked} of {len(tasks)} instance(s) can be built offline; {blocked} can't")
    for reason, ids in sorted(groups.items(), key=lambda item: -len(item[1])):
        print(f"\n{len(ids):>5}  {reason}\n       {', '.join(ids)}")
    return 1 if blocked else 0


def cmd_validate(args) -> int:
    from evalharness.scorers import get_scorer
    from evalharness.run.validate import validate

    tasks = _select(args)
    builder, specs, client = _environment(args)
    root = args.reports_dir / (args.run_id or default_run_id("validate", "", args.dataset, args.split))
    report = validate(tasks, root=root, dataset=args.dataset, client=client, builder=builder, specs=specs,
                      scorer_factory=lambda: get_scorer("tests"), workers=args.workers, redo=args.redo,
                      limits=_limits(args), progress=not args.no_progress, repeats=args.repeats)
    print(report.text())
    print(f"\nreport: {root / 'validation.json'} (table: {root / 'validation.md'})")
    if args.repeats > 1:
        print(f"flaky:  {root / 'flaky.json'} (eval --flaky {root / 'flaky.json'})")
    return 1 if report.problems else 0


def cmd_summary(args) -> int:
    from evalharness.core.results import ResultStore
    from evalharness.run.runner import summarize

    if not args.run_dir.is_dir():
        raise UserError(f"no run at {args.run_dir}")
    print(summarize(list(ResultStore(args.run_dir).load().values())))
    return 0


def cmd_report(args) -> int:
    from evalharness.report.compare import compare_dirs
    from evalharness.report.exports import export_experiments
    from evalharness.report.load import expand_run_dirs, load_run
    from evalharness.report.site import build_site

    runs = [load_run(path) for path in expand_run_dirs(args.run_dirs)]
    comparison = compare_dirs(*args.compare, alpha=args.alpha, max_drop=args.max_drop) if args.compare else None
    index = build_site(runs, args.out, comparison=comparison, title=args.title, attempts=not args.no_attempts)
    for run in runs:
        note = f" ({run.state}: {len(run.records)}/{run.planned})" if run.state != "complete" else ""
        print(f"{run.meta.run_id}: resolved {sum(r.resolved for r in run.records)}/{len(run.records)}{note}")
        if args.experiments:
            print(f"  experiments layout: {export_experiments(run, args.experiments)}")
    print(f"site: {index}")
    return 0


def cmd_compare(args) -> int:
    from evalharness.report.compare import compare_dirs
    from evalharness.core.results import atomic_write

    comparison = compare_dirs(args.base, args.new, alpha=args.alpha, max_drop=args.max_drop)
    markdown = comparison.to_markdown()
    print(markdown, end="")
    if args.out:
        atomic_write(args.out, markdown.encode("utf-8"))
    return 1 if comparison.regression else 0


def cmd_models(args) -> int:
    from evalharness.model.registry import ModelRegistry, api_key

    registry = ModelRegistry.load(args.models_files)
    if args.check:
        if args.check in registry:  # an unregistered id is a --base-url endpoint: eval checks it
            api_key(registry.get(args.check))
        return 0
    print(f"{'name':<24} {'tool mode':<10} {'key':<22} {'model id':<42} endpoint")
    for name in registry.names():
        m = registry.get(name)
        key = m.api_key_env or "(none)"
        if m.api_key_env:
            try:
                api_key(m)  # the environment, then .env
                key += " set"
            except UserError:
                key += " unset"
        print(f"{name:<24} {m.tool_mode:<10} {key:<22} {m.model:<42} {m.base_url}")
    return 0


def cmd_serve(args) -> int:
    """Foreground server: ready message, then wait; Ctrl-C or SIGTERM stops the whole process group."""
    from evalharness.model.registry import ModelRegistry
    from evalharness.model.serve import Server, parse_command

    config = ModelRegistry.load(args.models_files).get(args.serve_model)
    cache = Path(os.environ.get("EVALHARNESS_CACHE", Path.home() / ".cache" / "evalharness"))
    log_path = args.log or cache / "serve" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', config.name)}.log"
    command = parse_command(args.serve_command) if args.serve_command else None
    server = Server(config, log_path=log_path, command=command, startup_timeout=args.startup_timeout)

    print(f"starting {config.name}: {' '.join(server.command)}\nlog: {log_path}", flush=True)
    ready = False
    with _sigterm_as_ctrl_c():
        try:
            server.start()
            ready = True
            print(f"serving {config.model} at {server.base_url} (Ctrl-C stops it)", flush=True)
            code = server.wait()
            print(f"evalharness: error: the server exited with code {code}; log: {log_path}\n{server.log_tail()}",
                  file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("stopping the server", file=sys.stderr, flush=True)
            return 0 if ready else 130
        finally:
            server.stop()


@contextmanager
def _sigterm_as_ctrl_c():
    """SIGTERM (`kill`, `timeout`, a scheduler stopping the job) ends the command as Ctrl-C does:
    what is in flight is stopped and cleaned up, what finished is kept."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (the CLI called from a program's thread): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---- helpers ----------------------------------------------------------------------------
def _select(args, *, required: bool = True):
    """The tasks the selection flags pick; an empty pick is a user error unless just listing."""
    from evalharness.tasks.datasets import TaskFilter, apply_filter, load_tasks

    tasks = load_tasks(args.dataset, split=args.split)
    flt = TaskFilter(
        instance_ids=tuple(_split_csv(args.instance_ids)),
        repos=tuple(_split_csv(args.repos)),
        regex=args.regex,
        slice=args.slice,
        shuffle=args.shuffle,
        seed=args.seed,
    )
    selected = apply_filter(tasks, flt)
    if required and not selected:
        what = "has no tasks" if not tasks else "selects none of its tasks"
        raise UserError(f"{args.dataset}: the selection {what}; nothing to run")
    return selected


def _environment(args):
    """(image builder, specs, Docker client) for a run on this machine."""
    import docker

    from evalharness.env.images import ImageBuilder

    build, sources, specs = _build_setup(args)
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise UserError(
            f"cannot reach the Docker engine ({str(exc)[:200]}); start it (e.g. `make docker`, or `dockerd &`)"
        ) from None
    return ImageBuilder(client, build, sources), specs, client


def _build_setup(args):
    """(build settings, repo sources, specs): plain data, so that Ray nodes can build from it too."""
    from evalharness.tasks.datasets import default_tasks_dir
    from evalharness.env.images import BuildConfig
    from evalharness.tasks.repos import BuiltinRepos, GitHubRepos, MirrorRepos
    from evalharness.tasks.specs import SpecRegistry

    tasks_dir = default_tasks_dir()
    specs = SpecRegistry.from_files([tasks_dir / "specs.toml", tasks_dir / "swebench_specs.toml", *args.specs])
    for mirror in args.repo_mirror:
        if not mirror.is_dir():
            raise UserError(f"--repo-mirror {mirror}: not a folder")
    if args.ca_bundle and not args.ca_bundle.is_file():
        raise UserError(f"--ca-bundle {args.ca_bundle}: no such file")
    default = BuildConfig(cache_dir=args.cache_dir)
    config = BuildConfig(
        cache_dir=args.cache_dir,
        ca_bundle=None if args.no_host_ca else (args.ca_bundle or default.ca_bundle),
        pip_env=BuildConfig.pip_env_from(dict(os.environ)),
        pull=not args.no_pull,
        base_image=args.base_image,
        max_parallel_builds=args.build_workers,
        namespace=None if (args.namespace or "none").lower() == "none" else args.namespace,
        registry=getattr(args, "registry", None),
    )
    sources = [
        BuiltinRepos(tasks_dir / "repos", args.cache_dir),
        *(MirrorRepos(m) for m in args.repo_mirror),
        GitHubRepos(args.cache_dir),
    ]
    return config, sources, specs


def _limits(args):
    from evalharness.env.docker import ContainerLimits

    return ContainerLimits(network=args.allow_network, memory=args.memory, cpus=args.cpus, pids=args.pids)


def _agent_options(args) -> dict:
    return {"model": args.model, "base_url": args.base_url, "model_id": args.model_id, "tool_mode": args.tool_mode,
            "models_files": tuple(args.models_files), "max_turns": args.max_turns, "max_cost": args.max_cost,
            "max_seconds": args.agent_timeout, "command_timeout": args.command_timeout,
            **({"agent_disk_limit": args.agent_disk_limit} if getattr(args, "agent_disk_limit", None) else {})}


def default_run_id(agent: str, model: str, dataset: str, split: str) -> str:
    """Deterministic, so running the same command again resumes the same run."""
    path = Path(dataset)
    if path.suffix:  # a file: its folder says which dataset (SWE-bench_Verified/test.parquet)
        name = f"{path.parent.name}-{path.stem}" if path.parent.name else path.stem
    elif "/" in dataset:
        name = f"{dataset}-{split}"
    else:
        name = dataset
    who = f"{agent}-{model}" if model else agent
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{who}__{name}")


def _split_csv(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError("must be 0 or more" if least == 0 else f"must be at least {least}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("must be a finite number, 0 or more")
    return value


def _non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)

