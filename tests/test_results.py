"""The result store: one record per instance, atomic files, Parquet compaction, resume."""

import json
import multiprocessing
import os
import signal
import time

import pyarrow.parquet as pq

from evalharness.core.results import SCHEMA, InstanceRecord, ResultStore, atomic_write, safe_name
from evalharness.run.runner import summarize


def _record(iid, status="resolved", **kw):
    return InstanceRecord(run_id="r", model="", agent="gold", dataset="builtin", instance_id=iid,
                          repo="o/n", version="1.0", status=status, resolved=status == "resolved", **kw)


def test_add_load_and_compact(tmp_path):
    store = ResultStore(tmp_path)
    store.add(_record("a__b-1", patch="diff\n", error=None))
    store.add(_record("a__b-2", status="empty_patch"))
    store.add(_record("a__b-2", status="unresolved"))  # a redo replaces, never duplicates
    assert sorted(store.load()) == ["a__b-1", "a__b-2"]
    path = store.compact()
    table = pq.read_table(path)
    assert table.schema.names == SCHEMA.names
    rows = {r["instance_id"]: r for r in table.to_pylist()}
    assert rows["a__b-2"]["status"] == "unresolved" and rows["a__b-1"]["resolved"] is True


def test_empty_run_writes_a_valid_empty_parquet(tmp_path):
    store = ResultStore(tmp_path)
    table = pq.read_table(store.compact())
    assert table.num_rows == 0 and table.schema.names == SCHEMA.names


def test_odd_instance_ids_get_safe_file_names(tmp_path):
    store = ResultStore(tmp_path)
    store.add(_record("../../etc/passwd"))
    store.add(_record("ünï cödé/1"))
    assert {p.parent for p in tmp_path.rglob("*.json")} == {tmp_path / "records"}
    assert sorted(store.load()) == ["../../etc/passwd", "ünï cödé/1"]
    assert "/" not in safe_name("a/b") and safe_name("") == "_"


def test_leftover_temp_files_and_foreign_fields_are_ignored(tmp_path):
    store = ResultStore(tmp_path)
    store.add(_record("x"))
    (tmp_path / "records" / ".x.json.abc.tmp").write_text('{"instance_id": "half')
    data = json.loads((tmp_path / "records" / "x.json").read_text())
    data["field_from_newer_version"] = 1
    (tmp_path / "records" / "x.json").write_text(json.dumps(data))
    assert list(store.load()) == ["x"]


def _writer(path, stop_after):
    # Rewrites the file over and over until killed.
    i = 0
    while True:
        atomic_write(path, (str(i) * 100_000).encode())
        i = (i + 1) % 10


def test_atomic_write_survives_sigkill(tmp_path):
    """Kill a writer mid-stream many times: the file is always whole (old or new content)."""
    path = tmp_path / "f"
    atomic_write(path, b"0" * 100_000)
    for _ in range(10):
        proc = multiprocessing.get_context("fork").Process(target=_writer, args=(path, None))
        proc.start()
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        data = path.read_bytes()
        assert len(data) == 100_000 and len(set(data)) == 1


def test_summary_table_counts_statuses():
    text = summarize([_record("a"), _record("b", status="empty_patch"), _record("c", status="empty_patch")])
    assert text.splitlines()[0] == "resolved 1/3 (33.3%)"
    assert any(line.split() == ["empty_patch", "2"] for line in text.splitlines())
    assert summarize([]).startswith("resolved 0/0")
