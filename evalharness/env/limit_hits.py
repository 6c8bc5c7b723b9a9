"""How often a container ran into its memory and pids limits, read from its cgroup counters.

Running into a limit is not fatal (env/docker.py sets them): the runner records the counts on
the instance, so a report can say a test run was OOM-killed rather than that it failed.
"""

from __future__ import annotations

import logging

import docker.errors

log = logging.getLogger(__name__)

# Where the counters are, inside the container (its own cgroup is mounted at /sys/fs/cgroup,
# whatever the cgroup driver): file -> (limit, counter line). Memory: OOM kills, i.e. the limit
# was hit and reclaim could not help (memory.failcnt / memory.events "max" are not used: they
# also count the routine page-cache reclaim of any container that reads many files). Pids: forks
# refused at pids.max.
_CGROUP_COUNTERS = {
    "/sys/fs/cgroup/memory/memory.oom_control": ("memory", "oom_kill"),  # v1
    "/sys/fs/cgroup/pids/pids.events": ("pids", "max"),  # v1
    "/sys/fs/cgroup/memory.events": ("memory", "oom_kill"),  # v2
    "/sys/fs/cgroup/pids.events": ("pids", "max"),  # v2
}
# One process, no fork (a container at its pids limit can't fork; joining it is allowed), no shell.
_READ_COUNTERS = ["grep", "-H", "-s", "-E", "^(oom_kill|max) [0-9]+$", *_CGROUP_COUNTERS]


def read_limit_hits(env) -> dict[str, int]:
    """How often the container of `env` ran into its limits: {"memory": OOM kills, "pids": refused forks}.

    Only limits that were hit appear; {} when none was (or nothing could be read: logged, never
    raised). Reads the container's own cgroup counters (v1 or v2) with one `docker exec` of
    grep, which works whatever the container's own processes are doing (dead, hung, a fork bomb
    at its pids limit) and wherever the Docker engine is; if that exec fails (a command deleted
    grep, the container stopped), the counters are read from the host's /sys/fs/cgroup when the
    engine is local, and a stopped container's OOMKilled flag counts as one memory hit.
    """
    container = getattr(env, "container", None)
    if container is None:
        return {}
    try:
        hits = _counters_from_exec(container)
        if hits is None:
            hits = _counters_from_host(container)
        return {name: count for name, count in sorted((hits or {}).items()) if count > 0}
    except docker.errors.NotFound:  # removed under us (Ctrl-C's sweep): the instance is not kept anyway
        log.info("limit counters of %s: the container is gone", getattr(container, "short_id", "?"))
        return {}
    except Exception as exc:  # noqa: BLE001 - a record without counts beats a lost instance
        log.warning("could not read the limit counters of container %s: %s", getattr(container, "short_id", "?"), exc)
        return {}


def format_limit_hits(hits: dict[str, int]) -> str:
    """{"memory": 1, "pids": 3} -> "memory=1,pids=3"; "" when none was hit."""
    return ",".join(f"{name}={count}" for name, count in sorted(hits.items()) if count)


def _parse_counters(lines: list[tuple[str, str]]) -> dict[str, int]:
    """(file, "key value") pairs -> per limit, the first file's count (v1 before v2: never both)."""
    hits: dict[str, int] = {}
    for path, line in lines:
        limit, key = _CGROUP_COUNTERS.get(path, (None, None))
        name, _, value = line.strip().partition(" ")
        if limit and name == key and value.isdigit():
            hits.setdefault(limit, int(value))
    return hits


def _counters_from_exec(container) -> dict[str, int] | None:
    api = container.client.api
    try:
        exec_id = api.exec_create(container.id, _READ_COUNTERS, stdout=True, stderr=False, workdir="/")["Id"]
        output = api.exec_start(exec_id).decode("utf-8", "replace")
        code = api.exec_inspect(exec_id).get("ExitCode")
    except docker.errors.DockerException as exc:
        log.info("limit counters of %s: exec failed (%s); trying the host", container.short_id, exc)
        return None
    lines = [tuple(line.split(":", 1)) for line in output.splitlines() if ":" in line]
    if code not in (0, 1, 2) or not lines:  # 0, 1, 2: grep ran (2: some of the v1/v2 files don't exist)
        log.info("limit counters of %s: none read in the container (exit %s); trying the host", container.short_id, code)
        return None
    return _parse_counters(lines)


def _counters_from_host(container) -> dict[str, int] | None:
    """The same counters from the host's cgroup tree (a local engine), else the OOMKilled flag."""
    container.reload()
    state = container.attrs.get("State") or {}
    pid = state.get("Pid") or 0
    hits: dict[str, int] | None = None
    if state.get("Running") and pid:
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                membership = f.read()
        except OSError:  # a remote engine, or another pid namespace
            membership = ""
        lines: list[tuple[str, str]] = []
        for entry in membership.splitlines():
            _, controllers, path = entry.split(":", 2)
            if container.id not in path:  # not this container's process after all
                continue
            for inside in _CGROUP_COUNTERS:
                relative = inside.removeprefix("/sys/fs/cgroup/")
                folder, _, name = relative.rpartition("/")
                if folder and folder not in controllers.split(","):
                    continue
                if not folder and controllers:
                    continue
                host = f"/sys/fs/cgroup/{folder}{path}/{name}" if folder else f"/sys/fs/cgroup{path}/{name}"
                try:
                    with open(host) as f:
                        lines += [(inside, line) for line in f]
                except OSError:
                    pass
        hits = _parse_counters(lines) if lines else None
    if hits is None and state.get("OOMKilled"):
        hits = {"memory": 1}
    if hits is None:  # quiet for a container being removed (Ctrl-C's sweep): its instance is not kept
        removing = state.get("Status") in ("removing", "dead")
        (log.info if removing else log.warning)("could not read the limit counters of container %s%s",
                                                container.short_id, " (being removed)" if removing else "")
    return hits
