"""A multi-node Ray cluster on one machine, for the tests, the bench and a user trying it.

The Ray head runs on this host. Each worker "node" is a container with its own dockerd
(Debian's docker.io on the harness's own Debian image) and a Ray worker joined to the head,
offering the `docker` resource. Images go between the node engines through Debian's
docker-registry, run on this host; the node engines use it as an insecure registry. The
nodes run this host's Python and this virtual environment, mounted read-only, because Ray
needs the same Python and Ray on every node (on real machines: the same Python and
`pip install evalharness[ray]`). Everything it makes carries the label `evalharness.cluster`.

Kept in run/ (not in the executor) because it is set-up, not execution: the executor only
needs an address and a registry, which real clusters provide their own way.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

import docker
import docker.errors

from evalharness.core.errors import UserError
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.model.serve import port_open

CLUSTER_LABEL = "evalharness.cluster"
NODE_DOCKERFILE = """FROM {os_image}
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \\
      docker.io iptables ca-certificates procps && rm -rf /var/lib/apt/lists/*
LABEL {label}=node
"""
# The node's entry point: its engine, then the Ray worker in the foreground (the container
# lives as long as the worker).
NODE_COMMAND = """set -e
dockerd --storage-driver {storage} --insecure-registry {registry} --bip 10.199.0.1/24 \\
  --cgroup-parent {name} >/var/log/dockerd.log 2>&1 &
for i in $(seq 90); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null 2>&1 || {{ tail -20 /var/log/dockerd.log; exit 1; }}
exec {ray} start --address {address} --resources '{{"{resource}": {slots}}}' --num-cpus {cpus} \\
  --object-store-memory {store} --block --disable-usage-stats
"""
RAY_ENV = {"RAY_AUTH_MODE": "disabled"}  # a private Docker network; real clusters: token auth


@dataclass(frozen=True)
class ClusterSpec:
    nodes: int = 2
    prefix: str = "evalharness-cluster"  # names the network, the node containers and their volumes
    slots: int = 4  # the `docker` resource of each node: instances at once
    ray_port: int = 6390
    registry_port: int = 5055
    state_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "evalharness-cluster")
    suite: str = "bookworm"  # the Debian of the node image (docker.io from its archive)
    storage_driver: str = "overlay2"  # on a volume, so not overlay-on-overlay
    object_store_bytes: int = 256 * 2**20

    def node_name(self, i: int) -> str:
        return f"{self.prefix}-node-{i}"


@dataclass(frozen=True)
class ClusterInfo:
    address: str  # the Ray head's ip:port, for --ray-address
    registry: str  # host:port as the nodes reach it, for --registry
    local_registry: str  # the same registry as this host reaches it
    nodes: tuple[str, ...]

    def eval_args(self) -> list[str]:
        return ["--executor", "ray", "--ray-address", self.address, "--registry", self.registry]

    def driver_env(self) -> dict[str, str]:
        """The environment of a driver on this cluster: this process's, with the cluster's Ray auth
        mode (a RAY_AUTH_MODE=token left over from a local ray.init would make every task fail
        with OwnerDiedError: the nodes could not talk back to the driver)."""
        return {**os.environ, **RAY_ENV}


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _pid_alive(path: Path) -> int | None:
    """The pid in `path` (a process group leader this module started) while its group runs."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _group(pid) else None


def _stop_group(pgid: int, seconds: float = 10) -> None:
    """SIGTERM to a group this module started (its own session), SIGKILL to what outlives it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + seconds
        while _group(pgid) and time.monotonic() < deadline:
            time.sleep(0.3)
        if not _group(pgid):
            return


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise UserError(f"cluster: {what} within {seconds:.0f}s")
        time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def serve_registry(folder: Path, addr: str, out: IO[bytes] | int = subprocess.DEVNULL) -> subprocess.Popen:
    """Debian's docker-registry serving the images in `folder`/registry at `addr` (host:port),
    its output to `out`, in a session of its own (a Ctrl-C of the caller leaves it to its stop).
    Returns at once: whoever needs it waits for `http://addr/v2/` to answer."""
    exe = shutil.which("docker-registry")
    if exe is None:
        raise UserError("cluster: Debian's docker-registry is not installed (apt-get install docker-registry)")
    config = folder / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'registry'}\n"
                      f"  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n")
    return subprocess.Popen([exe, "serve", str(config)], stdout=out, stderr=out, start_new_session=True)


@contextmanager
def scratch_registry(folder: Path | None = None) -> Iterator[str]:
    """A registry of its own on a free loopback port, empty, for as long as the block runs (the
    bench's push, the tests' nodes sharing images); yields its host:port once it answers."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{sock.getsockname()[1]}"
    own = folder is None
    folder = Path(tempfile.mkdtemp(prefix="evalharness-registry-")) if own else folder
    proc = serve_registry(folder, addr)
    try:
        _wait(lambda: _answers(f"http://{addr}/v2/"), 30, f"a scratch registry did not answer at {addr}")
        yield addr
    finally:
        _stop_group(proc.pid)
        proc.wait()
        if own:
            shutil.rmtree(folder, ignore_errors=True)


def _mounts() -> list[str]:
    """This Python, this venv and (an editable install's) source tree: read-only on each node."""
    import evalharness

    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(evalharness.__file__).resolve().parents[1]}
    paths = {p for p in paths if not any(q != p and q in p.parents for q in paths)}
    binds = [f"{p}:{p}:ro" for p in sorted(paths)]
    ca = BuildConfig(cache_dir=Path()).ca_bundle  # the host's CA bundle (a proxy's CA in it): builds need it
    if ca is not None:
        binds.append(f"{ca}:{ca}:ro")
    return binds


class Cluster:
    """Up, down and the faults the tests inject, on this host's Docker engine."""

    def __init__(self, spec: ClusterSpec, client: docker.DockerClient | None = None,
                 say: Callable[[str], None] = lambda line: print(line, file=sys.stderr)):
        self.spec = spec
        self.client = client or docker.from_env(timeout=600)
        self.say = say
        self.state = spec.state_dir
        self.label = {CLUSTER_LABEL: spec.prefix}

    # ---- up ---------------------------------------------------------------------------
    def up(self) -> ClusterInfo:
        if self.spec.nodes < 1:
            raise UserError("cluster: --nodes must be at least 1")
        self.state.mkdir(parents=True, exist_ok=True)
        gateway = self._network()
        self._start_registry()
        self._start_head(gateway)
        registry = f"{gateway}:{self.spec.registry_port}"
        os_image = self._seed_os_image()
        image = self._node_image(os_image)
        names = tuple(self._node(i, image, gateway, registry) for i in range(1, self.spec.nodes + 1))
        for c in self.client.containers.list(all=True, filters={"label": f"{CLUSTER_LABEL}={self.spec.prefix}"}):
            if c.name not in names:  # scaled down
                self.say(f"removing node {c.name}")
                c.remove(force=True)
        info = ClusterInfo(f"{gateway}:{self.spec.ray_port}", registry, self.local_registry, names)
        self.wait_for_nodes(info, len(names))
        (self.state / "cluster.json").write_text(json.dumps({"address": info.address, "registry": registry}))
        return info

    @property
    def local_registry(self) -> str:
        return f"127.0.0.1:{self.spec.registry_port}"

    def _network(self) -> str:
        """The nodes' bridge network; its gateway is this host as the nodes see it."""
        nets = self.client.networks.list(names=[self.spec.prefix])
        net = nets[0] if nets else self.client.networks.create(self.spec.prefix, driver="bridge", labels=self.label)
        net.reload()
        return net.attrs["IPAM"]["Config"][0]["Gateway"]

    def _start_registry(self) -> None:
        url = f"http://{self.local_registry}/v2/"
        if _pid_alive(self.state / "registry.pid"):
            return
        if _answers(url):
            raise UserError(f"cluster: port {self.spec.registry_port} is taken by another registry "
                            f"(not this cluster's); pass --registry-port")
        with open(self.state / "registry.log", "ab") as out:
            proc = serve_registry(self.state, f"0.0.0.0:{self.spec.registry_port}", out)
        (self.state / "registry.pid").write_text(str(proc.pid))
        _wait(lambda: _answers(url), 30, f"the registry did not answer at {url} (see {self.state}/registry.log)")
        self.say(f"registry: {self.local_registry} (pid {proc.pid}, data in {self.state / 'registry'})")

    def stop_registry(self) -> None:
        """The registry goes away (a fault for the tests); `start_registry` brings it back, data kept."""
        pid = _pid_alive(self.state / "registry.pid")
        if pid:
            _stop_group(pid)

    start_registry = _start_registry

    def _start_head(self, gateway: str) -> None:
        if _pid_alive(self.state / "head.pid"):
            return
        if port_open(gateway, self.spec.ray_port):
            raise UserError(f"cluster: port {self.spec.ray_port} is taken (not by this cluster's Ray head)")
        ray = Path(sys.prefix) / "bin" / "ray"
        # Its own temp dir: a plain ray.init() elsewhere on this host must not find and join it.
        cmd = [str(ray), "start", "--head", "--block", "--node-ip-address", gateway, "--port", str(self.spec.ray_port),
               "--temp-dir", str(self.state / "ray"), "--num-cpus", "1", "--include-dashboard", "false",
               "--object-store-memory", str(self.spec.object_store_bytes), "--disable-usage-stats"]
        with open(self.state / "head.log", "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True, env={**os.environ, **RAY_ENV})
        (self.state / "head.pid").write_text(str(proc.pid))
        _wait(lambda: port_open(gateway, self.spec.ray_port), 90,
              f"the Ray head did not listen on {gateway}:{self.spec.ray_port} (see {self.state}/head.log)")
        self.say(f"ray head: {gateway}:{self.spec.ray_port} (pid {proc.pid})")

    def _seed_os_image(self) -> str:
        """The harness's Debian image (pulled or debootstrapped here), in the registry for the nodes."""
        builder = ImageBuilder(self.client, BuildConfig(cache_dir=self.state / "cache"), [])
        tag = builder.os_image(self.spec.suite, lambda line: None)
        remote = f"{self.local_registry}/{tag}"
        repo, version = remote.rsplit(":", 1)
        self.client.images.get(tag).tag(repo, version)
        for line in self.client.images.push(repo, tag=version, stream=True, decode=True):
            if line.get("error"):
                raise UserError(f"cluster: could not push {remote}: {line['error']}")
        return tag

    def _node_image(self, os_image: str) -> str:
        dockerfile = NODE_DOCKERFILE.format(os_image=os_image, label=CLUSTER_LABEL)
        base_id = self.client.images.get(os_image).id
        tag = f"evalharness-node:{hashlib.sha256((dockerfile + base_id).encode()).hexdigest()[:12]}"
        try:
            self.client.images.get(tag)
            return tag
        except docker.errors.ImageNotFound:
            pass
        self.say(f"building the node image {tag} (Debian's docker.io on {os_image})")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile.encode())
            tar.addfile(info, io.BytesIO(dockerfile.encode()))
        buf.seek(0)
        try:
            self.client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, forcerm=True)
        except docker.errors.BuildError as exc:
            raise UserError(f"cluster: the node image did not build: {exc}") from None
        return tag

    def _node(self, i: int, image: str, gateway: str, registry: str) -> str:
        name = self.spec.node_name(i)
        try:
            c = self.client.containers.get(name)
            if c.status == "running" and c.image.tags and image in c.image.tags:
                return name
            c.remove(force=True)
        except docker.errors.NotFound:
            pass
        command = NODE_COMMAND.format(storage=self.spec.storage_driver, registry=registry, name=name,
                                      ray=Path(sys.prefix) / "bin" / "ray", address=f"{gateway}:{self.spec.ray_port}",
                                      resource="docker", slots=self.spec.slots, cpus=os.cpu_count() or 1,
                                      store=self.spec.object_store_bytes)
        # Ray keeps idle workers up to the node's CPU count and kills the rest; instances take
        # no CPU (num_cpus=0), so without this each wave beyond 2 would start (and import the
        # harness in) fresh worker processes: ~20 s a wave here.
        node_env = {**RAY_ENV, "RAY_num_workers_soft_limit": str(self.spec.slots)}
        volume = f"{name}-docker"
        if not self.client.volumes.list(filters={"name": volume}):
            self.client.volumes.create(volume, labels=self.label)
        # Privileged minus CAP_SYS_RESOURCE (which this host's own bounding set may lack):
        # everything a dockerd inside needs, the host's cgroups included.
        self.client.containers.run(
            image, ["sh", "-c", command], name=name, hostname=name, detach=True, labels=self.label,
            network=self.spec.prefix, cap_add=["ALL"], cap_drop=["SYS_RESOURCE"], environment=node_env,
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            volumes=_mounts() + [f"{volume}:/var/lib/docker", "/sys/fs/cgroup:/sys/fs/cgroup"],
            shm_size=self.spec.object_store_bytes * 2, devices=["/dev/fuse"] if Path("/dev/fuse").exists() else [],
        )
        self.say(f"node {name} started")
        return name

    def wait_for_nodes(self, info: ClusterInfo, n: int, seconds: float = 180) -> None:
        """Until exactly `n` nodes offering `docker` are alive (asked from a separate process)."""
        probe = ("import ray,json;ray.init(address=%r,log_to_driver=False);"
                 "print(json.dumps(sorted(x['NodeManagerHostname'] for x in ray.nodes() "
                 "if x['Alive'] and x['Resources'].get('docker'))))" % info.address)

        def joined() -> bool:
            out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                 env={**os.environ, **RAY_ENV}, timeout=60)
            return out.returncode == 0 and len(json.loads(out.stdout.strip().splitlines()[-1] or "[]")) == n

        # Exactly n: a node just removed still counts as alive until its health checks fail
        # (~20 s), and Ray would send it work until then.
        _wait(joined, seconds, f"the Ray head did not see {n} node(s) alive (docker logs {self.spec.node_name(1)})")

    # ---- faults and down --------------------------------------------------------------
    def kill_node(self, i: int) -> None:
        self.client.containers.get(self.spec.node_name(i)).kill()

    def down(self) -> None:
        selector = {"label": f"{CLUSTER_LABEL}={self.spec.prefix}"}
        for c in self.client.containers.list(all=True, filters=selector):
            c.remove(force=True)
        for v in self.client.volumes.list(filters=selector):
            v.remove(force=True)
        for net in self.client.networks.list(names=[self.spec.prefix]):
            if (net.attrs.get("Labels") or {}).get(CLUSTER_LABEL) == self.spec.prefix:
                net.remove()
        for what in ("head", "registry"):
            pid = _pid_alive(self.state / f"{what}.pid")
            if pid:
                _stop_group(pid)  # its own session: the head's raylet, GCS, ... with it
            (self.state / f"{what}.pid").unlink(missing_ok=True)
        shutil.rmtree(self.state, ignore_errors=True)  # the registry's data, the head's logs


def main(argv: list[str] | None = None) -> int:
    """scripts/cluster-up and scripts/cluster-down."""
    import argparse

    parser = argparse.ArgumentParser(prog="cluster", description="a local multi-node Ray cluster (docs/SCALING.md)")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--nodes", type=int, default=ClusterSpec.nodes, help="worker nodes (containers)")
    parser.add_argument("--slots", type=int, default=ClusterSpec.slots, help="each node's `docker` resource")
    parser.add_argument("--prefix", default=ClusterSpec.prefix, help="names of its network and containers")
    parser.add_argument("--ray-port", type=int, default=ClusterSpec.ray_port)
    parser.add_argument("--registry-port", type=int, default=ClusterSpec.registry_port)
    args = parser.parse_args(argv)
    spec = ClusterSpec(nodes=args.nodes, slots=args.slots, prefix=args.prefix, ray_port=args.ray_port,
                       registry_port=args.registry_port,
                       state_dir=Path(tempfile.gettempdir()) / args.prefix)
    try:
        cluster = Cluster(spec)
        if args.action == "down":
            cluster.down()
            print(f"cluster {spec.prefix}: down")
            return 0
        started = time.monotonic()
        info = cluster.up()
    except (UserError, docker.errors.DockerException) as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 2
    print(f"cluster {spec.prefix}: {len(info.nodes)} node(s) up in {time.monotonic() - started:.0f}s: "
          f"{', '.join(info.nodes)}")
    auth = " ".join(f"{k}={v}" for k, v in RAY_ENV.items())
    print(f"{auth} evalharness eval " + " ".join(info.eval_args()) + " ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
