"""What went wrong with Docker, read from an exception: the daemon gone, a container removed or
stopped under a phase, an image removed after its build, a full disk.

The pipeline asks this of every failure of an instance: an `InfrastructureError` (with its
`kind` and whether another try can help) is Docker's fault, never the agent's or the tests';
None is the instance's own failure.
"""

from __future__ import annotations

from pathlib import Path

import docker
import docker.errors
import requests
import urllib3

from evalharness.core.errors import InfrastructureError

# The connection to the daemon failed (it stopped, restarted, or does not answer): what docker-py
# raises then, directly (requests) or from below (urllib3, sockets).
_LOST_DAEMON = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.Timeout, urllib3.exceptions.HTTPError, ConnectionError)
# The daemon answering that it lost containerd (restarting under it).
_DAEMON_TROUBLE = ("transport is closing", "containerd.sock: connect", "error reading from server: eof")
_DOCKER_PY = Path(docker.__file__).resolve().parent


def docker_failure(exc: BaseException) -> InfrastructureError | None:
    """What `exc` says went wrong with Docker, as an InfrastructureError; None if it is not Docker's.

    The exception's whole chain (causes and contexts) is read: an error raised while cleaning
    up after another one keeps the first in its context.
    """
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, InfrastructureError):
            return e
    for e in chain:
        if "no space left on device" in _text(e).lower():
            return InfrastructureError(f"the Docker host is out of disk space (no space left on device): {_text(e)}",
                                       kind="disk_full")
    for e in chain:
        text, low = _text(e), _text(e).lower()
        if isinstance(e, docker.errors.ImageNotFound) or (
                isinstance(e, docker.errors.APIError) and "no such image" in low):
            return InfrastructureError(f"an image the instance needs is gone (removed after it was built?): {text}",
                                       kind="image_removed", retry=True)
        if isinstance(e, docker.errors.NotFound) and ("no such container" in low or "no such exec" in low):
            return InfrastructureError(f"a container of the instance was removed while in use: {text}",
                                       kind="container_removed")
        if isinstance(e, docker.errors.APIError) and e.status_code == 409:
            if "removal" in low:
                return InfrastructureError(f"a container of the instance was removed while in use: {text}",
                                           kind="container_removed")
            if any(word in low for word in ("is not running", "is restarting", "is paused", "is dead")):
                return InfrastructureError(f"a container of the instance stopped while in use: {text}",
                                           kind="container_exited", retry=True)
        if isinstance(e, _LOST_DAEMON) and _raised_by_docker(e):
            return InfrastructureError(f"the Docker daemon went away (stopped or restarted?): "
                                       f"{type(e).__name__}: {text}", kind="daemon", retry=True)
        if isinstance(e, docker.errors.APIError) and any(p in low for p in _DAEMON_TROUBLE):
            return InfrastructureError(f"the Docker daemon lost its container runtime (restarting?): {text}",
                                       kind="daemon", retry=True)
    return None


def container_problem(container, purpose: str) -> InfrastructureError | None:
    """Why `container` can no longer serve its phase (gone, exited, daemon unreachable); None if running."""
    name = f"the {purpose} container {getattr(container, 'short_id', '?')}"
    try:
        container.reload()
    except docker.errors.NotFound:
        return InfrastructureError(f"{name} was removed while in use", kind="container_removed")
    except Exception as exc:  # noqa: BLE001 - the daemon, most likely
        return docker_failure(exc) or InfrastructureError(f"could not inspect {name}: {type(exc).__name__}: {exc}",
                                                           kind="docker", retry=True)
    state = container.attrs.get("State") or {}
    status = state.get("Status") or ""
    if status == "running" and not state.get("Paused"):
        return None
    if status in ("removing", "dead"):
        return InfrastructureError(f"{name} was removed while in use (state {status})", kind="container_removed")
    code = state.get("ExitCode")
    how = {137: "killed (SIGKILL)", 143: "stopped (SIGTERM: `docker stop`, or the Docker daemon shutting down)"}.get(
        code, "exited")
    if state.get("OOMKilled"):
        how = "killed for running out of memory"
    detail = f"exit code {code}" + (f", at {state['FinishedAt']}" if state.get("FinishedAt") else "")
    return InfrastructureError(f"{name} was {how} while in use ({status or 'not running'}, {detail})",
                               kind="container_exited", retry=True)


def failure_under(container, purpose: str, exc: BaseException) -> InfrastructureError | None:
    """Docker's failure behind `exc`, raised by a phase's own code; None when it is the phase's own error."""
    cause = docker_failure(exc)
    state = container_problem(container, purpose)
    if cause is not None and cause.kind == "daemon":
        return cause  # the container's state afterwards (stopped with the daemon) says less
    return state or cause


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__]
    return seen


def _text(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return " ".join(str(text).split())[:500]


def _raised_by_docker(exc: BaseException) -> bool:
    """Did `exc` come from the Docker client (not, say, an agent's own HTTP library use)?"""
    tb = exc.__traceback__
    while tb is not None:
        try:
            if Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_DOCKER_PY):
                return True
        except (OSError, ValueError):
            pass
        tb = tb.tb_next
    return False
