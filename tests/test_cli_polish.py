"""The CLI's rough edges of issue 20 §5, and `summary` on a partial run (§3): help written for
users, one line for a bad flag, "did you mean", aligned columns, and final lines that say what
a resumed or stopped run really did."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from evalharness.cli import build_parser, main
from evalharness.cli.evaluate import resumed_line
from evalharness.core.results import InstanceRecord, ResultStore
from evalharness.core.run_meta import RUN_JSON
from evalharness.run.config import RunConfig
from evalharness.run.runner import RunOutcome, _run_lock
from evalharness.tasks.datasets import load_tasks

TASKS = load_tasks("builtin")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_is_for_users_and_names_every_command(capsys):
    text = _help(capsys)
    assert "Command line:" not in text and "no traceback" not in text  # the developers' note is gone
    assert "Run coding agents on SWE-bench-style tasks" in text
    commands = _subcommands()
    assert {"eval", "validate", "tasks", "build", "summary", "models", "serve", "report", "compare",
            "serve-envs", "rollout", "gc"} <= set(commands)
    for name in commands:
        assert f"\n    {name} " in text or f"\n    {name}\n" in text, name
    assert "examples:" in text and "evalharness eval --dataset builtin --agent gold" in text


@pytest.mark.parametrize("command", ["eval", "validate", "tasks", "build", "summary", "models", "serve", "report",
                                     "compare", "gc"])
def test_each_command_shows_an_example_and_explains_v(capsys, command):
    argv = [command, "--help"]
    text = _help(capsys, *argv[:-1])
    example = text.split("example:\n", 1)
    assert len(example) == 2, text
    assert example[1].lstrip().startswith(f"evalharness {command}")
    assert "-v, --verbose" in text and "-vv debug" in text


def test_positionals_have_help_and_defaults_are_shown(capsys):
    summary = _help(capsys, "summary")
    assert "RUN_DIR        a run's folder" in summary
    compare = _help(capsys, "compare")
    assert "BASE                 the reference run's folder" in compare and "NEW                  the run folder" in compare
    report = _help(capsys, "report")
    assert "BASE the reference run" in report
    eval_ = " ".join(_help(capsys, "eval").split())  # unwrapped
    for shown in ("(default: builtin)", "split of a Hugging Face dataset (default: test)", "(default 2, as `make eval`)",
                  "where runs are written (default: reports)", "(default: tests)", "(default 100)"):
        assert shown in eval_, shown
    assert "(default: False)" not in eval_ and "(default: None)" not in eval_ and "(default: [])" not in eval_


def test_eval_workers_default_to_two_as_make_eval():
    assert build_parser().parse_args(["eval"]).workers == 2
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "WORKERS ?= 2" in makefile


@pytest.mark.parametrize("argv, line", [
    (["eval", "--workers", "0"], "evalharness eval: error: argument --workers: must be at least 1"),
    (["tasks", "--seed", "x"], "evalharness tasks: error: argument --seed: invalid int value: 'x'"),
    (["nope"], "evalharness: error: argument COMMAND: invalid choice: 'nope'"),
])
def test_a_bad_flag_is_one_line_and_a_hint_not_the_usage_block(capsys, argv, line):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    first, hint = err.splitlines()
    assert first.startswith(line), err
    assert hint == f"(`{line.split(': error')[0]} --help` lists the options)"
    assert "usage:" not in err


def test_a_near_miss_instance_id_gets_did_you_mean(capsys):
    real = TASKS[0].instance_id  # evalharness__confini-1
    typo = real.replace("evalharness", "evalharnes", 1)
    assert main(["tasks", "--instance-ids", f"{typo},zzz__nothing-1"]) == 2
    assert capsys.readouterr().err == (f"evalharness: error: unknown instance ids: {typo} (did you mean {real}?), "
                                       "zzz__nothing-1\n")


def test_models_columns_stay_aligned_with_a_long_key_name(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("A_RATHER_LONG_PROVIDER_API_KEY", raising=False)
    models = tmp_path / "models.toml"
    models.write_text('[models.x]\nbase_url = "http://h/v1"\nmodel = "m"\napi_key_env = "A_RATHER_LONG_PROVIDER_API_KEY"\n')
    assert main(["models", "--models", str(models)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], lines[1:]
    column = header.index("model id")
    for row in rows:  # each row's model id starts under the header, after at least two spaces
        assert row[column - 2:column] == "  " and row[column] != " ", row
    assert any("A_RATHER_LONG_PROVIDER_API_KEY unset" in row for row in rows)


def test_the_final_line_of_a_resume_says_what_ran(tmp_path):
    records = [_record(t.instance_id) for t in TASKS]
    run_dir = tmp_path / "gold__builtin"
    assert resumed_line(RunOutcome(run_dir, records, ran=0, skipped=len(records))) == (
        f"nothing ran: all {len(TASKS)} already done in {run_dir} (resolved {len(TASKS)}/{len(TASKS)}); "
        "--redo runs them again")
    assert resumed_line(RunOutcome(run_dir, records, ran=3, skipped=len(records) - 3)) == (
        f"resumed: 3 ran, {len(TASKS) - 3} already done in {run_dir} (resolved {len(TASKS)}/{len(TASKS)}); "
        "--redo runs them all again")


@pytest.mark.docker
def test_a_second_eval_that_ran_nothing_says_so_on_its_last_line(tmp_path, capsys):
    """A finished run given again: nothing is built or run (all records are there), and the last line says so."""
    reports = tmp_path / "reports"
    chosen = TASKS[:2]
    _fake_run(reports / "gold__builtin", chosen, planned=len(chosen))
    assert main(["eval", "--agent", "gold", "--reports-dir", str(reports), "--no-progress",
                 "--instance-ids", ",".join(t.instance_id for t in chosen)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "resolved 2/2 (100.0%)"
    assert out[-1] == f"nothing ran: all 2 already done in {reports / 'gold__builtin'} (resolved 2/2); --redo runs them again"


def test_summary_of_a_stopped_run_says_incomplete(tmp_path, capsys):
    run_dir = tmp_path / "gold__builtin"
    _fake_run(run_dir, TASKS[:4], planned=len(TASKS))
    assert main(["summary", str(run_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"incomplete: 4/{len(TASKS)}; the figures below are over those 4")
    assert out[1] == "resolved 4/4 (100.0%)"
    with _run_lock(run_dir, "gold__builtin"):  # a process running it now: in progress, not stopped
        assert main(["summary", str(run_dir)]) == 0
        assert capsys.readouterr().out.startswith(f"in progress: 4/{len(TASKS)} done so far")


def test_summary_of_a_whole_run_has_no_note(tmp_path, capsys):
    run_dir = tmp_path / "gold__builtin"
    _fake_run(run_dir, TASKS[:3], planned=3)
    assert main(["summary", str(run_dir)]) == 0
    assert capsys.readouterr().out.startswith("resolved 3/3 (100.0%)\n")


def _record(instance_id: str) -> InstanceRecord:
    return InstanceRecord(run_id="gold__builtin", model="", agent="gold", dataset="builtin", instance_id=instance_id,
                          repo="evalharness/x", version="1.0", status="resolved", resolved=True)


def _fake_run(run_dir: Path, tasks, planned: int) -> None:
    """A run folder as a run killed after len(tasks) of `planned` instances leaves it."""
    config = RunConfig(run_id=run_dir.name, dataset="builtin", agent="gold", reports_dir=run_dir.parent)
    run_dir.mkdir(parents=True)
    (run_dir / RUN_JSON).write_bytes(config.meta(planned).to_json())
    store = ResultStore(run_dir)
    for task in tasks:
        store.add(_record(task.instance_id))


SPAM_CTRL_C = r'''
import argparse, atexit, os, signal, sys, threading, time
import evalharness.cli as cli

def spam():  # Ctrl-C held down: one every half millisecond until the process is gone
    time.sleep(0.05)
    while True:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.0005)

def interrupted(args):
    threading.Thread(target=spam, daemon=True).start()
    atexit.register(time.sleep, 0.3)  # a shutdown that takes a while, as closing clients does
    raise KeyboardInterrupt("run r keeps the 0 instance(s) that finished")

class Parser:  # a command line that names `interrupted` as its command
    def parse_args(self, argv=None):
        return argparse.Namespace(verbose=0, func=interrupted)

cli.build_parser = Parser
sys.exit(cli.main([]))
'''


def test_ctrl_c_after_the_interrupted_line_does_not_kill_the_exit(tmp_path):
    """More Ctrl-Cs while the process shuts down (the CI flake: exit -2 after the line was printed)
    leave it exiting 130 with the one line and no traceback."""
    import subprocess
    import sys

    script = tmp_path / "spam.py"
    script.write_text(SPAM_CTRL_C)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "evalharness: interrupted: run r keeps the 0 instance(s) that finished; run the same command to resume"]
