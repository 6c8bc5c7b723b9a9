"""Instances as Ray tasks, on any node of a cluster that has Docker.

Each node that can run instances advertises the custom resource `docker` (its number of
agent-session slots: `ray start --resources='{"docker": 64}'`); a task takes one slot.
The node builds its images itself or pulls them from `--registry`. Results stream back
to the driver, which alone writes the run's files. A task whose worker or node dies is
submitted again by the driver (up to `max_attempts` in all), so every instance ends as
exactly one record.

With `--registry`, a layer missing from the registry is built by one node only (the run's
`BuildClaims` actor, shared_builds.py); the others pull it. The run's `run.json` says, under
`nodes`, which instances ran on each node and which images it built and pulled.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from evalharness.core.errors import UserError
from evalharness.run.executors.base import Finished
from evalharness.run.executors.shared_builds import BuildClaims, ClaimsClient
from evalharness.run.pipeline import PhaseGates, PipelineRecipe
from evalharness.core.results import InstanceRecord, safe_name
from evalharness.core.run_meta import RUN_JSON, record_nodes
from evalharness.core.status import Status
from evalharness.core.task import Task

log = logging.getLogger(__name__)

RESOURCE = "docker"  # custom Ray resource: agent-session slots on a node with a Docker engine


class NodeSlots:
    """At most `n` holders at once among all processes of one node (flock'd files).

    A lock dies with its process, so a killed Ray worker never keeps a slot.
    """

    def __init__(self, name: str, n: int, directory: str | None = None):
        root = Path(directory or tempfile.gettempdir()) / "evalharness-slots"
        root.mkdir(parents=True, exist_ok=True)
        self.paths = [root / f"{safe_name(name)}.{i}.lock" for i in range(max(1, n))]

    @contextmanager
    def __call__(self):
        from filelock import FileLock, Timeout

        while True:
            for path in self.paths:
                lock = FileLock(path, thread_local=False)
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    continue
                try:
                    yield
                finally:
                    lock.release()
                return
            time.sleep(0.2)


def run_on_node(recipe: PipelineRecipe, task: Task, attempt: int, eval_slots: int,
                build_slots: int, claims=None) -> tuple[InstanceRecord, dict[str, bytes]]:
    """The Ray task: the instance's pipeline on this node, its logs sent back as bytes."""
    import ray

    eval_slots = eval_slots or os.cpu_count() or 1
    run_id = recipe.config.run_id
    gates = PhaseGates(eval=NodeSlots(f"{run_id}.eval", eval_slots), build=NodeSlots("build", build_slots))
    node = ray.get_runtime_context().get_node_id()
    scratch = node_scratch(run_id)
    scratch.mkdir(parents=True, exist_ok=True)
    logs_root = Path(tempfile.mkdtemp(prefix=f"{safe_name(task.instance_id)}.{attempt}.", dir=scratch))
    try:
        pipeline = recipe.pipeline(gates)
        if claims is not None:
            pipeline.builder.share_builds(ClaimsClient(claims, socket.gethostname()))
        record = pipeline.run(task, logs_root, attempt=attempt, worker=f"{socket.gethostname()} (ray node {node[:8]})")
        folder = logs_root / safe_name(task.instance_id)
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return record, files
    finally:
        shutil.rmtree(logs_root, ignore_errors=True)


def node_scratch(run_id: str) -> Path:
    """Where a node keeps an instance's logs until they are sent to the driver."""
    return Path(tempfile.gettempdir()) / "evalharness-ray" / safe_name(run_id)


def clean_node(run_id: str, run_key: str = "") -> int:
    """Remove what a dead worker left on this node: the run's containers and scratch folders."""
    import docker

    from evalharness.env.docker import remove_run_containers

    shutil.rmtree(node_scratch(run_id), ignore_errors=True)
    return remove_run_containers(docker.from_env(), run_id, run_key=run_key)


def connect(address: str | None = None, **init_options) -> None:
    """Join the cluster at `address` (None: $RAY_ADDRESS, else start a local one), once per process."""
    import ray

    if ray.is_initialized():
        return
    try:
        ray.init(address=address, include_dashboard=False, **init_options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"cannot reach the Ray cluster at {address or 'a new local one'}: {exc}") from None


class RayExecutor:
    def __init__(
        self,
        recipe: PipelineRecipe,
        *,
        address: str | None = None,
        max_attempts: int = 3,
        eval_slots: int = 0,
        build_slots: int = 2,
        init_options: dict | None = None,
    ):
        import ray

        self.ray = ray
        self.recipe = recipe
        self.max_attempts = max(1, max_attempts)
        self.eval_slots = eval_slots
        self.build_slots = build_slots
        connect(address, **(init_options or {}))
        if not ray.cluster_resources().get(RESOURCE):
            raise UserError(f"no Ray node offers the {RESOURCE!r} resource: start the nodes that have Docker with "
                            f"`ray start ... --resources='{{\"{RESOURCE}\": N}}'` (N = agent sessions per node)")
        # Retries are the driver's (below), so that each attempt is counted and cleaned up after.
        self._remote = ray.remote(run_on_node).options(num_cpus=0, resources={RESOURCE: 1}, max_retries=0)
        self._pending: dict = {}
        self._stopping = False
        self._claims = None
        if recipe.build.registry:  # on the driver's node: it lives as long as the run
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
            self._claims = ray.remote(BuildClaims).options(num_cpus=0, scheduling_strategy=here).remote()
        self._ran: dict[str, list[str]] = {}  # node -> instances whose record came from there

    def run(self, tasks: Sequence[Task], logs_root: Path) -> Iterator[Finished]:
        ray = self.ray
        recipe_ref = ray.put(self.recipe)  # shipped once, not once per task
        self._pending = {self._submit(recipe_ref, task, 1): (task, 1) for task in tasks}
        try:
            while self._pending:
                ready, _ = ray.wait(list(self._pending), num_returns=len(self._pending), timeout=1.0)
                for ref in ready:
                    task, attempt = self._pending.pop(ref)
                    finished = self._collect(ref, task, attempt, recipe_ref)
                    if finished is not None:
                        node = finished.record.worker.split(" (ray node")[0] or "(lost)"
                        self._ran.setdefault(node, []).append(task.instance_id)
                        yield finished
        except BaseException:
            self.stop()
            raise
        finally:
            self._record_nodes(Path(logs_root).parent / RUN_JSON)
        self._clean_nodes()

    def _record_nodes(self, run_json: Path) -> None:
        """run.json's `nodes`: per node, the instances it ran and the images it built and pulled."""
        tally = {}
        if self._claims is not None:
            try:
                tally = self.ray.get(self._claims.tally.remote(), timeout=30)
            except Exception as exc:  # the driver's node is going down: keep what is known
                log.warning("could not read the image tally: %s", exc)
        nodes = {name: {"instances": self._ran.get(name, []), "built": tally.get(name, {}).get("built", []),
                        "pulled": tally.get(name, {}).get("pulled", [])}
                 for name in sorted(set(self._ran) | set(tally))}
        try:
            record_nodes(run_json, nodes)
        except (OSError, ValueError) as exc:
            log.warning("could not record the nodes in %s: %s", run_json, exc)

    def _submit(self, recipe_ref, task: Task, attempt: int):
        return self._remote.remote(recipe_ref, task, attempt, self.eval_slots, self.build_slots, self._claims)

    def _collect(self, ref, task: Task, attempt: int, recipe_ref) -> Finished | None:
        from ray import exceptions as rex

        try:
            record, files = self.ray.get(ref)
            return Finished(record, files)
        except (rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError, rex.OwnerDiedError,
                rex.RaySystemError, rex.LocalRayletDiedError) as exc:
            if self._stopping:
                return None
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            if attempt < self.max_attempts:
                log.warning("%s: attempt %d lost (%s); running it again", task.instance_id, attempt, reason)
                self._pending[self._submit(recipe_ref, task, attempt + 1)] = (task, attempt + 1)
                return None
            return Finished(self._lost(task, attempt, f"the Ray worker died on all {attempt} attempts: {reason}"))
        except rex.TaskCancelledError:
            return None
        except rex.RayTaskError as exc:  # the pipeline never raises; this is a bug or an unpicklable result
            return Finished(self._lost(task, attempt, str(exc).splitlines()[0][:500]))

    def _lost(self, task: Task, attempt: int, error: str) -> InstanceRecord:
        c = self.recipe.config
        return InstanceRecord(run_id=c.run_id, model=c.model, agent=c.agent, dataset=c.dataset,
                              instance_id=task.instance_id, repo=task.repo, version=task.version,
                              status=Status.HARNESS_ERROR.value, resolved=False, error=error, attempt=attempt)

    def stop(self) -> None:
        self._stopping = True
        for ref in list(self._pending):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # already finished or gone
                pass
        self._pending = {}
        self._clean_nodes()

    def remove_leftovers(self) -> int:
        """On resume: what a killed driver's tasks left on the nodes goes before anything starts."""
        self._clean_nodes()
        return 0  # counted and logged by _clean_nodes

    def _clean_nodes(self) -> None:
        """Every node with Docker drops the run's leftover containers (from attempts that died)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        clean = self.ray.remote(clean_node)
        refs = [clean.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(self.recipe.config.run_id, self.recipe.config.run_key)
                for n in self.ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(RESOURCE)]
        try:
            removed = sum(self.ray.get(refs, timeout=120))
        except Exception as exc:  # best effort: a node that just died has nothing to clean
            log.warning("could not clean every node: %s", exc)
            return
        if removed:
            log.info("removed %d leftover container(s) of run %s", removed, self.recipe.config.run_id)
