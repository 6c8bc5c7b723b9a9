"""`evalharness gc` (issue 20 §5): the containers and networks of runs whose process is gone go;
those of a run still running (its folder locked), and of runs gc can't find, stay. eval mentions
dead runs' leftovers at start-up; a container already being removed is no warning."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path

import docker
import pytest

from evalharness.cli import main
from evalharness.cli.gc import run_key
from evalharness.core.results import InstanceRecord, ResultStore
from evalharness.core.run_meta import RUN_JSON
from evalharness.env.docker import run_labels, running_container
from evalharness.env.images import LABEL, BuildConfig, ImageBuilder
from evalharness.run.config import RunConfig
from evalharness.run.runner import _run_lock
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.tasks.repos import BuiltinRepos
from evalharness.tasks.specs import SpecRegistry

TASK = next(t for t in load_tasks("builtin") if t.instance_id == "evalharness__confini-1")


@pytest.fixture(scope="module")
def image(docker_client, cache_dir) -> str:
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir),
                           [BuiltinRepos(default_tasks_dir() / "repos", cache_dir)])
    specs = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"])
    return builder.instance_image(TASK, specs.get(TASK.repo, TASK.version))


def _run_folder(reports: Path, run_id: str, records: int = 0) -> Path:
    """A run folder as its runner leaves it (run.json, the lock file, `records` finished instances)."""
    config = RunConfig(run_id=run_id, dataset="builtin", agent="gold", reports_dir=reports)
    folder = config.run_dir
    folder.mkdir(parents=True)
    (folder / RUN_JSON).write_bytes(config.meta(11).to_json())
    (folder / ".lock").touch()
    assert run_key(folder) == config.run_key
    for task in load_tasks("builtin")[:records]:
        ResultStore(folder).add(InstanceRecord(run_id=run_id, model="", agent="gold", dataset="builtin",
                                               instance_id=task.instance_id, repo=task.repo, version=task.version,
                                               status="resolved", resolved=True))
    return folder


class Made:
    """Containers and networks a test makes with a run's labels, removed at the end whatever gc did."""

    def __init__(self, client):
        self.client, self.containers, self.networks = client, [], []

    def container(self, image: str, folder: Path, *, key: str | None = None) -> str:
        labels = {**run_labels(folder.name, TASK.instance_id, run_key(folder) if key is None else key),
                  f"{LABEL}.purpose": "test"}
        made = self.client.containers.create(image, command=["sleep", "infinity"], labels=labels,
                                             network_mode="none")
        self.containers.append(made.id)
        return made.id

    def network(self, folder: Path) -> str:
        name = f"evalharness-gc-test-{uuid.uuid4().hex[:8]}"
        self.client.networks.create(name, internal=True, labels=run_labels(folder.name, TASK.instance_id,
                                                                            run_key(folder)))
        self.networks.append(name)
        return name

    def exists(self, container: str) -> bool:
        return bool(self.client.api.containers(all=True, filters={"id": container}))

    def network_exists(self, name: str) -> bool:
        return any(n["Name"] == name for n in self.client.api.networks(names=[name]))

    def clean(self) -> None:
        for cid in self.containers:
            try:
                self.client.api.remove_container(cid, force=True)
            except docker.errors.NotFound:
                pass
        for name in self.networks:
            try:
                self.client.api.remove_network(name)
            except docker.errors.NotFound:
                pass


@pytest.fixture
def made(docker_client):
    made = Made(docker_client)
    yield made
    made.clean()


@pytest.mark.docker
def test_gc_removes_dead_runs_leftovers_only(tmp_path, image, made, capsys):
    reports = tmp_path / "reports"
    dead = _run_folder(reports, f"gc-dead-{uuid.uuid4().hex[:6]}")
    live = _run_folder(reports, f"gc-live-{uuid.uuid4().hex[:6]}")
    nested = _run_folder(reports / "validate__builtin", "gold")  # validate's <name>/gold
    elsewhere = tmp_path / "elsewhere" / "gc-other"  # a run folder gc is not told about
    dead_ones = [made.container(image, dead), made.container(image, dead), made.container(image, nested)]
    dead_network = made.network(dead)
    live_one = made.container(image, live)
    unknown = [made.container(image, elsewhere), made.container(image, dead, key="")]  # no run_key: an old harness

    with _run_lock(live, live.name):  # a process running `live` right now
        assert main(["gc", "--reports-dir", str(reports), "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0].startswith("would remove 3 container(s) and 1 network(s) of 2 dead run(s): ")
        assert f"{dead} (2)" in out and f"{nested} (1)" in out
        assert "left alone: 1 container(s) of runs running now" in out
        assert re.search(r"left alone: ([2-9]|\d\d+) container\(s\) of runs not under", out)  # (others' too)
        assert all(made.exists(c) for c in dead_ones) and made.network_exists(dead_network)

        assert main(["gc", "--reports-dir", str(reports)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("removed 3 container(s) and the networks of 2 dead run(s)")
        assert not any(made.exists(c) for c in dead_ones) and not made.network_exists(dead_network)
        assert made.exists(live_one) and all(made.exists(c) for c in unknown)

    assert main(["gc", "--reports-dir", str(reports)]) == 0  # `live` has ended meanwhile: its turn now
    assert capsys.readouterr().out.startswith(f"removed 1 container(s) and the networks of 1 dead run(s): {live}\n")
    assert not made.exists(live_one) and all(made.exists(c) for c in unknown)
    assert main(["gc", "--reports-dir", str(reports)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"no leftovers of dead runs under {reports}"


@pytest.mark.docker
def test_eval_mentions_dead_runs_leftovers_at_start_up(tmp_path, image, made, caplog, capsys):
    reports = tmp_path / "reports"
    dead = _run_folder(reports, f"gc-dead-{uuid.uuid4().hex[:6]}")
    made.container(image, dead)
    own = _run_folder(reports, "gold__builtin", records=1)  # finished: eval runs nothing
    made.container(image, own)  # its own leftover: the resume removes it, no need to mention it
    with caplog.at_level(logging.WARNING, logger="evalharness"):
        assert main(["eval", "--agent", "gold", "--reports-dir", str(reports), "--no-progress",
                     "--instance-ids", load_tasks("builtin")[0].instance_id]) == 0
    notes = [r.getMessage() for r in caplog.records if "dead run" in r.getMessage()]
    assert notes == [f"1 container(s) of 1 dead run(s) are still there; `evalharness gc --reports-dir {reports}` "
                     "removes them"]
    assert capsys.readouterr().out.splitlines()[-1].startswith("nothing ran: all 1 already done")


@pytest.mark.docker
def test_a_container_already_being_removed_is_no_warning(docker_client, image, made, caplog):
    """Ctrl-C's sweep and an instance's own clean-up both remove its container: the second gets 409
    (the engine's answer while a removal is under way), which is no news; another failure is."""

    def refused(status: int, explanation: str):
        def remove(**_):
            response = type("Response", (), {"status_code": status, "reason": "", "url": ""})()
            raise docker.errors.APIError(str(status), response, explanation=explanation)
        return remove

    for status, explanation, expected in ((409, "removal of container is already in progress", []),
                                          (500, "driver failed", ["could not remove container"])):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="evalharness"):
            with running_container(docker_client, image, run_id=f"gc-409-{uuid.uuid4().hex[:6]}",
                                   instance_id=TASK.instance_id, purpose="test") as env:
                made.containers.append(env.container.id)  # removed at the end, as the engine would have
                env.container.remove = refused(status, explanation)
        messages = [r.getMessage() for r in caplog.records]
        assert [m.split(":")[0].rsplit(" ", 1)[0] for m in messages] == expected, messages
        if expected:
            assert messages[0].endswith(f": {explanation}")
