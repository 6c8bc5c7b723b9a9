"""Docker failing under a run: each fault ends as a recorded status with its reason, retried where that helps.

The faults are done to a private Docker daemon that this module starts (its own data root on a
small tmpfs, exec root, socket, pidfile, containerd, cgroup parent and bridge; no iptables), never
to the engine other work is using: the images it needs are copied in with `docker save | docker load`.
Not `--bridge=none`: a dockerd started so deletes the host's docker0, the main engine's bridge.

- the daemon restarted while an agent works: the instance waits for it, is tried again, resolves;
  without retries it is a harness_error saying the daemon went away; the run goes on
- an agent's container killed from outside: retried once, resolves; an agent that kills its own
  container every time stops after that one retry, as a harness_error naming the container
- the instance image removed after it was built, or while the agent runs: rebuilt, resolves
- a build that fills the disk: env_build_failed with "no space left on device", nothing of the
  build left behind, and the next instance resolves
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import docker
import docker.errors
import pytest
import requests

from evalharness.agents.base import AgentResult
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.agents.patch import collect_patch
from evalharness.env.images import LABEL, BuildConfig, ImageBuilder, _BuildTrace
from evalharness.run.pipeline import InstancePipeline, RunConfig, docker_failure
from evalharness.tasks.repos import BuiltinRepos
from evalharness.run.runner import Runner
from evalharness.scorers import get_scorer
from evalharness.tasks.specs import SpecRegistry

TASKS = {t.instance_id: t for t in load_tasks("builtin")}
LOADED = ("evalharness__confini-1", "evalharness__confini-2")  # their images are copied into the private daemon
DATA_SIZE = "1200m"  # the private daemon's disk: the images (~0.5 GB) and some room
START_TIMEOUT = 120.0  # seconds for the private daemon to answer (a bound, not a measurement)


class PrivateDocker:
    """A dockerd of our own: `start`, `stop`, `restart`, `client`; every path under one folder."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.exec_root = root / "x"  # short: containerd's socket path must fit in 108 bytes
        self.sock = root / "d.sock"
        self.pidfile = root / "dockerd.pid"
        self.log = root / "dockerd.log"
        self.config = root / "daemon.json"
        self.cgroup = f"/evalharness-faults-{root.name}"
        self.bridge = f"ehf{secrets.token_hex(4)}"  # its own: see the module docstring
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def client(self, timeout: int = 120) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def make_bridge(self) -> None:
        """A bridge of the daemon's own, on a /24 no route of the host uses (builds' RUN steps attach to it)."""
        routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
        used = [ipaddress.ip_network(line.split()[0]) for line in routes.splitlines()
                if line and line.split()[0][0].isdigit()]
        subnet = next(net for net in ipaddress.ip_network("10.222.0.0/16").subnets(new_prefix=24)
                      if not any(net.overlaps(u) for u in used))
        subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", f"{next(subnet.hosts())}/24", "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)

    def start(self) -> None:
        self.config.write_text("{}\n")
        argv = ["dockerd", "--config-file", str(self.config), "--data-root", str(self.data),
                "--exec-root", str(self.exec_root), "--pidfile", str(self.pidfile), "-H", self.url,
                "--bridge", self.bridge, "--iptables=false", "--ip-masq=false", "--ip6tables=false",
                "--cgroup-parent", self.cgroup, "--storage-driver", "overlay2", "--log-level", "warn"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"the private dockerd exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                self.client(timeout=10).close()  # the client asks the daemon's API version: it answers
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    pytest.fail(f"the private dockerd did not answer within {START_TIMEOUT:g} s:\n{self.log_tail()}")
                time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM, as `systemctl stop docker` does (it stops its containers and its containerd)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._kill_leftovers()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _kill_leftovers(self) -> None:
        """containerd and shims this daemon started, should any outlive it (their command lines name our folder)."""
        mine = str(self.root)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if mine in cmdline:
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def cleanup(self) -> None:
        self.stop()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for point in sorted((m for m in mounts if m == str(self.root) or m.startswith(f"{self.root}/")),
                            key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        for controller in Path("/sys/fs/cgroup").iterdir():
            group = controller / self.cgroup.lstrip("/")
            if group.is_dir():
                for folder in sorted(group.rglob("*"), key=lambda p: len(p.parts), reverse=True) + [group]:
                    if folder.is_dir():
                        try:
                            folder.rmdir()
                        except OSError:
                            pass


@pytest.fixture(scope="module")
def specs() -> SpecRegistry:
    return SpecRegistry.from_files([default_tasks_dir() / "specs.toml"])


@pytest.fixture(scope="module")
def private_docker(docker_client, cache_dir, specs):
    """The private daemon, with the images of LOADED (instance, env, base) copied from the main one."""
    if os.geteuid() != 0:
        pytest.fail("the Docker fault tests start their own dockerd and mount a tmpfs: run them as root")
    main_builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir),
                                [BuiltinRepos(default_tasks_dir() / "repos", cache_dir)])
    tags = set()
    for instance_id in LOADED:
        task = TASKS[instance_id]
        spec = specs.get(task.repo, task.version)
        tags |= {main_builder.instance_image(task, spec), main_builder._env_tag(spec),
                 main_builder._base_tag(spec.python)}
    daemon = PrivateDocker(Path(tempfile.mkdtemp(prefix="ehf-", dir="/tmp")))
    links = host_links()
    try:
        daemon.data.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DATA_SIZE}", "tmpfs", str(daemon.data)], check=True)
        daemon.make_bridge()
        daemon.start()
        assert host_links() == links | {daemon.bridge}, "the private dockerd changed the host's network links"
        copy = subprocess.run(f"docker save {' '.join(sorted(tags))} | docker -H {daemon.url} load",
                              shell=True, capture_output=True, text=True)
        assert copy.returncode == 0, copy.stderr
        yield daemon
    finally:
        daemon.cleanup()
    assert host_links() == links, "the private dockerd changed the host's network links (docker0?)"


def host_links() -> set[str]:
    """The host's network interfaces (the main engine's docker0 among them)."""
    return {entry.name for entry in Path("/sys/class/net").iterdir()}


@pytest.fixture
def private(private_docker):
    """A client of the private daemon; afterwards, no container of the test is left and the daemon is up."""
    if private_docker.proc is None or private_docker.proc.poll() is not None:
        private_docker.start()
    client = private_docker.client()
    yield client
    for container in client.containers.list(all=True):
        container.remove(force=True)
    client.close()


def make_builder(client, cache_dir) -> ImageBuilder:
    """The same tags as the main engine's builder (same settings), never pulling."""
    return ImageBuilder(client, BuildConfig(cache_dir=cache_dir, pull=False),
                        [BuiltinRepos(default_tasks_dir() / "repos", cache_dir)])


def run(client, builder, specs, agent, tasks, reports: Path, run_id: str, workers: int = 1):
    config = RunConfig(run_id=run_id, dataset="builtin", agent=agent.name, workers=workers, reports_dir=reports)
    runner = Runner(config, client=client, builder=builder, specs=specs, agent=agent, scorer=get_scorer("tests"))
    outcome = runner.run(tasks, progress=False)
    return {r.instance_id: r for r in outcome.records}


class WorkingAgent:
    """Works in the container for a while (commands, a file), then applies the gold patch.

    `hook(task, env, call)` runs first on each call (1-based per instance); with `busy`, the agent
    keeps running short commands until one fails (what a fault does to it) or `busy` seconds pass.
    """

    name = "working"

    def __init__(self, hook=None, busy: float = 0.0, busy_for: tuple[str, ...] = ()):
        self.hook = hook
        self.busy = busy
        self.busy_for = busy_for
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        self.working = threading.Event()

    def run(self, task, env):
        with self.lock:
            call = self.calls[task.instance_id] = self.calls.get(task.instance_id, 0) + 1
        assert env.exec("echo work > /tmp/work.txt && cat /tmp/work.txt").output == "work\n"
        if self.hook is not None:
            self.hook(task, env, call)
        if self.busy and call == 1 and task.instance_id in self.busy_for:
            self.working.set()
            deadline = time.monotonic() + self.busy
            while time.monotonic() < deadline:
                env.exec("sleep 0.2")  # fails once the fault hits: the exception leaves the agent
        env.write_file("/tmp/gold.patch", task.patch)
        applied = env.exec("git apply /tmp/gold.patch && rm /tmp/gold.patch")
        assert applied.ok, applied.output
        return AgentResult(patch=collect_patch(env.exec, task.base_commit), turns=1)


def in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def infrastructure_log(reports: Path, run_id: str, instance_id: str) -> str:
    return (reports / run_id / "logs" / instance_id / "infrastructure.log").read_text()


# ---------------------------------------------------------------- the daemon restarted


@pytest.mark.docker
def test_daemon_restarted_mid_agent_is_retried_once_the_daemon_answers(private, private_docker, cache_dir, specs,
                                                                       tmp_path):
    first, second = (TASKS[i] for i in LOADED)
    agent = WorkingAgent(busy=600, busy_for=(first.instance_id,))

    def restart_when_working():
        if agent.working.wait(600):
            private_docker.restart()

    restarter = in_thread(restart_when_working)
    starts = private_docker.starts
    records = run(private, make_builder(private, cache_dir), specs, agent, [first, second], tmp_path, "restart",
                  workers=2)
    restarter.join(120)
    assert private_docker.starts == starts + 1  # it was restarted, once
    record = records[first.instance_id]
    assert record.status == "resolved", record.error
    assert record.attempt == 2 and agent.calls[first.instance_id] == 2
    log = infrastructure_log(tmp_path, "restart", first.instance_id)
    # what the agent met first depends on how far the daemon's shutdown got: the API gone, or its container stopped
    assert ("agent phase: the Docker daemon went away" in log
            or "agent phase: the agent container" in log and "the Docker daemon shutting down" in log), log
    assert "the Docker daemon answers" in log and "retry 1 of 1" in log
    other = records[second.instance_id]  # the run went on (it may have been caught by the restart too)
    assert other.status == "resolved", other.error
    assert private.containers.list(all=True, filters={"label": f"{LABEL}.run_id=restart"}) == []


@pytest.mark.docker
def test_daemon_restarted_without_retries_is_a_harness_error_saying_so(private, private_docker, cache_dir, specs,
                                                                       tmp_path):
    task = TASKS[LOADED[0]]
    agent = WorkingAgent(busy=600, busy_for=(task.instance_id,))
    restarter = in_thread(lambda: agent.working.wait(600) and private_docker.restart())
    config = RunConfig(run_id="restart-no-retry", dataset="builtin", agent=agent.name, reports_dir=tmp_path)
    pipeline = InstancePipeline(config, client=private, builder=make_builder(private, cache_dir), specs=specs,
                                agent=agent, scorer=get_scorer("tests"), infra_retries=0)
    record = pipeline.run(task, tmp_path / "logs")
    restarter.join(120)
    assert record.status == "harness_error" and not record.resolved
    assert record.error.startswith(("Docker failure in the agent phase: the Docker daemon went away",
                                    "Docker failure in the agent phase: the agent container ")), record.error
    assert "Docker daemon" in record.error
    assert record.attempt == 1 and agent.calls[task.instance_id] == 1
    assert (tmp_path / "logs" / task.instance_id / "infrastructure.log").exists()


# ---------------------------------------------------------------- a container killed


@pytest.mark.docker
def test_agent_container_killed_from_outside_is_retried_and_resolves(private, cache_dir, specs, tmp_path):
    task = TASKS[LOADED[0]]
    agent = WorkingAgent(busy=600, busy_for=(task.instance_id,))
    killed: list[str] = []

    def kill_when_working():
        if agent.working.wait(600):
            (container,) = private.containers.list(filters={"label": [f"{LABEL}.run_id=kill",
                                                                      f"{LABEL}.purpose=agent"]})
            container.kill()  # `docker kill`: SIGKILL
            killed.append(container.short_id)

    killer = in_thread(kill_when_working)
    records = run(private, make_builder(private, cache_dir), specs, agent, [task], tmp_path, "kill")
    killer.join(60)
    assert len(killed) == 1
    record = records[task.instance_id]
    assert record.status == "resolved", record.error
    assert record.attempt == 2 and agent.calls[task.instance_id] == 2
    log = infrastructure_log(tmp_path, "kill", task.instance_id)
    assert f"the agent container {killed[0]} was killed (SIGKILL) while in use" in log


@pytest.mark.docker
def test_agent_that_kills_its_own_container_is_retried_once_not_forever(private, cache_dir, specs, tmp_path):
    task = TASKS[LOADED[0]]

    def kill_pid_1(task, env, call):
        env.exec("kill 1; sleep 5")  # the container's init: the container stops

    agent = WorkingAgent(hook=kill_pid_1)
    records = run(private, make_builder(private, cache_dir), specs, agent, [task], tmp_path, "suicide")
    record = records[task.instance_id]
    assert agent.calls[task.instance_id] == 2 and record.attempt == 2
    assert record.status == "harness_error" and not record.resolved
    assert record.error.startswith("Docker failure in the agent phase: the agent container ")
    assert "while in use" in record.error and record.error.endswith("(also after 1 retry)")
    assert "exit code" in record.error


# ---------------------------------------------------------------- an image removed


@pytest.mark.docker
def test_image_removed_between_build_and_use_is_rebuilt(private, cache_dir, specs, tmp_path):
    task = TASKS[LOADED[0]]
    builder = make_builder(private, cache_dir)
    image_for = builder.image_for
    removed: list[str] = []

    def image_for_then_removed(task, spec, sink=None):
        image = image_for(task, spec, sink)
        if not removed:  # `docker rmi` by someone else, after the build and before the container starts
            private.images.remove(image.tag, force=True)
            removed.append(image.tag)
        return image

    builder.image_for = image_for_then_removed
    agent = WorkingAgent()
    records = run(private, builder, specs, agent, [task], tmp_path, "rmi")
    record = records[task.instance_id]
    assert record.status == "resolved", record.error
    assert record.attempt == 2 and agent.calls[task.instance_id] == 1  # it never got to the agent the first time
    assert "agent phase: an image the instance needs is gone" in infrastructure_log(tmp_path, "rmi", task.instance_id)
    build_log = (tmp_path / "rmi" / "logs" / task.instance_id / "build.log").read_text()
    assert f"building instance image {removed[0]}" in build_log
    private.images.get(removed[0])  # there again


@pytest.mark.docker
def test_image_removed_while_the_agent_runs_is_rebuilt_for_the_tests(private, cache_dir, specs, tmp_path):
    task = TASKS[LOADED[0]]
    builder = make_builder(private, cache_dir)

    def remove_image(task, env, call):
        private.images.remove(env.container.attrs["Config"]["Image"], force=True)  # untagged while in use

    agent = WorkingAgent(hook=remove_image)
    records = run(private, builder, specs, agent, [task], tmp_path, "rmi-mid")
    record = records[task.instance_id]
    assert record.status == "resolved", record.error
    assert record.attempt == 2 and agent.calls[task.instance_id] == 1  # the agent's work was kept: tests only
    assert "eval phase: an image the instance needs is gone" in infrastructure_log(tmp_path, "rmi-mid",
                                                                                    task.instance_id)


# ---------------------------------------------------------------- a full disk


@pytest.mark.docker
def test_build_that_fills_the_disk_is_env_build_failed_and_leaves_nothing(private, private_docker, cache_dir, specs,
                                                                          tmp_path):
    good = TASKS[LOADED[1]]
    base = TASKS[LOADED[0]]
    spec = specs.get(base.repo, base.version)
    filling = dataclasses.replace(base, instance_id="evalharness__confini-fill", version="fill")
    fill_spec = dataclasses.replace(spec, version="fill",
                                    install=(*spec.install, "head -c 8G /dev/zero > /var/tmp/fill"))
    registry = SpecRegistry([spec, fill_spec])
    images_before = {image.id for image in private.images.list(all=True)}
    free_before = shutil.disk_usage(private_docker.data).free

    records = run(private, make_builder(private, cache_dir), registry, WorkingAgent(), [filling, good], tmp_path,
                  "full")
    record = records[filling.instance_id]
    assert record.status == "env_build_failed"
    assert "no space left on device" in record.error
    assert "/var/tmp/fill" in (tmp_path / "full" / "logs" / filling.instance_id / "build_failure.log").read_text()
    assert records[good.instance_id].status == "resolved", records[good.instance_id].error  # the run went on
    # nothing of the failed build is left: no container, no intermediate image, the space is free again
    assert private.containers.list(all=True) == []
    assert {image.id for image in private.images.list(all=True)} == images_before
    assert shutil.disk_usage(private_docker.data).free > free_before - 100 * 1024 * 1024


# ---------------------------------------------------------------- no Docker: naming the failure


def _api_error(status: int, explanation: str, cls=docker.errors.APIError):
    response = requests.Response()
    response.status_code = status
    return cls(f"{status} Client Error", response=response, explanation=explanation)


def test_docker_failures_are_named_and_only_some_retried():
    try:  # a daemon that is not there, reached through docker-py as the harness does
        docker.APIClient(base_url="unix:///nonexistent/evalharness-faults.sock", version="1.41", timeout=5).ping()
    except requests.exceptions.ConnectionError as exc:
        gone = exc
    cases = {
        "daemon": gone,
        "image_removed": _api_error(404, "No such image: evalharness-instance:x", docker.errors.ImageNotFound),
        "container_removed": _api_error(404, "No such container: 0123abcd", docker.errors.NotFound),
        "container_exited": _api_error(409, "Container 0123abcd is not running"),
        "disk_full": _api_error(500, "write /var/lib/docker/x: no space left on device"),
    }
    for kind, exc in cases.items():
        failure = docker_failure(exc)
        assert failure is not None and failure.kind == kind, (kind, failure)
        assert failure.retry == (kind in ("daemon", "image_removed", "container_exited"))
    try:  # a cleanup error raised while handling a Docker failure keeps it in its context
        try:
            raise cases["container_exited"]
        except docker.errors.APIError:
            raise RuntimeError("cleanup failed")
    except RuntimeError as exc:
        assert docker_failure(exc).kind == "container_exited"
    # not Docker's: a plain error, and a connection error of the agent's own (not through docker-py)
    assert docker_failure(ValueError("bad patch")) is None
    assert docker_failure(requests.exceptions.ConnectionError("model server down")) is None
    assert docker_failure(_api_error(500, "OCI runtime create failed")) is None


def test_build_trace_finds_what_a_failed_build_made():
    trace = _BuildTrace()
    for chunk in ["Step 1/8 : FROM env AS repo", "\n", " ---> 21a018739429\n", "Step 2/8 : LABEL x=1", "\n",
                  " ---> Running in b274fdc17422\n", "Removing intermediate container b274fdc17422\n",
                  " ---> e293903091ef\n", "Step 3/8 : COPY --from=repo /one /one", "\n", " ---> 98adca13663a\n",
                  "Step 4/8 : RUN true", "\n", " ---> Using cache\n", " ---> 899a2dd99041\n",
                  "Step 5/8 : RUN head -c 8G /dev/zero > /fill", "\n", " ---> Running in 764e523724db\n",
                  "\x1b[91mhead: error writing '/fill': No space left", "\x1b[0m on device\n"]:
        trace.feed(chunk)
    assert trace.containers == ["764e523724db"]  # the failed step's; the others were removed already
    assert trace.images == ["e293903091ef", "98adca13663a"]  # not the FROM image, not the cached one
    assert trace.disk_full
