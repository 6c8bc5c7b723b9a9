"""Local services a repo's tests expect on the network, without the internet.

The official harness runs tests with network, so psf/requests' tests reach the real
httpbin.org; offline they fail whatever the patch. A spec names the sidecars its tests need
(`sidecars = ["httpbin"]`): each runs in a container of its own on an internal Docker network
made for one test run, under the host names the tests use (`httpbin.org`), and the test
container joins only that network. An internal network has no route out, so the tests reach
the sidecars and nothing else; every other run keeps `network_mode: none`.

The sidecar's image is a layer on the harness's base image (its Python, its CA bundle),
built once and cached like every other layer.
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import docker
import docker.errors

from evalharness.env.docker import run_labels
from evalharness.env.base import Environment
from evalharness.tasks.specs import EnvSpec
from evalharness.core.errors import EnvBuildError, UserError
from evalharness.env.images import LABEL, PIP_BUILD_ARGS, ImageBuilder, content_hash

HEALTH_TIMEOUT = 60.0  # seconds a sidecar has to answer after it starts


SIDECAR_CA = "/opt/evalharness-sidecar/ca.pem"  # in the sidecar image: the CA its TLS certificate is from
SIDECAR_CERT = "/opt/evalharness-sidecar/server.pem"  # its key and certificate chain, for its host names


@dataclass(frozen=True)
class SidecarSpec:
    """A service: what its image installs, how it starts, the names tests reach it by. With
    `tls`, the image holds a test CA (made by trustme at build time) and a certificate for the
    host names, which `command` serves on 443; the test container is told to trust that CA."""

    name: str
    hostnames: tuple[str, ...]
    port: int
    pip: tuple[str, ...]
    command: tuple[str, ...]
    health_path: str = "/"
    python: str = "3.11"
    tls: bool = False


SIDECARS: dict[str, SidecarSpec] = {
    # The PyPI httpbin (the app behind httpbin.org) under gunicorn, on port 80 as httpbin.org
    # serves it over plain HTTP (requests' tests default to HTTPBIN_URL=http://httpbin.org/).
    "httpbin": SidecarSpec(
        name="httpbin", hostnames=("httpbin.org", "www.httpbin.org", "httpbin"), port=80,
        pip=("httpbin==0.10.2", "flask==2.3.3", "werkzeug==2.3.8", "gunicorn==23.0.0", "trustme==1.2.1"),
        # plain HTTP on 80 and HTTPS on 443 (requests' tests use both), from one app
        command=("sh", "-c", f"gunicorn --bind 0.0.0.0:443 --workers 2 --certfile {SIDECAR_CERT} "
                             f"--keyfile {SIDECAR_CERT} httpbin:app & "
                             "exec gunicorn --bind 0.0.0.0:80 --workers 2 --access-logfile - httpbin:app"),
        health_path="/get", tls=True,
    ),
}


def check_names(names: Sequence[str], where: str) -> None:
    unknown = [n for n in names if n not in SIDECARS]
    if unknown:
        raise UserError(f"{where}: unknown sidecar(s) {unknown}; known: {sorted(SIDECARS)}")


def check_specs(specs: Iterable[EnvSpec]) -> None:
    """At the start of a run: every sidecar a spec names is one this module can start (the
    spec records themselves know no sidecars, so that reading them touches no Docker)."""
    for spec in specs:
        if spec.sidecars:
            check_names(spec.sidecars, f"the spec of {spec.repo} {spec.version}")


def sidecar_image(builder: ImageBuilder, spec: SidecarSpec, sink: Callable[[str], None]) -> str:
    base = builder.base_image(spec.python, sink)
    certs = ("import trustme; ca = trustme.CA(); "
             f"cert = ca.issue_cert({', '.join(repr(h) for h in spec.hostnames)}); "
             f"ca.cert_pem.write_to_path({SIDECAR_CA!r}); cert.private_key_and_cert_chain_pem.write_to_path({SIDECAR_CERT!r})")
    dockerfile = "\n".join([
        f"FROM {base}",
        *[f"ARG {k}" for k in PIP_BUILD_ARGS],
        "RUN pip install -q " + " ".join(spec.pip),
        *([f"RUN mkdir -p {SIDECAR_CA.rsplit('/', 1)[0]} && python -c {shlex.quote(certs)}"] if spec.tls else []),
    ]) + "\n"
    tag = f"evalharness-sidecar:{spec.name}-{content_hash(dockerfile)[:12]}"
    return builder.layer_image(tag, dockerfile, sink, "sidecar")


@dataclass(frozen=True)
class SidecarNetwork:
    """Where a test run's sidecars are: the network to join, and the CAs of those serving TLS."""

    name: str
    ca_pem: str = ""

    def trust(self, env: Environment) -> str | None:
        """Make the test container trust the sidecars' CA now, and return the shell that does it
        again right before the tests (a re-install may bring a package's own bundle back); None
        when no sidecar serves TLS. The CA goes into the system bundle, the bundles
        REQUESTS_CA_BUNDLE / SSL_CERT_FILE name, certifi's and requests' own where installed."""
        if not self.ca_pem:
            return None
        env.write_file(_CA_IN_TEST, self.ca_pem)
        env.exec(_TRUST, timeout=60)
        return _TRUST


_CA_IN_TEST = "/tmp/evalharness-sidecar-ca.pem"
_BUNDLES = ("import importlib\n"
            "for name in ('certifi', 'requests.certs', 'pip._vendor.certifi'):\n"
            "    try:\n"
            "        print(importlib.import_module(name).where())\n"
            "    except Exception:\n"
            "        pass\n")
# Each bundle once, the CA appended unless it is in it already; never fails the run.
_TRUST = ("{ for f in $( { printf '%s\\n' /etc/ssl/certs/ca-certificates.crt \"${REQUESTS_CA_BUNDLE:-}\" "
          f"\"${{SSL_CERT_FILE:-}}\"; python -c {shlex.quote(_BUNDLES)} 2>/dev/null; }} | sort -u); do "
          f"[ -f \"$f\" ] && ! grep -qF \"$(sed -n 2p {_CA_IN_TEST})\" \"$f\" && cat {_CA_IN_TEST} >> \"$f\"; "
          "done; } >/dev/null 2>&1; true")


@contextmanager
def sidecar_network(client: docker.DockerClient, builder: ImageBuilder, names: Sequence[str], *, run_id: str,
                    instance_id: str, sandbox: dict, sink: Callable[[str], None],
                    run_key: str = "") -> Iterator[SidecarNetwork | None]:
    """An internal network with `names` running on it (None when there are none); the network
    and its sidecars are removed on exit, however it ends."""
    if not names:
        yield None
        return
    specs = [SIDECARS[n] for n in names]
    images = [sidecar_image(builder, spec, sink) for spec in specs]  # EnvBuildError: the instance's env failed
    labels = {**run_labels(run_id, instance_id, run_key), f"{LABEL}.purpose": "sidecar"}
    network = client.networks.create(f"evalharness-net-{secrets.token_hex(6)}", driver="bridge", internal=True,
                                     labels=labels, check_duplicate=True)
    containers = []
    try:
        options = {k: v for k, v in sandbox.items() if k != "network_mode"}
        for spec, image in zip(specs, images):
            container = client.containers.create(
                image, command=list(spec.command), init=True, labels=labels, network=network.name,
                networking_config={network.name: client.api.create_endpoint_config(aliases=list(spec.hostnames))},
                **options)
            containers.append(container)
            container.start()
        cas = []
        for spec, container in zip(specs, containers):
            _await_health(container, spec)
            sink(f"sidecar {spec.name} answers on {', '.join(spec.hostnames)}:{spec.port}{' and 443' if spec.tls else ''}")
            if spec.tls:
                cas.append(container.exec_run(["cat", SIDECAR_CA]).output.decode())
        yield SidecarNetwork(network.name, "".join(cas))
    finally:
        for container in containers:
            try:
                container.remove(force=True)
            except docker.errors.DockerException:
                pass
        try:
            network.remove()
        except docker.errors.DockerException:
            pass


def _await_health(container, spec: SidecarSpec) -> None:
    probe = ("import sys, urllib.request\n"
             f"urllib.request.urlopen('http://127.0.0.1:{spec.port}{spec.health_path}', timeout=2)\n")
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while True:
        result = container.exec_run(["python", "-c", probe])
        if result.exit_code == 0:
            return
        container.reload()
        if container.status != "running" or time.monotonic() > deadline:
            logs = container.logs(tail=20).decode("utf-8", "replace")
            raise EnvBuildError(f"sidecar {spec.name} did not answer within {HEALTH_TIMEOUT:g}s: {logs[-500:]}")
        time.sleep(0.5)
