"""The task record: one SWE-bench instance, validated once at the edge."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from evalharness.core.errors import json_error_text

REQUIRED_FIELDS = (
    "instance_id",
    "repo",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "version",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
)
OPTIONAL_TEXT_FIELDS = ("hints_text", "created_at", "environment_setup_commit", "difficulty")
# SWE-bench's own column order (as on Hugging Face), for files the project writes.
SWEBENCH_FIELDS = (
    "repo",
    "instance_id",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "hints_text",
    "created_at",
    "version",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "environment_setup_commit",
    "difficulty",
)
DIFFICULTIES = ("<15 min fix", "15 min - 1 hour", "1-4 hours", ">4 hours")
# Extra fields some datasets carry (the official image, its eval script and log parser).
EXTRA_FIELDS = ("image", "eval_script", "log_parser")
# GitHub's owner/name: the name becomes folder names, mirror paths and URLs, so nothing else.
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.][A-Za-z0-9_.-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TaskFieldError(ValueError):
    """A row is malformed; `field` names the culprit so loaders can point at it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"field {field_name!r}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Task:
    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str
    problem_statement: str
    version: str
    FAIL_TO_PASS: tuple[str, ...]
    PASS_TO_PASS: tuple[str, ...]
    hints_text: str = ""
    created_at: str = ""
    environment_setup_commit: str = ""
    difficulty: str | None = None
    image: str | None = None
    eval_script: str | None = None
    log_parser: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Task":
        """Validate a dataset row; raises TaskFieldError naming the bad field."""
        values: dict[str, Any] = {}
        for name in REQUIRED_FIELDS:
            if name not in row or row[name] is None:
                raise TaskFieldError(name, "missing")
        for name in ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement"):
            values[name] = _text(row, name, allow_empty=name in ("patch", "problem_statement"))
        values["version"] = _version(row["version"])
        for name in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            values[name] = _test_list(name, row[name])
        for name in OPTIONAL_TEXT_FIELDS:
            if row.get(name) is not None:
                values[name] = _text(row, name, allow_empty=True)
        for name in EXTRA_FIELDS:
            if row.get(name):
                values[name] = _text(row, name, allow_empty=True)
        if not _REPO.match(values["repo"]) or values["repo"].split("/")[1] in (".", ".."):
            raise TaskFieldError("repo", f"expected 'owner/name' (letters, digits, '-', '_', '.'), got {values['repo']!r}")
        iid = values["instance_id"]
        if _CONTROL.search(iid) or iid.strip() in (".", ".."):
            raise TaskFieldError("instance_id", f"{iid!r} is not a usable id (control characters, or '.' / '..')")
        known = set(REQUIRED_FIELDS) | set(OPTIONAL_TEXT_FIELDS) | set(EXTRA_FIELDS)
        values["extra"] = {k: v for k, v in row.items() if k not in known}
        return cls(**values)

    def to_row(self) -> dict[str, Any]:
        """The SWE-bench schema back again (test lists as JSON strings, as on Hugging Face)."""
        row = {name: getattr(self, name) for name in REQUIRED_FIELDS + OPTIONAL_TEXT_FIELDS}
        row["FAIL_TO_PASS"] = json.dumps(list(self.FAIL_TO_PASS))
        row["PASS_TO_PASS"] = json.dumps(list(self.PASS_TO_PASS))
        for name in EXTRA_FIELDS:
            if getattr(self, name):
                row[name] = getattr(self, name)
        return row

    @property
    def test_files(self) -> list[str]:
        """Files touched by test_patch, in order: the files the eval runs and resets."""
        return patch_files(self.test_patch)


def patch_files(patch: str) -> list[str]:
    """Paths a unified diff touches (the b/ side), in order, each once."""
    return list(dict.fromkeys(name for name, _ in patch_sections(patch)))


def patch_sections(patch: str) -> list[tuple[str, bool]]:
    """(b/ path, deleted?) for each `diff --git` section of a unified diff."""
    sections: list[tuple[str, bool]] = []
    for line in patch.splitlines():
        line = line.rstrip("\r")
        if line.startswith("diff --git "):
            parts = line.split(" b/", 1)
            sections.append((parts[1] if len(parts) == 2 else "", False))
        elif sections and (line.startswith("deleted file mode") or line == "+++ /dev/null"):
            sections[-1] = (sections[-1][0], True)
    return [(name, deleted) for name, deleted in sections if name]


def _text(row: Mapping[str, Any], name: str, allow_empty: bool) -> str:
    value = row[name]
    if not isinstance(value, str):
        raise TaskFieldError(name, f"expected text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise TaskFieldError(name, "is empty")
    _check_unicode(name, value)
    return value


def _check_unicode(name: str, value: str) -> None:
    """Text that UTF-8 cannot carry (a lone surrogate from a JSON "\\ud800" escape) would fail
    later, when a patch or script is written: refuse it here, where the row can be named."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TaskFieldError(
            name, f"not valid Unicode text (a lone surrogate {value[exc.start]!r} at character {exc.start})"
        ) from None


def _version(value: Any) -> str:
    # Some exports store versions as floats (0.2 instead of "0.20"): keep what was given.
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TaskFieldError("version", f"expected text, got {type(value).__name__}")
    return str(value)


def _test_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise TaskFieldError(name, f"not valid JSON ({json_error_text(exc)})") from None
    if hasattr(value, "tolist"):  # numpy arrays from Parquet list columns
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        got = type(value).__name__ if not isinstance(value, (list, tuple)) else "a list with non-text items"
        raise TaskFieldError(name, f"expected a list of test ids (JSON list of strings), got {got}")
    for test in value:
        _check_unicode(name, test)
    return tuple(value)
