"""After the whole suite (this file is collected last): nothing of the harness is left behind.

No container of a run this session made (containers carry the label `evalharness`), no Docker
network (the harness never makes one: its containers have network none), no temporary folder
of the harness in the temp dir or scratch folder in the image cache. See `SessionTrace` in
conftest.py for how this session's runs are told apart from another session's on a shared engine.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from conftest import HARNESS_TEMP_PREFIXES, harness_temp_entries

from evalharness.env.images import LABEL

pytestmark = pytest.mark.docker

DEFAULT_NETWORKS = {"bridge", "host", "none"}
CACHE_SCRATCH_PREFIXES = ("materialize-", "clone-", "debootstrap-", "overlay-")  # tasks/repos.py, env/images/


def _session_run_ids(session_trace, tmp_path_factory) -> set[str]:
    """Run ids this session used: traced in-process, registered, or named by a run.json it wrote."""
    ids = set(session_trace.run_ids)
    for meta in Path(tmp_path_factory.getbasetemp()).rglob("run.json"):
        try:
            ids.add(json.loads(meta.read_text())["run_id"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return ids


def test_no_container_of_this_session_is_left(docker_client, session_trace, tmp_path_factory):
    run_ids = _session_run_ids(session_trace, tmp_path_factory)
    left = []
    for c in docker_client.api.containers(all=True, filters={"label": LABEL}):
        labels = c.get("Labels") or {}
        ours = c["Id"] in session_trace.containers or (
            labels.get(f"{LABEL}.run_id") in run_ids and c.get("Created", 0) >= session_trace.started - 1)
        if ours:
            left.append(f"{c['Id'][:12]} run={labels.get(f'{LABEL}.run_id')} "
                        f"instance={labels.get(f'{LABEL}.instance')} {c.get('Status')}")
    assert left == [], "containers left behind:\n" + "\n".join(left)
    for cid in session_trace.containers:  # every container made in this process is gone, labelled or not
        assert not docker_client.api.containers(all=True, filters={"id": cid}), cid


def test_no_network_is_left(docker_client, session_trace):
    """Only the defaults, bar networks another session made before this one started (not the harness's)."""
    extra = []
    for net in docker_client.api.networks():
        name, labels = net.get("Name", ""), net.get("Labels") or {}
        if name in DEFAULT_NETWORKS:
            continue
        if ("evalharness" in name or any(key.startswith(LABEL) for key in labels)
                or _created_after(net.get("Created", ""), session_trace.started)):
            extra.append(name)
    assert extra == [], f"networks left behind: {extra}"


def test_no_temporary_folder_of_the_harness_is_left(session_trace, cache_dir):
    new = harness_temp_entries() - session_trace.temp_before
    assert new == set(), f"left in {tempfile.gettempdir()}: {sorted(new)} (prefixes {HARNESS_TEMP_PREFIXES})"
    scratch = sorted(p.name for p in Path(cache_dir).glob("*")
                     if p.name.startswith(CACHE_SCRATCH_PREFIXES) and p.stat().st_mtime >= session_trace.started - 1)
    assert scratch == [], f"scratch folders left in the image cache {cache_dir}: {scratch}"


def _created_after(created: str, started: float) -> bool:
    """Docker's RFC 3339 time with nanoseconds (e.g. 2024-05-01T10:00:00.123456789Z) vs epoch seconds."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$", created or "")
    if not match:
        return False
    zone = match.group(2) or "Z"
    when = datetime.fromisoformat(match.group(1) + ("+00:00" if zone == "Z" else zone))
    return when.timestamp() >= started - 1
