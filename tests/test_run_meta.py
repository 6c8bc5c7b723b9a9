"""run.json: the placement a Ray run adds (`nodes`), kept through a resume and read back."""

from __future__ import annotations

import json

from evalharness.core.run_meta import RunMeta, record_nodes


def _meta(tmp_path):
    path = tmp_path / "r1" / "run.json"
    path.parent.mkdir()
    path.write_bytes(RunMeta(run_id="r1", dataset="builtin", agent="gold").to_json())
    return path


def test_nodes_are_added_to_run_json_and_read_back(tmp_path):
    path = _meta(tmp_path)
    record_nodes(path, {"node-1": {"instances": ["a", "b"], "built": ["img:1"], "pulled": []},
                        "node-2": {"instances": ["c"], "built": [], "pulled": ["img:1"]}})
    meta = RunMeta.read(path)
    assert meta.nodes["node-1"]["instances"] == ["a", "b"]
    assert meta.nodes["node-2"]["pulled"] == ["img:1"]
    assert (meta.run_id, meta.dataset, meta.agent) == ("r1", "builtin", "gold")  # the rest is as written


def test_a_resumed_drivers_nodes_join_the_earlier_ones(tmp_path):
    path = _meta(tmp_path)
    record_nodes(path, {"node-1": {"instances": ["a"], "built": ["img:1"], "pulled": []}})
    record_nodes(path, {"node-1": {"instances": ["b"], "built": [], "pulled": []},
                        "node-3": {"instances": ["c"], "built": [], "pulled": ["img:1"]}})
    nodes = json.loads(path.read_text())["nodes"]
    assert nodes == {"node-1": {"instances": ["a", "b"], "built": ["img:1"], "pulled": []},
                     "node-3": {"instances": ["c"], "built": [], "pulled": ["img:1"]}}


def test_no_placement_leaves_run_json_untouched(tmp_path):
    path = _meta(tmp_path)
    before = path.read_bytes()
    record_nodes(path, {})
    assert path.read_bytes() == before


def test_a_hand_edited_nodes_value_that_is_not_an_object_is_dropped(tmp_path):
    path = _meta(tmp_path)
    data = json.loads(path.read_text())
    data["nodes"] = ["node-1"]
    path.write_text(json.dumps(data))
    assert RunMeta.read(path).nodes == {}
    record_nodes(path, {"node-2": {"instances": ["x"]}})
    assert RunMeta.read(path).nodes == {"node-2": {"instances": ["x"]}}
