"""What the commands share: the task selection, the image builder and Docker client, container
limits, run names, and SIGTERM handled as Ctrl-C."""

from __future__ import annotations

import logging
import os
import re
import signal
from contextlib import contextmanager
from pathlib import Path

from evalharness.core.errors import UserError

log = logging.getLogger("evalharness")


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
    from evalharness.env.images import ImageBuilder

    build, sources, specs = _build_setup(args)
    client = _docker_client()
    return ImageBuilder(client, build, sources), specs, client


def _docker_client():
    """This machine's Docker engine, answering; a UserError saying how to start it if not."""
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise UserError(
            f"cannot reach the Docker engine ({str(exc)[:200]}); start it (e.g. `make docker`, or `dockerd &`)"
        ) from None
    return client


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
