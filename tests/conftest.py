"""Shared fixtures. Docker tests use the real engine; they fail (never skip) without one."""

from __future__ import annotations

import dataclasses
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"Docker engine not reachable ({exc}); run scripts/docker-up (make test does)")
    return client


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache for the whole session, so images and repos are built once."""
    return Path(os.environ.get("EVALHARNESS_TEST_CACHE") or tmp_path_factory.mktemp("cache"))


# ---- what the session leaves behind: tests/test_zz_no_orphans.py (collected last) checks it -------
# A Docker engine may be shared with other sessions (another developer's suite, benchmarks), so the
# check is about this session's runs: containers created since it started whose run id this session
# used (in-process container creations are traced; runs in other processes are found by their
# run.json under the session's temp folder, or registered with `session_trace.run_ids`).


@dataclasses.dataclass
class SessionTrace:
    started: float  # epoch seconds
    temp_before: frozenset[str]  # the harness's entries in the temp dir when the session started
    run_ids: set[str] = dataclasses.field(default_factory=set)
    containers: set[str] = dataclasses.field(default_factory=set)


SESSION_TRACE = pytest.StashKey[SessionTrace]()
HARNESS_TEMP_PREFIXES = ("evalharness-ctx-", "evalharness-commit-", "evalharness-gateway-")  # scratch folders the harness makes in the temp dir
RAY_SCRATCH = "evalharness-ray"  # <temp>/evalharness-ray/<run>/: a Ray node's scratch (executors/ray.py)


def harness_temp_entries() -> set[str]:
    """The harness's temporary folders in the temp dir, as names relative to it."""
    root = Path(tempfile.gettempdir())
    found = {p.name for p in root.glob("*") if p.name.startswith(HARNESS_TEMP_PREFIXES)}
    found |= {f"{RAY_SCRATCH}/{p.name}" for p in (root / RAY_SCRATCH).glob("*")}
    return found


def pytest_sessionstart(session):
    # A shell without job control starts background commands with SIGINT ignored, and children
    # inherit that: the Ctrl-C tests (here and in the processes they start) need it delivered.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    trace = SessionTrace(started=time.time(), temp_before=frozenset(harness_temp_entries()))
    session.config.stash[SESSION_TRACE] = trace
    from docker.models.containers import ContainerCollection

    original = ContainerCollection.create

    def create(self, *args, **kwargs):
        container = original(self, *args, **kwargs)
        trace.containers.add(container.id)
        labels = kwargs.get("labels")
        if isinstance(labels, dict) and labels.get("evalharness.run_id"):
            trace.run_ids.add(labels["evalharness.run_id"])
        return container

    ContainerCollection.create = create
    session.config.add_cleanup(lambda: setattr(ContainerCollection, "create", original))


@pytest.fixture(scope="session")
def session_trace(request) -> SessionTrace:
    return request.config.stash[SESSION_TRACE]
