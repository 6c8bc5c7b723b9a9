"""Predictions in SWE-bench's format: {instance_id, model_name_or_path, model_patch} per instance.

Read (JSONL, or a JSON list or {id: prediction} object, as the official harness accepts) so the
replay agent can grade other systems' outputs; written (JSONL) for every run so the official
harness can grade ours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from evalharness.core.errors import UserError
from evalharness.core.results import InstanceRecord, atomic_write

PREDICTION_KEYS = ("instance_id", "model_name_or_path", "model_patch")


@dataclass(frozen=True)
class Prediction:
    instance_id: str
    model_name_or_path: str
    model_patch: str  # "" when the system produced nothing

    def to_dict(self) -> dict[str, str]:
        return {"instance_id": self.instance_id, "model_name_or_path": self.model_name_or_path,
                "model_patch": self.model_patch}


def read_predictions(path: Path) -> dict[str, Prediction]:
    """instance_id -> Prediction; a malformed file is a UserError naming the line or key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read predictions {path}: {exc}") from None
    rows: list[tuple[str, Any]] = []
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and path.suffix == ".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if isinstance(data, dict):
            data = [{"instance_id": k, **v} if isinstance(v, dict) else v for k, v in data.items()]
        rows = [(f"item {i}", row) for i, row in enumerate(data)]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise UserError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
    predictions: dict[str, Prediction] = {}
    for where, row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str):
            raise UserError(f"{path} {where}: expected an object with an 'instance_id'")
        patch = row.get("model_patch")
        if patch is not None and not isinstance(patch, str):
            raise UserError(f"{path} {where}: 'model_patch' must be text")
        for key in ("instance_id", "model_patch"):
            value = row.get(key) or ""
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate from a "\ud800" escape: no file can hold it
                raise UserError(f"{path} {where}: {key!r} is not valid Unicode text "
                                f"(a lone surrogate {value[exc.start]!r} at character {exc.start})") from None
        predictions[row["instance_id"]] = Prediction(
            instance_id=row["instance_id"],
            model_name_or_path=str(row.get("model_name_or_path") or ""),
            model_patch=patch or "",
        )
    return predictions


def records_to_predictions(records: Iterable[InstanceRecord], model_name: str) -> list[Prediction]:
    return [Prediction(r.instance_id, model_name, r.patch or "") for r in sorted(records, key=lambda r: r.instance_id)]


def write_predictions(predictions: Iterable[Prediction], path: Path) -> Path:
    """JSONL, one prediction per line, written atomically."""
    data = "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in predictions)
    atomic_write(Path(path), data.encode("utf-8"))
    return Path(path)
