"""The container sandbox (issue 7.1) and per-container limits with recorded hits (issue 6.2).

Against the real Docker engine, in containers of a built-in task's instance image: no network
by default, never privileged, a fixed small capability set, no-new-privileges, no mounts; a
fork bomb, a memory hog and `rm -rf /` in one container leave the harness and a second
container unharmed, and `read_limit_hits` records the pids and memory limits they ran into.
"""

from __future__ import annotations

import hashlib
import ipaddress
import shlex
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import docker.errors
import pytest

from evalharness.cli import main
from evalharness.env.docker import (
    DEFAULT_MEMORY,
    DEFAULT_PIDS,
    KEPT_CAPABILITIES,
    ContainerLimits,
    DockerEnvironment,
    remove_run_containers,
    running_container,
)
from evalharness.env.limit_hits import _counters_from_host, _parse_counters, format_limit_hits, read_limit_hits
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.core.errors import UserError
from evalharness.env.images import LABEL, BuildConfig, ImageBuilder
from evalharness.tasks.repos import BuiltinRepos
from evalharness.tasks.specs import SpecRegistry

pytestmark = pytest.mark.docker

RUN_ID = "test-sandbox"
ROOT = Path(__file__).resolve().parents[1]
# The capabilities a container keeps, by number (linux/capability.h): CHOWN 0, DAC_OVERRIDE 1,
# FOWNER 3, FSETID 4, KILL 5, SETGID 6, SETUID 7. Pinned here, so widening the set fails a test.
EXPECTED_CAPS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7}
EXPECTED_CAP_MASK = sum(1 << bit for bit in EXPECTED_CAPS.values())  # 0xfb
# Container B's work while A misbehaves: the repo's own test suite, and a real allocation.
B_WORK = ("python -m pytest -q -p no:cacheprovider 2>&1 | tail -1 && "
          "python -c 'b = bytearray(200 << 20); b[::4096] = b\"x\" * len(b[::4096]); print(\"allocated\", len(b))'")


@pytest.fixture(scope="module")
def image(docker_client, cache_dir) -> str:
    task = load_tasks("builtin")[0]
    tasks_dir = default_tasks_dir()
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir), [BuiltinRepos(tasks_dir / "repos", cache_dir)])
    spec = SpecRegistry.from_files([tasks_dir / "specs.toml"]).get(task.repo, task.version)
    return builder.instance_image(task, spec)


@pytest.fixture(scope="module", autouse=True)
def no_leftovers(docker_client):
    yield
    left = docker_client.containers.list(all=True, filters={"label": f"{LABEL}.run_id={RUN_ID}"})
    remove_run_containers(docker_client, RUN_ID)
    assert left == [], "a test left containers behind"


@pytest.fixture
def start(docker_client, image):
    """start(name, **limits) -> a running DockerEnvironment, removed at the end of the test."""
    with ExitStack() as stack:
        def _start(name: str, **limits) -> DockerEnvironment:
            return stack.enter_context(running_container(docker_client, image, run_id=RUN_ID, instance_id=name,
                                                         purpose="test", limits=ContainerLimits(**limits)))

        yield _start


def _inspect(env: DockerEnvironment) -> dict:
    env.container.reload()
    return env.container.attrs


def _b_works(env: DockerEnvironment) -> None:
    result = env.exec(B_WORK, timeout=300)
    assert result.ok, result.output
    assert "passed" in result.output and "failed" not in result.output, result.output
    assert f"allocated {200 << 20}" in result.output, result.output


def _harness_ok() -> None:
    """The harness process can still start processes (host pids and memory are not exhausted)."""
    assert subprocess.run(["true"], check=False, timeout=60).returncode == 0
    assert bytearray(64 << 20)  # and allocate


def _gone(client, env: DockerEnvironment) -> bool:
    try:
        client.containers.get(env.container.id)
    except docker.errors.NotFound:
        return True
    return False


# ---- limits: values, defaults, unlimited ----------------------------------------------------


def test_limit_values_are_normalised_and_checked():
    default = ContainerLimits()
    assert default == ContainerLimits(memory=None, cpus=None, pids=None)  # None: the default
    assert (default.network, default.memory, default.cpus, default.pids) == (False, DEFAULT_MEMORY, None, DEFAULT_PIDS)
    assert default.memory_bytes == 4 << 30
    unlimited = ContainerLimits(memory="none", cpus="0", pids="none")
    assert (unlimited.memory, unlimited.memory_bytes, unlimited.cpus, unlimited.pids) == ("none", None, 0.0, 0)
    assert ContainerLimits(memory=0, cpus=0, pids=0) == unlimited == ContainerLimits(memory="0", cpus=0.0, pids=-1)
    assert ContainerLimits(memory="512M", cpus="1.5", pids="100") == ContainerLimits(memory="512m", cpus=1.5, pids=100)
    assert ContainerLimits(**vars(ContainerLimits(memory="2g", pids=7))) == ContainerLimits(memory="2g", pids=7)
    for bad in ({"memory": "4x"}, {"memory": "1k"}, {"cpus": "two"}, {"cpus": -2}, {"cpus": "inf"}, {"pids": "many"}, {"pids": -5}):
        with pytest.raises(UserError):
            ContainerLimits(**bad)


def test_bad_limit_flag_is_a_user_error_before_any_docker_work(tmp_path, capsys):
    code = main(["eval", "--agent", "gold", "--dataset", "builtin", "--memory", "lots", "--reports-dir",
                 str(tmp_path), "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    assert code == 2
    assert "memory limit 'lots'" in capsys.readouterr().err


def test_limit_hits_parse_and_format():
    v2 = [("/sys/fs/cgroup/memory.events", "max 40"), ("/sys/fs/cgroup/memory.events", "oom_kill 2"),
          ("/sys/fs/cgroup/pids.events", "max 3")]
    assert _parse_counters(v2) == {"memory": 2, "pids": 3}
    v1 = [("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill 0"), ("/sys/fs/cgroup/pids/pids.events", "max 9")]
    assert _parse_counters(v1) == {"memory": 0, "pids": 9}
    assert format_limit_hits({"pids": 3, "memory": 1}) == "memory=1,pids=3"
    assert format_limit_hits({"memory": 0}) == "" and format_limit_hits({}) == ""


def test_default_and_given_limits_are_applied(start, docker_client):
    hc = _inspect(start("defaults"))["HostConfig"]
    assert hc["Memory"] == 4 << 30 and hc["MemorySwap"] in (4 << 30, -1)  # -1: where swap isn't accounted
    assert hc["PidsLimit"] == DEFAULT_PIDS
    # a quota of the host's cores by default: the cgroup shows the CPUs the container may use
    assert hc["NanoCpus"] == docker_client.info()["NCPU"] * 1_000_000_000
    hc = _inspect(start("given", memory="256m", cpus=0.5, pids=300))["HostConfig"]
    assert (hc["Memory"], hc["NanoCpus"], hc["PidsLimit"]) == (256 << 20, 500_000_000, 300)
    hc = _inspect(start("unlimited", memory="none", cpus="none", pids="none"))["HostConfig"]
    assert hc["Memory"] == 0 and hc["NanoCpus"] == 0 and hc["PidsLimit"] in (None, 0, -1)


def test_the_default_cpu_view_in_the_cgroup_is_the_hosts_cores(start, docker_client):
    # what pylint's _query_cpu reads: a CFS quota over its period (v1), or cpu.max (v2)
    env = start("cpu-view")
    view = env.exec("if [ -f /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup/cpu.max; else "
                    "echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); fi")
    quota, period = view.output.split()
    assert int(quota) / int(period) == docker_client.info()["NCPU"]


def test_cpus_beyond_the_host_are_capped_at_the_host(start, docker_client):
    host = docker_client.info()["NCPU"]
    hc = _inspect(start("many-cpus", cpus=host + 8))["HostConfig"]
    assert hc["NanoCpus"] == host * 1_000_000_000


# ---- isolation --------------------------------------------------------------------------------


@pytest.fixture
def listener():
    """A TCP server in the harness on every host address; (port, nonce) it greets with."""
    server = socket.create_server(("0.0.0.0", 0))
    nonce = hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:16]

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(nonce.encode())

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], nonce
    server.close()


def _connect(env: DockerEnvironment, host: str, port: int) -> str:
    code = (f"import socket; s = socket.create_connection(({host!r}, {port}), timeout=10); "
            "print('got', s.recv(100).decode())")
    return env.exec(f"python -c {shlex.quote(code)} 2>&1", timeout=60).output


def test_network_is_off_by_default_and_on_when_asked(start, docker_client, listener):
    port, nonce = listener
    config = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    # the host's end of Docker's bridge (older engines list only the subnet: its first address)
    gateway = config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))
    off = start("net-off")
    assert _inspect(off)["HostConfig"]["NetworkMode"] == "none"
    assert off.exec("ls /sys/class/net").output.split() == ["lo"]
    out = _connect(off, gateway, port)
    assert f"got {nonce}" not in out and "unreachable" in out.lower(), out
    assert "Network is unreachable" in _connect(off, "1.1.1.1", 53)

    on = start("net-on", network=True)
    assert _inspect(on)["HostConfig"]["NetworkMode"] != "none"
    assert set(on.exec("ls /sys/class/net").output.split()) > {"lo"}
    assert f"got {nonce}" in _connect(on, gateway, port)


def test_not_privileged_fixed_capabilities_no_new_privileges_no_mounts(start):
    env = start("privileges")
    attrs = _inspect(env)
    hc = attrs["HostConfig"]
    assert hc["Privileged"] is False
    assert hc["CapDrop"] == ["ALL"]
    assert sorted(hc["CapAdd"]) == sorted(EXPECTED_CAPS) == sorted(KEPT_CAPABILITIES)
    assert "no-new-privileges" in hc["SecurityOpt"]
    assert attrs["Mounts"] == [] and not hc.get("Binds") and not hc.get("Mounts") and not hc.get("VolumesFrom")
    assert not hc.get("Devices") and not hc.get("PidMode") and hc.get("IpcMode") != "host"

    status = dict(line.split(":\t", 1) for line in env.exec("cat /proc/self/status").output.splitlines() if ":\t" in line)
    assert env.exec("id -u").output.strip() == "0"  # root, but a small root
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(status[field], 16) == EXPECTED_CAP_MASK, (field, status[field])
    assert int(status["CapAmb"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"
    # what the dropped capabilities allowed is refused
    assert not env.exec("mknod /tmp/null c 1 3").ok  # MKNOD
    assert not env.exec("chroot / true").ok  # SYS_CHROOT
    raw = env.exec("python -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)'")
    assert "Operation not permitted" in raw.output  # NET_RAW
    assert not env.exec("mount -t tmpfs none /mnt").ok  # SYS_ADMIN


def test_kept_capabilities_cover_what_installs_and_tests_do_as_root(start):
    env = start("root-work")
    script = r"""
set -e
cd "$(mktemp -d)"
echo hi > f && chown 1234:1234 f && chmod 0600 f && touch -d 2001-01-01 f && cat f   # CHOWN FOWNER DAC_OVERRIDE
mkdir g && chown 1234:1234 g && chmod 2775 g && stat -c %a g                      # FSETID keeps setgid
tar cf t.tar --owner=4321 --group=4321 f && mkdir x && tar xf t.tar -C x && stat -c '%u %Y' x/f
su nobody -s /bin/bash -c 'id -un'                                                     # SETUID SETGID
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 300 & sleep 1; kill $! && echo killed  # KILL
python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 80)); print('bound 80')"
cd /testbed && git status --porcelain && python -m pip --version >/dev/null && echo done
"""
    result = env.exec(script, timeout=120)
    assert result.ok, result.output
    out = result.output.split()
    assert out[:2] == ["hi", "2775"] and out[2:4] == ["4321", "978307200"], result.output
    assert ["nobody", "killed", "bound", "80", "done"] == out[4:], result.output


# ---- misbehaving containers -----------------------------------------------------------------


def test_fork_bomb_is_contained_and_recorded(start, docker_client):
    a = start("fork-bomb", pids=256)
    b = start("bystander-fork")
    assert _inspect(a)["HostConfig"]["PidsLimit"] == 256  # else no bomb: it would hit the host
    assert read_limit_hits(a) == {}
    bomb = docker_client.api.exec_create(a.container.id, ["timeout", "-s", "KILL", "240", "bash", "-c",
                                                          "bomb() { bomb | bomb & }; bomb; wait"])["Id"]
    docker_client.api.exec_start(bomb, detach=True)
    deadline = time.monotonic() + 120
    while (hits := read_limit_hits(a)).get("pids", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert hits.get("pids", 0) >= 1, hits  # read while the bomb is at the limit
    assert set(hits) == {"pids"}
    with ThreadPoolExecutor(2) as pool:  # B's work and the harness, while the bomb goes on
        work = pool.submit(_b_works, b)
        pids = a.container.stats(stream=False, one_shot=True)["pids_stats"]
        assert 0 < pids["current"] <= 256 and pids["limit"] == 256, pids
        _harness_ok()
        work.result()
    assert read_limit_hits(b) == {}
    assert format_limit_hits(read_limit_hits(a)).startswith("pids=")
    a.container.remove(force=True)  # the harness can remove it mid-bomb
    assert _gone(docker_client, a)


def test_memory_hog_is_killed_and_recorded(start, docker_client):
    a = start("memory-hog", memory="128m")
    b = start("bystander-mem")
    assert _inspect(a)["HostConfig"]["Memory"] == 128 << 20
    # Stops by itself at 2 GiB, should the limit not hold (the test then fails on the exit code).
    hog = "python -c 'b = []\nwhile len(b) < 256: b.append(bytearray(8 << 20))'"
    with ThreadPoolExecutor(2) as pool:
        hogged = pool.submit(a.exec, hog, 300)
        _b_works(b)
        result = hogged.result()
    assert result.exit_code == 137, result  # SIGKILL from the OOM killer, in A only
    hits = read_limit_hits(a)
    assert hits.get("memory", 0) >= 1 and hits.get("pids", 0) == 0, hits
    assert _counters_from_host(a.container) == {"memory": hits["memory"], "pids": 0}  # host and container agree
    assert a.exec("echo alive").output.strip() == "alive"  # the container itself goes on
    assert read_limit_hits(b) == {}
    _harness_ok()


def test_rm_rf_root_harms_neither_host_nor_neighbour(start, docker_client, tmp_path):
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("still here")
    watched = [ROOT / "README.md", Path("/etc/passwd"), Path("/etc/hosts")]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in watched}
    a = start("rm-rf")
    b = start("bystander-rm")
    assert a.exec("ls /testbed").ok
    wiped = a.exec("rm -rf --no-preserve-root / 2>/dev/null; ls /", timeout=300)
    assert not wiped.ok  # even ls is gone
    with pytest.raises(docker.errors.NotFound):
        a.container.get_archive("/testbed")
    assert sentinel.read_text() == "still here"
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in watched} == before
    assert read_limit_hits(a) == {}  # no grep left in A: read from the host, never raises
    _b_works(b)
    _harness_ok()
    a.container.remove(force=True)
    assert _gone(docker_client, a)


def test_read_limit_hits_never_raises(docker_client, image):
    with running_container(docker_client, image, run_id=RUN_ID, instance_id="removed", purpose="test") as env:
        env.container.remove(force=True)
        assert read_limit_hits(env) == {}
    assert read_limit_hits(object()) == {}
