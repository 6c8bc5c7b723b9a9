"""Command line: `evalharness eval|tasks|build|summary`. User mistakes print one line, no traceback."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from evalharness import __version__
from evalharness.errors import UserError

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
    except KeyboardInterrupt:
        print("evalharness: interrupted; finished instances are kept, run the same command to resume",
              file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evalharness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"evalharness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p_eval = sub.add_parser("eval", help="run an agent on tasks in Docker and grade it")
    _selection_args(p_eval)
    _environment_args(p_eval)
    p_eval.add_argument("--agent", default="gold", help="gold | empty | ... (default: gold)")
    p_eval.add_argument("--model", default="", help="model name, for model-backed agents")
    p_eval.add_argument("--scorer", default="tests", help="scorer (default: tests)")
    p_eval.add_argument("--workers", type=_positive_int, default=1, help="instances in parallel (default 1)")
    p_eval.add_argument("--run-id", help="name of the run; re-running the same id resumes it")
    p_eval.add_argument("--reports-dir", type=Path, default=Path("reports"), help="default: reports/")
    p_eval.add_argument("--redo", action="store_true", help="run instances again even if already done")
    p_eval.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_eval.set_defaults(func=cmd_eval)

    p_tasks = sub.add_parser("tasks", help="list the tasks a selection picks")
    _selection_args(p_tasks)
    p_tasks.set_defaults(func=cmd_tasks)

    p_build = sub.add_parser("build", help="build (or pull) the images of a selection, nothing else")
    _selection_args(p_build)
    _environment_args(p_build)
    p_build.set_defaults(func=cmd_build)

    p_sum = sub.add_parser("summary", help="print the summary table of a finished or running run")
    p_sum.add_argument("run_dir", type=Path)
    p_sum.set_defaults(func=cmd_summary)

    for p in (p_eval, p_tasks, p_build, p_sum):
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
    g.add_argument("--base-image", help="upstream image for the base layer (default python:<ver>-slim)")
    g.add_argument("--ca-bundle", type=Path, help="CA bundle to inject into images (default: the host's)")
    g.add_argument("--no-host-ca", action="store_true", help="do not inject the host's CA bundle")
    g.add_argument("--build-workers", type=_positive_int, default=2, help="image builds in parallel")
    g.add_argument("--allow-network", action="store_true", help="give agent and test containers network")
    g.add_argument("--memory", help="memory limit per container, e.g. 4g")
    g.add_argument("--cpus", type=float, help="CPU limit per container")


# ---- commands ---------------------------------------------------------------------------
def cmd_tasks(args) -> int:
    tasks = _select(args)
    for t in tasks:
        print(f"{t.instance_id:<40} {t.repo:<28} {t.version:<8} F2P={len(t.FAIL_TO_PASS):<3} P2P={len(t.PASS_TO_PASS)}")
    print(f"{len(tasks)} task(s)", file=sys.stderr)
    return 0


def cmd_build(args) -> int:
    from evalharness.errors import EnvBuildError

    tasks = _select(args)
    builder, specs, _ = _environment(args)
    failed = 0
    for task in tasks:
        try:
            tag = builder.instance_image(task, specs.get(task.repo, task.version), log.debug)
            print(f"{task.instance_id}: {tag}")
        except (EnvBuildError, UserError) as exc:
            failed += 1
            print(f"{task.instance_id}: FAILED: {exc}")
    return 1 if failed else 0


def cmd_eval(args) -> int:
    from evalharness.agents import get_agent
    from evalharness.containers import ContainerLimits
    from evalharness.runner import RunConfig, Runner, summarize
    from evalharness.scorers import get_scorer

    tasks = _select(args)
    agent = get_agent(args.agent, model=args.model)
    scorer = get_scorer(args.scorer)
    builder, specs, client = _environment(args)
    run_id = args.run_id or default_run_id(args.agent, args.model, args.dataset, args.split)
    config = RunConfig(
        run_id=run_id,
        dataset=args.dataset,
        agent=args.agent,
        model=args.model,
        workers=args.workers,
        redo=args.redo,
        reports_dir=args.reports_dir,
        limits=ContainerLimits(network=args.allow_network, memory=args.memory, cpus=args.cpus),
    )
    runner = Runner(config, client=client, builder=builder, specs=specs, agent=agent, scorer=scorer)
    outcome = runner.run(tasks, progress=not args.no_progress)
    if outcome.skipped:
        print(f"resumed: {outcome.skipped} instance(s) were already done (use --redo to run them again)")
    print(summarize(outcome.records))
    print(f"\nresults: {outcome.run_dir / 'results.parquet'}\nlogs:    {outcome.run_dir / 'logs'}")
    return 0


def cmd_summary(args) -> int:
    from evalharness.results import ResultStore
    from evalharness.runner import summarize

    if not args.run_dir.is_dir():
        raise UserError(f"no run at {args.run_dir}")
    print(summarize(list(ResultStore(args.run_dir).load().values())))
    return 0


# ---- helpers ----------------------------------------------------------------------------
def _select(args):
    from evalharness.datasets import TaskFilter, apply_filter, load_tasks

    tasks = load_tasks(args.dataset, split=args.split)
    flt = TaskFilter(
        instance_ids=tuple(_split_csv(args.instance_ids)),
        repos=tuple(_split_csv(args.repos)),
        regex=args.regex,
        slice=args.slice,
        shuffle=args.shuffle,
        seed=args.seed,
    )
    return apply_filter(tasks, flt)


def _environment(args):
    import docker

    from evalharness.datasets import default_tasks_dir
    from evalharness.images import BuildConfig, ImageBuilder
    from evalharness.repos import BuiltinRepos, GitHubRepos, MirrorRepos
    from evalharness.specs import SpecRegistry

    tasks_dir = default_tasks_dir()
    specs = SpecRegistry.from_files([tasks_dir / "specs.toml", *args.specs])
    for mirror in args.repo_mirror:
        if not mirror.is_dir():
            raise UserError(f"--repo-mirror {mirror}: not a folder")
    if args.ca_bundle and not args.ca_bundle.is_file():
        raise UserError(f"--ca-bundle {args.ca_bundle}: no such file")
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise UserError(
            f"cannot reach the Docker engine ({str(exc)[:200]}); start it (e.g. `make docker`, or `dockerd &`)"
        ) from None
    default = BuildConfig(cache_dir=args.cache_dir)
    config = BuildConfig(
        cache_dir=args.cache_dir,
        ca_bundle=None if args.no_host_ca else (args.ca_bundle or default.ca_bundle),
        pip_env=BuildConfig.pip_env_from(dict(os.environ)),
        pull=not args.no_pull,
        base_image=args.base_image,
        max_parallel_builds=args.build_workers,
    )
    sources = [
        BuiltinRepos(tasks_dir / "repos", args.cache_dir),
        *(MirrorRepos(m) for m in args.repo_mirror),
        GitHubRepos(args.cache_dir),
    ]
    return ImageBuilder(client, config, sources), specs, client


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


if __name__ == "__main__":
    sys.exit(main())
