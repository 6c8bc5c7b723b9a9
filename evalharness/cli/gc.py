"""`evalharness gc`: the containers and networks of runs whose process is gone.

A run killed outright (kill -9, OOM, a reboot of the harness's machine) cannot remove its
containers; its own resume does, but a run that is never resumed leaves them running. A
container says which run folder it belongs to by its `run_key` label (a hash of the folder:
run/config.py), and a run is alive exactly while a process holds the lock in its folder
(run/runner.py), so gc looks for run folders under the reports folders it is given, and removes
the containers of those whose lock is free, holding that lock meanwhile (no run can start on
them while they go). Containers of runs it can't find (another reports folder, another
machine's driver, a harness too old to label them) are counted and left alone.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from evalharness.cli.common import _sigterm_as_ctrl_c
from evalharness.core.errors import UserError

log = logging.getLogger("evalharness")

EXAMPLE = """\
example:
  evalharness gc --dry-run               # what would go, and what is left alone (runs still running)
  evalharness gc --reports-dir reports --reports-dir /data/runs"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("gc", help="remove the containers and networks of runs whose process is gone (killed)",
                       epilog=EXAMPLE,
                       description="Remove the containers and networks left by runs whose process is gone\n"
                                   "(kill -9, OOM, a crash); containers of runs still running are left alone.")
    p.add_argument("--reports-dir", action="append", type=Path, metavar="DIR", default=[],
                   help="folder of run folders, as eval's --reports-dir; repeatable (default: reports)")
    p.add_argument("--dry-run", "-n", action="store_true", help="only say what would be removed")
    p.set_defaults(func=run)
    return p


@dataclass
class Leftovers:
    """The harness's containers on this engine, by whose they are."""

    dead: dict[Path, list[str]] = field(default_factory=dict)  # run folder -> container ids (process gone)
    networks: dict[Path, list[str]] = field(default_factory=dict)  # run folder -> network names (process gone)
    live: int = 0  # containers of runs being run right now
    unknown: int = 0  # containers of runs not found under the reports folders

    @property
    def dead_containers(self) -> int:
        return sum(map(len, self.dead.values()))

    @property
    def dead_networks(self) -> int:
        return sum(map(len, self.networks.values()))


def run(args: argparse.Namespace) -> int:
    from evalharness.cli.common import _docker_client

    dirs = args.reports_dir or [Path("reports")]
    client = _docker_client()
    with _sigterm_as_ctrl_c():
        found = find_leftovers(client, dirs)
        runs = sorted(set(found.dead) | set(found.networks))
        what = (f"{found.dead_containers} container(s) and {found.dead_networks} network(s) of {len(runs)} dead "
                f"run(s)" + (": " + ", ".join(f"{d} ({len(found.dead.get(d, []))})" for d in runs) if runs else ""))
        if not runs:
            print(f"no leftovers of dead runs under {', '.join(map(str, dirs))}")
        elif args.dry_run:
            print(f"would remove {what}; run without --dry-run to remove them")
        else:
            removed = remove_leftovers(client, runs)
            print(f"removed {removed} container(s) and the networks of {len(runs)} dead run(s): "
                  + ", ".join(map(str, runs)))
    if found.live:
        print(f"left alone: {found.live} container(s) of runs running now")
    if found.unknown:
        print(f"left alone: {found.unknown} container(s) of runs not under {', '.join(map(str, dirs))} "
              "(give their --reports-dir)")
    return 0


def find_leftovers(client, reports_dirs: Iterable[Path], exclude_keys: Iterable[str] = ()) -> Leftovers:
    """Sort the harness's containers (and sidecar networks) by run: dead, live or unknown.
    `exclude_keys`: run keys to leave out entirely (the run about to resume, which cleans its own)."""
    from evalharness.env.images import LABEL
    from evalharness.run.runner import lock_if_idle

    folders = run_folders(reports_dirs)
    excluded = set(exclude_keys)
    out = Leftovers()
    alive: dict[Path, bool] = {}

    def is_dead(folder: Path) -> bool:
        if folder not in alive:
            with lock_if_idle(folder) as idle:
                alive[folder] = not idle
        return not alive[folder]

    for container in client.api.containers(all=True, filters={"label": LABEL}):
        key = (container.get("Labels") or {}).get(f"{LABEL}.run_key", "")
        if key in excluded:
            continue
        folder = folders.get(key) if key else None
        if folder is None:
            out.unknown += 1
        elif is_dead(folder):
            out.dead.setdefault(folder, []).append(container["Id"])
        else:
            out.live += 1
    for network in client.api.networks(filters={"label": LABEL}):
        key = (network.get("Labels") or {}).get(f"{LABEL}.run_key", "")
        folder = folders.get(key) if key and key not in excluded else None
        if folder is not None and is_dead(folder):
            out.networks.setdefault(folder, []).append(network["Name"])
    return out


def remove_leftovers(client, runs: Iterable[Path]) -> int:
    """Remove the containers and networks of these run folders, each while holding its lock (a run
    that started meanwhile keeps its own). The number of containers removed."""
    from evalharness.env.docker import remove_run_containers
    from evalharness.run.runner import lock_if_idle

    removed = 0
    for folder in runs:
        with lock_if_idle(folder) as idle:
            if idle:
                removed += remove_run_containers(client, folder.name, run_key=run_key(folder))
    return removed


def leftovers_note(client, reports_dir: Path, exclude_key: str) -> str:
    """eval's one line at start-up about dead runs' containers ("" when there are none); never fails."""
    import docker

    if not Path(reports_dir).is_dir():
        return ""
    try:
        found = find_leftovers(client, [reports_dir], exclude_keys=[exclude_key])
    except (docker.errors.DockerException, OSError) as exc:
        log.debug("looking for dead runs' containers: %s", exc)
        return ""
    if not found.dead_containers:
        return ""
    more = "" if reports_dir == Path("reports") else f" --reports-dir {reports_dir}"
    return (f"{found.dead_containers} container(s) of {len(found.dead)} dead run(s) are still there; "
            f"`evalharness gc{more}` removes them")


def run_folders(reports_dirs: Iterable[Path]) -> dict[str, Path]:
    """run_key -> run folder, for the runs in these folders and one level down (validate's
    <name>/gold, <name>/empty)."""
    folders: dict[str, Path] = {}
    for root in map(Path, reports_dirs):
        if not root.is_dir():
            raise UserError(f"--reports-dir {root}: not a folder")
        for meta in [*root.glob("*/run.json"), *root.glob("*/*/run.json")]:
            folders[run_key(meta.parent)] = meta.parent
    return folders


def run_key(folder: Path) -> str:
    """The run_key label of a run folder's containers, as RunConfig computes it."""
    from evalharness.run.config import RunConfig

    folder = Path(folder)
    return RunConfig(run_id=folder.name, dataset="", agent="", reports_dir=folder.parent).run_key
