"""CLI behaviour that needs no Docker: user mistakes are one clear line, never a traceback."""

import pytest

from evalharness.cli import default_run_id, main


def test_cli_user_errors_are_one_line(capsys, tmp_path):
    assert main(["eval", "--dataset", str(tmp_path / "missing.jsonl"), "--reports-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evalharness: error: dataset file not found") and "Traceback" not in err
    assert main(["eval", "--agent", "nope", "--reports-dir", str(tmp_path)]) == 2
    assert "unknown agent 'nope'" in capsys.readouterr().err
    assert main(["eval", "--scorer", "nope", "--reports-dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["eval", "--filter", "(", "--reports-dir", str(tmp_path)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["summary", str(tmp_path / "no-run")]) == 2
    assert "no run at" in capsys.readouterr().err


def test_bad_flag_values_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--workers", "0"])
    assert exc.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_tasks_lists_the_selection(capsys):
    assert main(["tasks", "--slice", "0:2"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 2
    assert "2 task(s)" in captured.err


def test_default_run_id_is_deterministic():
    assert default_run_id("gold", "", "builtin", "test") == "gold__builtin"
    assert default_run_id("llm", "qwen3-coder", "princeton-nlp/SWE-bench_Verified", "test") == (
        "llm-qwen3-coder__princeton-nlp_SWE-bench_Verified-test"
    )
    assert default_run_id("gold", "", "../shared/SWE-bench_Verified/test.parquet", "test") == (
        "gold__SWE-bench_Verified-test"
    )
    assert default_run_id("gold", "", "mine.jsonl", "test") == "gold__mine"


def test_eval_with_an_empty_selection_is_a_user_error(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["eval", "--dataset", str(empty), "--reports-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has no tasks" in err and "Traceback" not in err
    assert main(["eval", "--dataset", "builtin", "--filter", "^nothing-matches$", "--reports-dir", str(tmp_path)]) == 2
    assert "selects none of its tasks" in capsys.readouterr().err
    assert not (tmp_path / "gold__empty").exists()
