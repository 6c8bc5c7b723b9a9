"""Where to add an environment kind and a scorer (docs/ARCHITECTURE.md), checked by doing it:
a toy kind and a toy scorer defined here plug in through their registries alone."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from evalharness.cli import main
from evalharness.core.results import ResultStore
from evalharness.core.status import Status
from evalharness.env import ENVIRONMENTS, get_environment_class
from evalharness.env.base import ExecResult
from evalharness.env.shell import BASH_ARGV, open_shell
from evalharness.scorers import SCORERS, Scorer, ScoreResult, get_scorer
from test_scorer_local import make_spec


class _PipeTransport:
    """The toy's own bash, as the shell's Transport protocol asks (not the local kind's)."""

    def __init__(self, cwd: str):
        self.proc = subprocess.Popen(BASH_ARGV, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv(self) -> bytes | None:
        return os.read(self.proc.stdout.fileno(), 1 << 16) or None

    def exit_code(self) -> int | None:
        return self.proc.wait(timeout=5)

    def helper(self, argv: list[str]) -> str:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60).stdout.decode()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class ToyEnvironment:
    def __init__(self, workdir: str):
        self.workdir = workdir

    def exec(self, command: str, timeout: float | None = None, workdir: str | None = None) -> ExecResult:
        done = subprocess.run(["bash", "-c", command], cwd=workdir or self.workdir, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
        return ExecResult(done.returncode, done.stdout.decode())

    def write_file(self, path: str, content: str | bytes) -> None:
        with open(os.path.join(self.workdir, path), "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)

    def open_shell(self):
        return open_shell(self)

    def shell_transport(self, cwd: str) -> _PipeTransport:
        return _PipeTransport(cwd)


class ToyScorer(Scorer):
    """Resolved when the patch's marker file holds "ok"."""

    name = "toy"

    def score(self, task, patch, env, spec) -> ScoreResult:
        env.write_file("marker", patch)
        ok = env.exec("grep -qx ok marker").exit_code == 0
        return ScoreResult(status=Status.RESOLVED if ok else Status.UNRESOLVED, resolved=ok)


def test_a_toy_environment_kind_gets_a_working_shell_through_the_registry(monkeypatch, tmp_path):
    monkeypatch.setitem(ENVIRONMENTS, "toy", ToyEnvironment)
    env = get_environment_class("toy")(str(tmp_path))
    with env.open_shell() as shell:
        shell.run("mkdir sub && cd sub && export TOY=1")
        out = shell.run("pwd; echo $TOY")
    assert out.output.split() == [str(tmp_path / "sub"), "1"] and out.exit_code == 0


def test_a_toy_scorer_plugs_in_through_the_registry(monkeypatch, tmp_path):
    monkeypatch.setitem(SCORERS, "toy", ToyScorer)
    scorer = get_scorer("toy")
    env = ToyEnvironment(str(tmp_path))
    assert scorer.score(None, "ok\n", env, make_spec()).resolved
    assert get_scorer("toy").score(None, "no\n", env, make_spec()).status is Status.UNRESOLVED


class PatchAppliesScorer(Scorer):
    """Resolved when the patch applies to the repo (`git apply --check`), its tests unrun. It
    subclasses Scorer for the defaults: no fixed test environment, no services beside the tests."""

    name = "applies"

    def score(self, task, patch, env, spec) -> ScoreResult:
        env.write_file("/tmp/toy.patch", patch)
        ok = env.exec("git apply --check /tmp/toy.patch").exit_code == 0
        return ScoreResult(status=Status.RESOLVED if ok else Status.UNRESOLVED, resolved=ok, apply_method="check")


@pytest.mark.docker
def test_a_toy_scorer_grades_a_whole_eval_through_the_registry(monkeypatch, tmp_path, cache_dir, docker_client):
    # the pipeline, runner and CLI know no scorer by name: registering one is all it takes
    monkeypatch.setitem(SCORERS, "applies", PatchAppliesScorer)
    code = main(["eval", "--agent", "gold", "--scorer", "applies", "--instance-ids", "evalharness__confini-1",
                 "--reports-dir", str(tmp_path), "--run-id", "toy", "--cache-dir", str(cache_dir), "--no-progress"])
    assert code == 0
    (record,) = ResultStore(tmp_path / "toy").load().values()
    assert (record.status, record.resolved, record.apply_method) == ("resolved", True, "check")
    assert record.f2p_total == 0  # no tests ran: the toy's verdict, not the tests scorer's
    assert json.loads((tmp_path / "toy" / "run.json").read_text())["test_env"] == {}
