"""A newcomer's bad predictions file gets one line naming the row (issue 20 §2), never a silent
0/N `empty_patch`: misnamed keys and files without `model_patch` fail, duplicates and rows
without a patch are warned about, and `--predictions` is refused where no agent reads it."""

from __future__ import annotations

import json
import logging

import pytest

from evalharness.cli import main
from evalharness.core.errors import UserError
from evalharness.tasks.datasets import load_tasks
from evalharness.tasks.predictions import read_predictions

TASK = load_tasks("builtin")[0].instance_id


def _jsonl(tmp_path, *rows, name="preds.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("key", ["patch", "model_patches", "modelpatch", "model-patch", "modelPatch", "diff"])
def test_a_misnamed_model_patch_key_is_an_error_naming_the_row(tmp_path, key):
    path = _jsonl(tmp_path, {"instance_id": "a", "model_patch": "x"}, {"instance_id": "b", key: "diff --git"})
    with pytest.raises(UserError) as caught:
        read_predictions(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "preds.jsonl line 2 ('b')" in message and f"key {key!r}" in message and "'model_patch'" in message


def test_no_row_with_model_patch_is_an_error(tmp_path):
    path = _jsonl(tmp_path, {"instance_id": "a", "answer": "x"}, {"instance_id": "b", "answer": "y"})
    with pytest.raises(UserError, match=r"preds.jsonl: no row has a 'model_patch' key \(line 1 has 'instance_id', "
                                        r"'answer'\)"):
        read_predictions(path)


def test_the_json_forms_name_their_item(tmp_path):
    listed = tmp_path / "preds.json"
    listed.write_text(json.dumps([{"instance_id": "a", "model_patch": ""}, {"instance_id": "b", "patch": "x"}]))
    with pytest.raises(UserError, match=r"item 1 \('b'\): key 'patch' looks like a misnamed 'model_patch'"):
        read_predictions(listed)
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"a": {"model_patch": "x"}, "b": {"patch": "y"}}))
    with pytest.raises(UserError, match=r"item 1 \('b'\): key 'patch'"):
        read_predictions(keyed)


def test_duplicates_null_and_missing_patches_are_warned_naming_the_rows(tmp_path, caplog):
    path = _jsonl(tmp_path,
                  {"instance_id": "a", "model_patch": "first"},
                  {"instance_id": "b", "model_patch": None},
                  {"instance_id": "a", "model_patch": "second"},
                  {"instance_id": "c", "model_name_or_path": "m"})
    with caplog.at_level(logging.WARNING):
        predictions = read_predictions(path)
    assert predictions["a"].model_patch == "second"  # the last one counts, as in the official harness
    assert predictions["b"].model_patch == predictions["c"].model_patch == ""
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    duplicate, missing, null = lines
    assert "1 instance id(s) given more than once, the last one counts: 'a' (line 1, line 3)" in duplicate
    assert "no 'model_patch' key, graded as empty_patch: line 4 ('c')" in missing
    assert "'model_patch': null, graded as empty_patch: line 2 ('b')" in null


def test_a_clean_file_warns_nothing(tmp_path, caplog):
    path = _jsonl(tmp_path, {"instance_id": "a", "model_name_or_path": "m", "model_patch": "x"},
                  {"instance_id": "b", "model_name_or_path": "m", "model_patch": ""})
    with caplog.at_level(logging.WARNING):
        assert set(read_predictions(path)) == {"a", "b"}
    assert caplog.records == []


@pytest.mark.parametrize("text, where", [
    ('{"instance_id": "a", "model_patch": "x}\n', "line 1: not valid JSON (Unterminated string starting at: column 37)"),
    ('[{"instance_id": "a",\n  "model_patch": "x"},\n  {"instance_id" "b"}]',
     "not valid JSON (Expecting ':' delimiter: line 3 column 18)"),
])
def test_json_errors_keep_the_position_without_doubled_words(tmp_path, text, where):
    path = tmp_path / "preds.jsonl"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        read_predictions(path)
    assert where in str(caught.value) and "at at" not in str(caught.value)


def test_dataset_json_errors_keep_the_position_too(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"instance_id": "x", "repo": "a/b\n')
    with pytest.raises(UserError) as caught:
        load_tasks(str(path))
    assert "line 1: not valid JSON (Unterminated string starting at: column 30)" in str(caught.value)
    assert "at at" not in str(caught.value)


def test_the_cli_says_each_mistake_in_one_line(tmp_path, capsys):
    misnamed = _jsonl(tmp_path, {"instance_id": TASK, "patch": "x"})
    assert main(["eval", "--agent", "replay", "--predictions", str(misnamed), "--instance-ids", TASK,
                 "--reports-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 1" in err and "'patch'" in err and "Traceback" not in err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["eval", "--predictions", str(empty), "--instance-ids", TASK, "--reports-dir", str(tmp_path / "r")]) == 2
    assert "no predictions in it" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing was started


@pytest.mark.parametrize("agent", ["gold", "empty", "llm"])
def test_predictions_with_an_agent_that_does_not_read_them_is_refused(tmp_path, capsys, agent):
    path = _jsonl(tmp_path, {"instance_id": TASK, "model_patch": "x"})
    assert main(["eval", "--agent", agent, "--predictions", str(path), "--reports-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == f"evalharness: error: --predictions is read only by --agent replay, not --agent {agent}; " \
                  "drop one of the two\n"
