"""End to end against the real Docker engine: built-in tasks, gold and empty agents, every status.

Nothing here mocks Docker. Images are built once per session (base bootstrapped from
Debian when no registry answers) and shared by the tests.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evalharness.agents.base import AgentResult
from evalharness.cli import main
from evalharness.env.docker import running_container
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.agents.patch import collect_patch
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.tasks.repos import BuiltinRepos
from evalharness.core.results import SCHEMA
from evalharness.run.runner import RunConfig, Runner
from evalharness.scorers import get_scorer
from evalharness.tasks.specs import SpecRegistry

pytestmark = pytest.mark.docker

TASKS = load_tasks("builtin")


@pytest.fixture(scope="session")
def builder(docker_client, cache_dir) -> ImageBuilder:
    sources = [BuiltinRepos(default_tasks_dir() / "repos", cache_dir)]
    return ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir), sources)


@pytest.fixture(scope="session")
def specs() -> SpecRegistry:
    return SpecRegistry.from_files([default_tasks_dir() / "specs.toml"])


@pytest.fixture(scope="session")
def gold_run(tmp_path_factory, cache_dir, docker_client):
    """`evalharness eval --agent gold` over every built-in task, as a user runs it."""
    reports = tmp_path_factory.mktemp("reports")
    code = main(["eval", "--agent", "gold", "--workers", "2", "--reports-dir", str(reports),
                 "--run-id", "gold", "--cache-dir", str(cache_dir), "--no-progress"])
    assert code == 0
    return reports / "gold"


def _run(runner_agent, tasks, tmp_path, docker_client, builder, specs, run_id="r", workers=2):
    config = RunConfig(run_id=run_id, dataset="builtin", agent=getattr(runner_agent, "name", "custom"),
                       workers=workers, reports_dir=tmp_path)
    runner = Runner(config, client=docker_client, builder=builder, specs=specs, agent=runner_agent,
                    scorer=get_scorer("tests"))
    return runner.run(tasks, progress=False)


def test_gold_resolves_every_builtin_task(gold_run):
    table = pq.read_table(gold_run / "results.parquet")
    assert table.schema.names == SCHEMA.names
    rows = table.to_pylist()
    assert sorted(r["instance_id"] for r in rows) == sorted(t.instance_id for t in TASKS)
    for row in rows:
        assert row["status"] == "resolved", (row["instance_id"], row["error"])
        assert row["resolved"] is True
        assert row["f2p_passed"] == row["f2p_total"] > 0
        assert row["p2p_passed"] == row["p2p_total"]
        assert row["apply_method"] == "git apply"
        assert row["env_seconds"] >= 0 and row["agent_seconds"] > 0 and row["eval_seconds"] > 0
        assert row["started_at"] <= row["finished_at"]
        logs = gold_run / "logs" / row["instance_id"]
        assert (logs / "patch.diff").read_text() == row["patch"]
        assert ">>>>> Start Test Output" in (logs / "test_output.txt").read_text()
    meta = json.loads((gold_run / "run.json").read_text())
    assert meta["agent"] == "gold" and meta["dataset"] == "builtin"


def test_gold_patch_from_container_matches_dataset_files(gold_run):
    rows = {r["instance_id"]: r for r in pq.read_table(gold_run / "results.parquet").to_pylist()}
    for task in TASKS:
        assert task.test_files  # sanity
        changed = [line for line in rows[task.instance_id]["patch"].splitlines() if line.startswith("diff --git")]
        expected = [line for line in task.patch.splitlines() if line.startswith("diff --git")]
        assert changed == expected


def test_rerun_resumes_and_redo_reruns(gold_run, cache_dir, capsys):
    before = (gold_run / "results.parquet").stat().st_mtime_ns
    code = main(["eval", "--agent", "gold", "--reports-dir", str(gold_run.parent), "--run-id", "gold",
                 "--cache-dir", str(cache_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"nothing ran: all {len(TASKS)} already done in" in out
    assert f"resolved {len(TASKS)}/{len(TASKS)}" in out
    # redo of one instance runs it again and keeps exactly one row per instance
    first = TASKS[0].instance_id
    code = main(["eval", "--agent", "gold", "--reports-dir", str(gold_run.parent), "--run-id", "gold",
                 "--cache-dir", str(cache_dir), "--no-progress", "--redo", "--instance-ids", first])
    assert code == 0
    rows = pq.read_table(gold_run / "results.parquet").to_pylist()
    assert len(rows) == len(TASKS)
    assert (gold_run / "results.parquet").stat().st_mtime_ns != before


def test_run_id_with_other_agent_is_refused(gold_run, cache_dir, capsys):
    code = main(["eval", "--agent", "empty", "--reports-dir", str(gold_run.parent), "--run-id", "gold",
                 "--cache-dir", str(cache_dir), "--no-progress"])
    assert code == 2
    assert "exists with other settings" in capsys.readouterr().err


def test_second_build_is_a_no_op(gold_run, builder, specs, monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("an image was rebuilt although nothing changed")

    monkeypatch.setattr(builder, "_build", no_build)
    fresh = ImageBuilder(builder.client, builder.config, builder.repo_sources)
    monkeypatch.setattr(fresh, "_build", no_build)
    for task in TASKS:
        spec = specs.get(task.repo, task.version)
        assert fresh.instance_image(task, spec) == builder.instance_image(task, spec)


def test_base_image_was_bootstrapped_or_pulled(gold_run, docker_client, specs):
    # With no registry (CI), the OS layer can only come from debootstrap + docker import.
    images = [tag for image in docker_client.images.list() for tag in image.tags]
    assert any(tag.startswith("evalharness-base:py3.11-") for tag in images)
    os_image = docker_client.images.get("evalharness-os:bookworm")
    history = os_image.history()
    pulled = any(tag.startswith("debian:") for tag in os_image.tags)
    assert pulled or any("Imported" in (h.get("Comment") or "") for h in history)


def test_empty_agent_gives_empty_patch(tmp_path, docker_client, builder, specs, gold_run):
    from evalharness.agents import get_agent

    outcome = _run(get_agent("empty"), TASKS, tmp_path, docker_client, builder, specs, run_id="empty")
    assert {r.status for r in outcome.records} == {"empty_patch"}
    assert not any(r.resolved for r in outcome.records)


class ScriptAgent:
    """Runs a shell script in the container, then returns `git diff` (or a fixed patch)."""

    name = "script"

    def __init__(self, script: str = "", patch: str | None = None, fail: bool = False):
        self.script, self.patch, self.fail = script, patch, fail

    def run(self, task, env):
        if self.fail:
            raise RuntimeError("model exploded")
        if self.patch is not None:
            return AgentResult(patch=self.patch, turns=1)
        result = env.exec(self.script)
        assert result.ok, result.output
        return AgentResult(patch=collect_patch(env.exec, task.base_commit), turns=1)


LIBRARY_FILES = "git ls-files '*.py' | grep -v -E '(^|/)tests?/|test_|conftest' "


def test_breaking_patch_is_unresolved(tmp_path, docker_client, builder, specs, gold_run):
    agent = ScriptAgent(LIBRARY_FILES + "| while read f; do echo 'raise RuntimeError(\"broken\")' >> $f; done")
    outcome = _run(agent, TASKS[:2], tmp_path, docker_client, builder, specs)
    for record in outcome.records:
        assert record.status == "unresolved", record.error
        assert record.f2p_passed == 0 and record.apply_method == "git apply"


def test_looping_patch_times_out(tmp_path, docker_client, builder, specs, gold_run):
    task = TASKS[0]
    quick = SpecRegistry([dataclasses.replace(specs.get(task.repo, task.version), test_timeout=5)])
    agent = ScriptAgent(LIBRARY_FILES + "| while read f; do printf 'while True:\\n    pass\\n' >> $f; done")
    outcome = _run(agent, [task], tmp_path, docker_client, builder, quick)
    (record,) = outcome.records
    assert record.status == "test_timeout"
    assert record.eval_seconds >= 5  # the test command ran into its 5 s limit


def test_garbage_patch_fails_to_apply(tmp_path, docker_client, builder, specs, gold_run):
    agent = ScriptAgent(patch="diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n")
    outcome = _run(agent, TASKS[:1], tmp_path, docker_client, builder, specs)
    assert outcome.records[0].status == "patch_apply_failed"
    log = (tmp_path / "r" / "logs" / TASKS[0].instance_id / "apply.log").read_text()
    assert "nope.py" in log


def test_agent_exception_is_agent_error(tmp_path, docker_client, builder, specs, gold_run):
    outcome = _run(ScriptAgent(fail=True), TASKS[:1], tmp_path, docker_client, builder, specs)
    record = outcome.records[0]
    assert record.status == "agent_error" and "model exploded" in record.error
    assert "RuntimeError" in (tmp_path / "r" / "logs" / TASKS[0].instance_id / "agent_error.txt").read_text()


def test_env_build_failure_is_recorded_and_run_goes_on(tmp_path, docker_client, builder, specs, gold_run):
    by_repo = {}
    for task in TASKS:
        by_repo.setdefault(task.repo, []).append(task)
    broken_repo, good_repo = sorted(by_repo)[:2]
    broken_spec = dataclasses.replace(
        specs.get(broken_repo, "1.0"), pip=("evalharness-no-such-package-xyz==0.0.1",)
    )
    registry = SpecRegistry([broken_spec, specs.get(good_repo, "1.0")])
    from evalharness.agents import get_agent

    tasks = by_repo[broken_repo][:2] + by_repo[good_repo][:1]
    outcome = _run(get_agent("gold"), tasks, tmp_path, docker_client, builder, registry)
    status = {r.instance_id: r for r in outcome.records}
    for task in by_repo[broken_repo][:2]:
        assert status[task.instance_id].status == "env_build_failed"
        assert "failed" in status[task.instance_id].error
        assert "evalharness-no-such-package-xyz" in (
            tmp_path / "r" / "logs" / task.instance_id / "build_failure.log").read_text()
    assert status[by_repo[good_repo][0].instance_id].status == "resolved"


def test_containers_are_removed(docker_client, gold_run, builder, specs):
    task = TASKS[0]
    image = builder.instance_image(task, specs.get(task.repo, task.version))
    with running_container(docker_client, image, run_id="leak-check", instance_id=task.instance_id,
                           purpose="test") as env:
        assert env.exec("pwd").output.strip() == "/testbed"
        assert env.exec("git status --porcelain").output == ""
        env.write_file("sub/dir/new.txt", "hello")
        assert env.exec("cat sub/dir/new.txt").output == "hello"
        # no network by default: only the loopback interface exists
        assert env.exec("ls /sys/class/net").output.split() == ["lo"]
    left = docker_client.containers.list(all=True, filters={"label": "evalharness.run_id=leak-check"})
    assert left == []
    assert docker_client.containers.list(all=True, filters={"label": "evalharness.run_id=gold"}) == []


def test_git_history_stops_at_base_commit(docker_client, gold_run, builder, specs):
    task = TASKS[0]
    image = builder.instance_image(task, specs.get(task.repo, task.version))
    with running_container(docker_client, image, run_id="hist", instance_id=task.instance_id, purpose="test") as env:
        assert env.exec("git rev-parse HEAD").output.strip() == task.base_commit
        assert env.exec("git remote").output.strip() == ""
        refs = env.exec("git for-each-ref --format='%(objectname)'").output.split()
        assert set(refs) == {task.base_commit}


def test_results_have_one_row_per_instance_even_after_crash_leftovers(gold_run):
    # A temp file left by a crash mid-write is ignored and never shows up as a row.
    (gold_run / "records" / ".x.json.123.tmp").write_text("{half")
    from evalharness.core.results import ResultStore

    store = ResultStore(gold_run)
    assert len(store.load()) == len(TASKS)
    store.compact()
    assert pq.read_table(store.parquet_path).num_rows == len(TASKS)
    assert Path(store.parquet_path).exists()


def test_interrupt_removes_containers_and_keeps_no_half_record(tmp_path, docker_client, builder, specs, gold_run):
    """Ctrl-C mid-run: containers of the run are gone, unfinished instances get no record."""
    import os
    import signal
    import threading
    import time

    tasks = TASKS[:3]

    class Sleeper(ScriptAgent):
        def run(self, task, env):
            env.exec("sleep 900")
            return AgentResult(patch="", turns=1)

    def interrupt_when_started():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if docker_client.containers.list(filters={"label": "evalharness.run_id=intr"}):
                time.sleep(1)
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends
                return
            time.sleep(0.2)

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _run(Sleeper(), tasks, tmp_path, docker_client, builder, specs, run_id="intr", workers=2)
    assert time.monotonic() - start < 450  # the agents' 900 s sleeps were stopped, not waited for
    assert docker_client.containers.list(all=True, filters={"label": "evalharness.run_id=intr"}) == []
    records = list((tmp_path / "intr" / "records").glob("*.json")) if (tmp_path / "intr" / "records").exists() else []
    assert records == []
    assert pq.read_table(tmp_path / "intr" / "results.parquet").num_rows == 0
    assert (tmp_path / "intr" / "predictions.jsonl").read_text() == ""  # written on Ctrl-C too, for what finished


# ---------------------------------------------------------------- official SWE-bench images (a stand-in)

STANDIN_NAMESPACE = "evalharness-standin"
# What miniconda's activate provides, as far as the official scripts use it: `conda activate testbed`.
STANDIN_ACTIVATE = """\
conda() {
  if [ "$1" = activate ] && [ "$2" = testbed ]; then
    export PATH=/opt/miniconda3/envs/testbed/bin:$PATH CONDA_DEFAULT_ENV=testbed \\
      CONDA_PREFIX=/opt/miniconda3/envs/testbed
  else
    echo "conda (stand-in): unsupported: $*" >&2
    return 1
  fi
}
"""


def official_script(task, crlf: bool = False) -> str:
    """An eval script in the shape of the dataset's (markers, git checkout, heredoc, test command)."""
    files = " ".join(task.test_files)
    body = (
        "#!/bin/bash\nset -uxo pipefail\nsource /opt/miniconda3/bin/activate\nconda activate testbed\n"
        "cd /testbed\ngit config --global --add safe.directory /testbed\ncd /testbed\ngit status\ngit show\n"
        f"git -c core.fileMode=false diff {task.base_commit}\nsource /opt/miniconda3/bin/activate\n"
        "conda activate testbed\npython -m pip install --no-deps --no-build-isolation -e .\n"
        ": official-standin-script\n"
        f"git checkout {task.base_commit} {files}\ngit apply -v - <<'EOF_114329324912'\n{task.test_patch}"
        "EOF_114329324912\n: '>>>>> Start Test Output'\n"
        f"pytest -rA -p no:cacheprovider {files}\n: '>>>>> End Test Output'\n"
        f"git checkout {task.base_commit} {files}\n"
    )
    return body.replace("\n", "\r\n") if crlf else body


@pytest.fixture(scope="session")
def official_tasks(docker_client, builder, specs, gold_run):
    """Two built-in tasks as official-image rows, their stand-in images tagged locally.

    A stand-in image is the task's instance image with its venv moved out of PATH and
    reachable only through `source /opt/miniconda3/bin/activate && conda activate testbed`,
    as in the official images, so a command run without activation finds no pytest.
    """
    import io
    import tarfile

    out = []
    for task, crlf in ((TASKS[0], False), (TASKS[-1], True)):
        base = builder.instance_image(task, specs.get(task.repo, task.version))
        key = task.instance_id.lower().replace("__", "_1776_")
        name = f"{STANDIN_NAMESPACE}/sweb.eval.x86_64.{key}:latest"
        dockerfile = (
            f"FROM {base}\nCOPY activate /opt/miniconda3/bin/activate\n"
            "RUN mkdir -p /opt/miniconda3/envs && ln -s /opt/venv /opt/miniconda3/envs/testbed\n"
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin VIRTUAL_ENV=\n"
            "LABEL evalharness=1 evalharness.layer=test-standin\n"
        )
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for fname, data in (("Dockerfile", dockerfile), ("activate", STANDIN_ACTIVATE)):
                info = tarfile.TarInfo(fname)
                info.size = len(data.encode())
                tar.addfile(info, io.BytesIO(data.encode()))
        buf.seek(0)
        docker_client.images.build(fileobj=buf, custom_context=True, tag=name, rm=True)
        out.append(dataclasses.replace(task, image=name, eval_script=official_script(task, crlf),
                                       log_parser="parse_log_pytest"))
    return out


def test_official_image_runs_the_datasets_script_gold_resolves_empty_does_not(
        tmp_path, docker_client, builder, specs, official_tasks):
    from evalharness.agents import get_agent

    gold = _run(get_agent("gold"), official_tasks, tmp_path, docker_client, builder, specs, run_id="gold")
    for record in gold.records:
        assert record.status == "resolved", record.error
        logs = tmp_path / "gold" / "logs" / record.instance_id
        output = (logs / "test_output.txt").read_text()
        assert "+ : official-standin-script" in output  # the dataset's script ran, not ours
        assert "+ conda activate testbed" in output
        assert "using the official image evalharness-standin/" in (logs / "build.log").read_text()
    empty = _run(get_agent("empty"), official_tasks, tmp_path, docker_client, builder, specs, run_id="empty")
    assert {r.status for r in empty.records} == {"empty_patch"}
    # a patch that breaks the code is graded by the official script too
    breaking = _run(ScriptAgent(LIBRARY_FILES + "| while read f; do echo 'raise RuntimeError(\"x\")' >> $f; done"),
                    official_tasks[:1], tmp_path, docker_client, builder, specs, run_id="broken")
    assert breaking.records[0].status == "unresolved"


def test_agent_commands_in_an_official_image_run_in_the_conda_env(docker_client, builder, official_tasks):
    task = official_tasks[0]
    image = builder.image_for(task, None)
    assert image.official and image.origin == "local" and image.tag == task.image
    with running_container(docker_client, image.tag, run_id="conda", instance_id=task.instance_id,
                           purpose="test") as raw:
        assert raw.exec("command -v pytest").exit_code != 0  # not without activation
        env = builder.environment(image.tag, raw)
        assert env.exec("command -v pytest").output.strip() == "/opt/miniconda3/envs/testbed/bin/pytest"
        assert env.exec("echo $CONDA_DEFAULT_ENV").output.strip() == "testbed"
        shell = env.open_shell()
        try:
            assert shell.run("cd /tmp && command -v pytest").output.strip().endswith("testbed/bin/pytest")
            assert shell.run("pwd").output.strip() == "/tmp"
        finally:
            shell.close()


def test_official_image_missing_falls_back_to_a_local_build(tmp_path, docker_client, builder, specs, official_tasks):
    """--namespace given, the image not here and no registry: the spec builds it; without a spec, a clear failure."""
    from evalharness.agents import get_agent

    task = dataclasses.replace(official_tasks[0], image=None)  # named from the namespace
    fresh = ImageBuilder(docker_client, dataclasses.replace(builder.config, namespace="evalharness-nowhere"),
                         builder.repo_sources)
    outcome = _run(get_agent("gold"), [task], tmp_path, docker_client, fresh, specs, run_id="fallback")
    assert outcome.records[0].status == "resolved", outcome.records[0].error
    log = (tmp_path / "fallback" / "logs" / task.instance_id / "build.log").read_text()
    assert "could not pull the official image evalharness-nowhere/sweb.eval.x86_64." in log
    assert "building the image from the specs instead" in log
    outcome = _run(get_agent("gold"), [task], tmp_path, docker_client, fresh, SpecRegistry([]), run_id="nospec")
    record = outcome.records[0]
    assert record.status == "env_build_failed"
    assert "no environment spec for" in record.error and "could not pull the official image" in record.error
