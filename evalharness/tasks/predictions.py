"""Predictions in SWE-bench's format: {instance_id, model_name_or_path, model_patch} per instance.

Read (JSONL, or a JSON list or {id: prediction} object, as the official harness accepts) so the
replay agent can grade other systems' outputs; written (JSONL) for every run so the official
harness can grade ours.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from evalharness.core.errors import UserError, json_error_text
from evalharness.core.results import InstanceRecord, atomic_write

log = logging.getLogger(__name__)

PREDICTION_KEYS = ("instance_id", "model_name_or_path", "model_patch")
# Keys (lower case, letters only) that stand for model_patch in a hand-made or converted file.
MISNAMED_PATCH_KEYS = frozenset({"patch", "patches", "modelpatch", "modelpatches", "diff", "modeldiff",
                                 "prediction", "predictedpatch", "generatedpatch"})


@dataclass(frozen=True)
class Prediction:
    instance_id: str
    model_name_or_path: str
    model_patch: str  # "" when the system produced nothing

    def to_dict(self) -> dict[str, str]:
        return {"instance_id": self.instance_id, "model_name_or_path": self.model_name_or_path,
                "model_patch": self.model_patch}


def read_predictions(path: Path) -> dict[str, Prediction]:
    """instance_id -> Prediction; a malformed file is a UserError naming the line or key.

    Checked so that a mistake is never graded silently as 0/N `empty_patch`: a key that looks like
    a misnamed `model_patch` ("patch", "model_patches") and a file where no row has `model_patch`
    are errors. Warned (one line each, naming the rows): ids given twice (the last one counts, as
    in the official harness), rows without the `model_patch` key, and rows with `model_patch: null`
    (both graded as `empty_patch`: null is how some systems say "no patch"; a missing key more
    often a mistake, hence the separate warning).
    """
    path = Path(path)
    rows = _rows(path)
    predictions: dict[str, Prediction] = {}
    seen: dict[str, list[str]] = {}
    missing: list[str] = []
    null: list[str] = []
    for where, row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str):
            raise UserError(f"{path} {where}: expected an object with an 'instance_id'")
        named = f"{where} ({row['instance_id']!r})"
        if "model_patch" not in row:
            misnamed = [k for k in row if _looks_like_model_patch(k)]
            if misnamed:
                raise UserError(f"{path} {named}: key {misnamed[0]!r} looks like a misnamed 'model_patch' "
                                f"(SWE-bench predictions have instance_id, model_name_or_path, model_patch)")
            missing.append(named)
        patch = row.get("model_patch")
        if "model_patch" in row and patch is None:
            null.append(named)
        if patch is not None and not isinstance(patch, str):
            raise UserError(f"{path} {where}: 'model_patch' must be text")
        for key in ("instance_id", "model_patch"):
            value = row.get(key) or ""
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate from a "\ud800" escape: no file can hold it
                raise UserError(f"{path} {where}: {key!r} is not valid Unicode text "
                                f"(a lone surrogate {value[exc.start]!r} at character {exc.start})") from None
        seen.setdefault(row["instance_id"], []).append(where)
        predictions[row["instance_id"]] = Prediction(
            instance_id=row["instance_id"],
            model_name_or_path=str(row.get("model_name_or_path") or ""),
            model_patch=patch or "",
        )
    if rows and len(missing) == len(rows):
        first = rows[0][1]
        raise UserError(f"{path}: no row has a 'model_patch' key ({rows[0][0]} has "
                        f"{', '.join(map(repr, first)) or 'no keys'}); SWE-bench predictions have "
                        "instance_id, model_name_or_path, model_patch")
    twice = {iid: places for iid, places in seen.items() if len(places) > 1}
    if twice:
        log.warning("%s: %d instance id(s) given more than once, the last one counts: %s", path, len(twice),
                    _some(f"{iid!r} ({', '.join(places)})" for iid, places in twice.items()))
    if missing:
        log.warning("%s: %d row(s) have no 'model_patch' key, graded as empty_patch: %s", path, len(missing),
                    _some(missing))
    if null:
        log.warning("%s: %d row(s) have 'model_patch': null, graded as empty_patch: %s", path, len(null), _some(null))
    return predictions


def _rows(path: Path) -> list[tuple[str, Any]]:
    """(where, row) of a JSONL file, or of a JSON list or {id: prediction} object."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read predictions {path}: {exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and path.suffix == ".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({json_error_text(exc)})") from None
        if isinstance(data, dict):
            data = [{"instance_id": k, **v} if isinstance(v, dict) else v for k, v in data.items()]
        return [(f"item {i}", row) for i, row in enumerate(data)]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} line {number}: not valid JSON ({json_error_text(exc, with_line=False)})") from None
    return rows


def _looks_like_model_patch(key: str) -> bool:
    """"patch", "model_patches", "modelPatch", "model-patch", "diff": what a user may have meant."""
    plain = re.sub(r"[^a-z]", "", str(key).lower())
    return plain in MISNAMED_PATCH_KEYS or difflib.SequenceMatcher(None, plain, "modelpatch").ratio() >= 0.8


def _some(items: Iterable[str], limit: int = 10) -> str:
    items = list(items)
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def records_to_predictions(records: Iterable[InstanceRecord], model_name: str) -> list[Prediction]:
    return [Prediction(r.instance_id, model_name, r.patch or "") for r in sorted(records, key=lambda r: r.instance_id)]


def write_predictions(predictions: Iterable[Prediction], path: Path) -> Path:
    """JSONL, one prediction per line, written atomically."""
    data = "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in predictions)
    atomic_write(Path(path), data.encode("utf-8"))
    return Path(path)
