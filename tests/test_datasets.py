"""Dataset loading and filtering: local files, the shared SWE-bench files, the HF path offline."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pandas as pd
import pytest

import evalharness.tasks.datasets as datasets_module
from evalharness.tasks.datasets import (
    TaskFilter,
    apply_filter,
    default_tasks_dir,
    load_tasks,
    parse_slice,
    write_jsonl,
)
from evalharness.core.errors import UserError
from evalharness.core.task import Task

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
VERIFIED = SHARED / "SWE-bench_Verified" / "test.parquet"
LITE = SHARED / "SWE-bench_Lite" / "test.parquet"

PATCH = "diff --git a/src/m.py b/src/m.py\n--- a/src/m.py\n+++ b/src/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
TEST_PATCH = "diff --git a/tests/test_m.py b/tests/test_m.py\n--- a/tests/test_m.py\n+++ b/tests/test_m.py\n@@ -1 +1 @@\n-a\n+b\n"


def make_row(iid: str = "acme__widget-1", repo: str = "acme/widget", **overrides) -> dict:
    row = {
        "instance_id": iid,
        "repo": repo,
        "base_commit": "0" * 40,
        "patch": PATCH,
        "test_patch": TEST_PATCH,
        "problem_statement": f"Problem of {iid}",
        "hints_text": "",
        "created_at": "2024-01-01T00:00:00Z",
        "version": "1.0",
        "FAIL_TO_PASS": json.dumps([f"tests/test_m.py::test_{iid.split('-')[-1]}"]),
        "PASS_TO_PASS": json.dumps(["tests/test_m.py::test_ok"]),
        "environment_setup_commit": "1" * 40,
    }
    row.update(overrides)
    return row


def make_tasks() -> list[Task]:
    rows = [make_row(f"acme__widget-{i}") for i in range(1, 6)]
    rows += [make_row(f"beta__gizmo-{i}", repo="beta/gizmo") for i in range(10, 14)]
    rows += [make_row("gamma__thing-7", repo="gamma/thing", image="img:1", eval_script="#!/bin/bash\n", log_parser="parse_log_pytest")]
    return [Task.from_row(r) for r in rows]


def write_rows_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def ids(tasks) -> list[str]:
    return [t.instance_id for t in tasks]


# ----------------------------------------------------------------- the shared SWE-bench files


@pytest.fixture(scope="module")
def verified() -> list[Task]:
    return load_tasks(str(VERIFIED))


def test_verified_file(verified):
    assert len(verified) == 500
    assert len({t.repo for t in verified}) == 12
    assert sum(t.repo == "django/django" for t in verified) == 231
    first = verified[0]
    assert isinstance(first.FAIL_TO_PASS, tuple) and first.FAIL_TO_PASS
    assert all(isinstance(t, str) for t in first.FAIL_TO_PASS + first.PASS_TO_PASS)
    assert all(t.image and t.eval_script and t.log_parser for t in verified)
    assert first.image.startswith("swebench/sweb.eval.")
    assert first.eval_script.startswith("#!/bin/bash")
    assert first.log_parser.startswith("parse_log_")
    assert first.difficulty
    assert first.extra.get("eval_type") in {"pass_and_fail", "fail_only"}
    assert len({t.instance_id for t in verified}) == 500


def test_lite_file():
    tasks = load_tasks(str(LITE))
    assert len(tasks) == 300
    assert all(isinstance(t.FAIL_TO_PASS, tuple) for t in tasks)
    assert all(t.difficulty is None for t in tasks)


def test_directory_with_split_file():
    assert len(load_tasks(str(VERIFIED.parent), split="test")) == 500
    with pytest.raises(UserError, match="dataset file not found.*dev.parquet"):
        load_tasks(str(VERIFIED.parent), split="dev")


def test_verified_filters(verified):
    flt = TaskFilter(repos=("psf/requests", "pallets/flask"))
    assert len(apply_filter(verified, flt)) == 9
    assert ids(apply_filter(verified, TaskFilter(regex=r"^sympy__", slice=":3"))) == ids(
        [t for t in verified if t.repo == "sympy/sympy"][:3]
    )


# ----------------------------------------------------------------- round trips


def test_jsonl_round_trip(tmp_path):
    tasks = make_tasks()
    path = write_jsonl(tasks, tmp_path / "sub" / "tasks.jsonl")
    loaded = load_tasks(str(path))
    assert loaded == tasks
    assert loaded[-1].image == "img:1" and loaded[-1].log_parser == "parse_log_pytest"
    row = json.loads(path.read_text().splitlines()[0])
    assert isinstance(row["FAIL_TO_PASS"], str)  # SWE-bench schema: JSON string


def test_jsonl_blank_lines_and_list_fields(tmp_path):
    rows = [make_row("a__b-1", FAIL_TO_PASS=["t::one", "t::two"], PASS_TO_PASS=[]), make_row("a__b-2", repo="a/b")]
    path = tmp_path / "data.jsonl"
    path.write_text("\n" + json.dumps(rows[0]) + "\n\n   \n" + json.dumps(rows[1]) + "\n\n")
    tasks = load_tasks(str(path))
    assert ids(tasks) == ["a__b-1", "a__b-2"]
    assert tasks[0].FAIL_TO_PASS == ("t::one", "t::two")
    assert tasks[0].PASS_TO_PASS == ()


@pytest.mark.parametrize("wrap", [None, "instances", "data"])
def test_json_round_trip(tmp_path, wrap):
    tasks = make_tasks()
    rows = [t.to_row() for t in tasks]
    rows[0]["FAIL_TO_PASS"] = list(tasks[0].FAIL_TO_PASS)  # a list instead of a JSON string
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(rows if wrap is None else {wrap: rows}))
    assert load_tasks(str(path)) == tasks


def test_parquet_round_trip(tmp_path):
    tasks = make_tasks()
    rows = [t.to_row() for t in tasks]
    path = tmp_path / "tasks.parquet"
    pd.DataFrame(rows).to_parquet(path)  # image etc. missing on most rows -> None
    loaded = load_tasks(str(path))
    assert loaded == tasks
    assert loaded[0].image is None and loaded[-1].image == "img:1"


def test_parquet_list_columns(tmp_path):
    # F2P/P2P stored as real list columns: they come back as Python lists (or numpy arrays).
    rows = [make_row(f"a__b-{i}", FAIL_TO_PASS=[f"t::{i}", "t::x"], PASS_TO_PASS=[]) for i in range(3)]
    path = tmp_path / "lists.parquet"
    pd.DataFrame(rows).to_parquet(path)
    tasks = load_tasks(str(path))
    assert [t.FAIL_TO_PASS for t in tasks] == [(f"t::{i}", "t::x") for i in range(3)]
    assert all(t.PASS_TO_PASS == () for t in tasks)


def test_float_version_and_extra_fields(tmp_path):
    path = write_rows_jsonl(tmp_path / "d.jsonl", [make_row(version=0.2, eval_type="fail_only")])
    (task,) = load_tasks(str(path))
    assert task.version == "0.2"
    assert task.extra == {"eval_type": "fail_only"}


def test_empty_datasets(tmp_path):
    (tmp_path / "e.jsonl").write_text("\n\n")
    (tmp_path / "e.json").write_text("[]")
    pd.DataFrame({"instance_id": pd.Series([], dtype=str)}).to_parquet(tmp_path / "e.parquet")
    for name in ("e.jsonl", "e.json", "e.parquet"):
        assert load_tasks(str(tmp_path / name)) == []


def test_builtin(tmp_path, monkeypatch):
    write_jsonl(make_tasks()[:2], tmp_path / "builtin.jsonl")
    assert ids(load_tasks("builtin", tasks_dir=tmp_path)) == ["acme__widget-1", "acme__widget-2"]
    monkeypatch.setenv("EVALHARNESS_TASKS_DIR", str(tmp_path))
    assert default_tasks_dir() == tmp_path
    assert len(load_tasks("builtin")) == 2
    with pytest.raises(UserError, match="built-in task file not found"):
        load_tasks("builtin", tasks_dir=tmp_path / "nowhere")


def test_default_tasks_dir(monkeypatch):
    monkeypatch.delenv("EVALHARNESS_TASKS_DIR", raising=False)
    assert default_tasks_dir() == Path(__file__).resolve().parents[1] / "tasks"


# ----------------------------------------------------------------- malformed input


def test_missing_field(tmp_path):
    row = make_row("x__y-1")
    del row["base_commit"]
    path = write_rows_jsonl(tmp_path / "data.jsonl", [make_row("x__y-0"), row])
    with pytest.raises(UserError) as err:
        load_tasks(str(path))
    msg = str(err.value)
    assert "data.jsonl" in msg and "row 2" in msg and "x__y-1" in msg and "'base_commit'" in msg and "missing" in msg


def test_bad_json_in_fail_to_pass(tmp_path):
    rows = [make_row("x__y-0"), make_row("x__y-2"), make_row("x__y-1", FAIL_TO_PASS='["a", ')]
    path = write_rows_jsonl(tmp_path / "data.jsonl", rows)
    with pytest.raises(UserError) as err:
        load_tasks(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: row 3 (instance_id 'x__y-1'): field 'FAIL_TO_PASS': not valid JSON")


def test_row_and_line_numbers_differ(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(make_row("x__y-0")) + "\n\n" + json.dumps(make_row("x__y-1", repo=5)) + "\n")
    with pytest.raises(UserError, match=r"row 2 \(line 3, instance_id 'x__y-1'\): field 'repo': expected text, got int"):
        load_tasks(str(path))


def test_non_string_field(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([make_row("x__y-1", problem_statement=["not", "text"])]))
    with pytest.raises(UserError) as err:
        load_tasks(str(path))
    msg = str(err.value)
    assert "data.json" in msg and "row 1" in msg and "'problem_statement'" in msg and "expected text" in msg


def test_bad_test_list_types(tmp_path):
    path = write_rows_jsonl(tmp_path / "d.jsonl", [make_row("x__y-1", PASS_TO_PASS=[1, 2])])
    with pytest.raises(UserError, match=r"row 1 \(instance_id 'x__y-1'\): field 'PASS_TO_PASS'"):
        load_tasks(str(path))


def test_unreadable_instance_id(tmp_path):
    path = write_rows_jsonl(tmp_path / "d.jsonl", [make_row(instance_id=None)])
    with pytest.raises(UserError, match=r"d.jsonl: row 1: field 'instance_id': missing"):
        load_tasks(str(path))


def test_not_json_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(make_row("x__y-1")) + "\n{oops\n")
    with pytest.raises(UserError, match=r"data.jsonl: line 2: not valid JSON"):
        load_tasks(str(path))


def test_row_not_an_object(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(make_row("x__y-1")) + "\n[1, 2]\n")
    with pytest.raises(UserError, match=r"data.jsonl: row 2: expected an object"):
        load_tasks(str(path))


def test_bad_json_file(tmp_path):
    (tmp_path / "a.json").write_text("[{")
    with pytest.raises(UserError, match=r"a.json: not valid JSON"):
        load_tasks(str(tmp_path / "a.json"))
    (tmp_path / "b.json").write_text('{"rows": []}')
    with pytest.raises(UserError, match=r"b.json: expected a JSON list"):
        load_tasks(str(tmp_path / "b.json"))


def test_bad_parquet_file(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(UserError, match=r"x.parquet: cannot read Parquet file"):
        load_tasks(str(tmp_path / "x.parquet"))


def test_parquet_bad_row(tmp_path):
    rows = [make_row("x__y-0"), make_row("x__y-1", FAIL_TO_PASS="nope")]
    pd.DataFrame(rows).to_parquet(tmp_path / "d.parquet")
    with pytest.raises(UserError, match=r"d.parquet: row 2 \(instance_id 'x__y-1'\): field 'FAIL_TO_PASS': not valid JSON"):
        load_tasks(str(tmp_path / "d.parquet"))


def test_duplicate_ids(tmp_path):
    rows = [make_row("x__y-1"), make_row("x__y-2"), make_row("x__y-1"), make_row("x__y-2"), make_row("x__y-3")]
    path = write_rows_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(UserError, match=r"d.jsonl: duplicate instance_ids: 'x__y-1', 'x__y-2'$"):
        load_tasks(str(path))


def test_unsupported_suffix(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n")
    with pytest.raises(UserError, match=r"unsupported dataset file type '.csv'"):
        load_tasks(str(tmp_path / "d.csv"))


# ----------------------------------------------------------------- missing files / sources


@pytest.mark.parametrize(
    "source",
    ["nope.jsonl", "missing/test.parquet", "./data", "/no/such/file", "data/sub/dir", "~/nothing.json", "x.JSON"],
)
def test_file_not_found(tmp_path, monkeypatch, source):
    monkeypatch.chdir(tmp_path)

    def no_hub(*args, **kwargs):
        raise AssertionError("a path-shaped source must never go to the Hugging Face Hub")

    monkeypatch.setattr(datasets_module, "_load_hf", no_hub)
    with pytest.raises(UserError, match=r"^dataset file not found: "):
        load_tasks(source)


def test_unknown_source_shape():
    with pytest.raises(UserError, match=r"unknown dataset 'nonsense'"):
        load_tasks("nonsense")
    with pytest.raises(UserError, match=r"no dataset given"):
        load_tasks("  ")


# ----------------------------------------------------------------- Hugging Face, offline


HF_HINT = "pass a local file instead: --dataset path/to/test.parquet"


def _hf_error(source: str) -> str:
    with pytest.raises(UserError) as err:
        load_tasks(source)
    return str(err.value)


def test_hf_offline_env(monkeypatch):
    """Offline set after the Hub client was imported (it reads the variable at import): still no
    connection is attempted, so it fails at once rather than after the client's retries."""
    import huggingface_hub.constants  # noqa: F401  (imported first, as in a long-lived process)

    connects = []
    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connects.append(address) or real_connect(self, address))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    msg = _hf_error("nobody-xyz/no-such-dataset-e7f1")
    assert "'nobody-xyz/no-such-dataset-e7f1'" in msg and "Hugging Face" in msg and HF_HINT in msg
    assert [a for a in connects if not (isinstance(a, str) or str(a[0]).startswith("127."))] == []


def test_hf_alias_offline_env(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    msg = _hf_error("Verified")
    assert msg.startswith("could not load 'princeton-nlp/SWE-bench_Verified'") and HF_HINT in msg


def test_hf_as_the_user_hits_it(monkeypatch):
    """No offline flag set: the product itself must give up quickly (the Hub client retries ~25 s).

    Without network this fails fast through the reachability probe; with network the Hub
    answers 404 for the made-up name. Either way: a UserError with the local-file hint.
    """
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_ENDPOINT", "EVALHARNESS_HF_PROBE_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    msg = _hf_error("nobody-xyz/no-such-dataset-e7f1")
    assert "'nobody-xyz/no-such-dataset-e7f1'" in msg and HF_HINT in msg


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers: a black-holed Hub."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    conns = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in conns:
        conn.close()
    server.close()


def test_hf_hub_hangs(monkeypatch, silent_server):
    import huggingface_hub.constants  # noqa: F401  (read HF_ENDPOINT before we change it)

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", silent_server)
    monkeypatch.setenv("EVALHARNESS_HF_PROBE_TIMEOUT", "0.5")
    msg = _hf_error("lite")
    assert "'princeton-nlp/SWE-bench_Lite'" in msg and HF_HINT in msg
    # the probe's bounded answer, not the Hub client's own retries against the silent server
    assert f"{silent_server} unreachable (timed out)" in msg or "did not answer" in msg


# ----------------------------------------------------------------- filters


@pytest.fixture
def tasks() -> list[Task]:
    return make_tasks()


def test_no_filter(tasks):
    assert TaskFilter().is_noop
    assert apply_filter(tasks, TaskFilter()) == tasks


def test_filter_instance_ids(tasks):
    got = apply_filter(tasks, TaskFilter(instance_ids=("beta__gizmo-11", "acme__widget-2")))
    assert ids(got) == ["acme__widget-2", "beta__gizmo-11"]  # dataset order
    with pytest.raises(UserError, match=r"unknown instance ids: nope-1, nope-2"):
        apply_filter(tasks, TaskFilter(instance_ids=("acme__widget-2", "nope-1", "nope-2")))
    with pytest.raises(UserError, match=r"unknown instance id: nope-1$"):
        apply_filter(tasks, TaskFilter(instance_ids=("nope-1",)))


def test_filter_repos(tasks):
    assert ids(apply_filter(tasks, TaskFilter(repos=("gamma/thing",)))) == ["gamma__thing-7"]
    assert len(apply_filter(tasks, TaskFilter(repos=("acme/widget", "beta/gizmo")))) == 9
    with pytest.raises(UserError) as err:
        apply_filter(tasks, TaskFilter(repos=("widget",)))  # exact owner/name only
    assert "unknown repo: widget" in str(err.value)
    assert "known: acme/widget, beta/gizmo, gamma/thing" in str(err.value)


def test_filter_regex(tasks):
    assert ids(apply_filter(tasks, TaskFilter(regex=r"gizmo-1[23]$"))) == ["beta__gizmo-12", "beta__gizmo-13"]
    assert ids(apply_filter(tasks, TaskFilter(regex="widget-3"))) == ["acme__widget-3"]  # search, not match
    assert apply_filter(tasks, TaskFilter(regex="zzz")) == []
    with pytest.raises(UserError, match=r"invalid regex '\(unclosed'"):
        apply_filter(tasks, TaskFilter(regex="(unclosed"))


def test_shuffle_is_deterministic(tasks):
    a = apply_filter(tasks, TaskFilter(shuffle=True, seed=1))
    b = apply_filter(tasks, TaskFilter(shuffle=True, seed=1))
    c = apply_filter(tasks, TaskFilter(shuffle=True, seed=2))
    assert ids(a) == ids(b) and sorted(ids(a)) == sorted(ids(tasks))
    assert ids(a) != ids(tasks) and ids(a) != ids(c)
    assert ids(tasks) == ids(make_tasks())  # the input list is not shuffled in place


def test_slices(tasks):
    all_ids = ids(tasks)
    for text, expected in [
        ("0:3", all_ids[0:3]),
        (":2", all_ids[:2]),
        ("7:", all_ids[7:]),
        ("::3", all_ids[::3]),
        ("1:8:2", all_ids[1:8:2]),
        ("-2:", all_ids[-2:]),
        ("::-1", all_ids[::-1]),
        (" 2 : 4 ", all_ids[2:4]),
        ("4", [all_ids[4]]),
        ("-1", [all_ids[-1]]),
        ("-3", [all_ids[-3]]),
        ("50:60", []),
    ]:
        assert ids(apply_filter(tasks, TaskFilter(slice=text))) == expected, text


def test_parse_slice():
    assert parse_slice("1:5") == slice(1, 5)
    assert parse_slice("1:5:2") == slice(1, 5, 2)
    assert parse_slice(":") == slice(None, None)
    assert parse_slice("3") == slice(3, 4)
    assert parse_slice("-1") == slice(-1, None)
    for bad in ("", "a:b", "1:2:3:4", "1.5", "1:2:0", "--1"):
        with pytest.raises(UserError, match="invalid slice"):
            parse_slice(bad)


def test_slice_errors(tasks):
    with pytest.raises(UserError, match="invalid slice 'x:y'"):
        apply_filter(tasks, TaskFilter(slice="x:y"))
    with pytest.raises(UserError, match=r"slice index 10 out of range: 10 task"):
        apply_filter(tasks, TaskFilter(slice="10"))


def test_filter_combination(tasks):
    flt = TaskFilter(repos=("beta/gizmo", "acme/widget"), regex=r"-1\d?$", shuffle=True, seed=3, slice=":3")
    base = [t for t in tasks if t.repo in ("beta/gizmo", "acme/widget") and t.instance_id.split("-")[-1].startswith("1")]
    got = apply_filter(tasks, flt)
    assert len(got) == 3 and set(ids(got)) <= set(ids(base))
    assert got == apply_filter(tasks, flt)
    # ids then regex: the regex narrows the given ids
    flt = TaskFilter(instance_ids=("acme__widget-1", "beta__gizmo-12", "gamma__thing-7"), regex="gizmo|thing", slice="1")
    assert ids(apply_filter(tasks, flt)) == ["gamma__thing-7"]
    # repo known in the dataset but removed by the id filter: empty, not an error
    assert apply_filter(tasks, TaskFilter(instance_ids=("acme__widget-1",), repos=("beta/gizmo",))) == []


def test_filter_normalises_inputs():
    flt = TaskFilter(instance_ids=["a", "b"], repos="o/n", regex="", slice=" ")
    assert flt.instance_ids == ("a", "b") and flt.repos == ("o/n",)
    assert flt.regex is None and flt.slice is None and not flt.is_noop
    assert TaskFilter(regex="", slice="").is_noop
    hash(flt)  # frozen and hashable
