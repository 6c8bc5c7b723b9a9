"""Load SWE-bench-style task sets (built-in, local files, Hugging Face) and filter them.

Sources understood by `load_tasks`:

* ``builtin``: ``<tasks_dir>/builtin.jsonl`` (see `default_tasks_dir`).
* a local file: ``.jsonl`` (one object per line), ``.json`` (a list of objects, or an
  object with an ``instances`` / ``data`` list) or ``.parquet``; or a local directory
  holding ``<split>.parquet`` / ``<split>.jsonl`` / ``<split>.json``.
* ``verified`` / ``lite`` / ``full`` (any case): the princeton-nlp SWE-bench datasets.
* any other ``owner/name``: a Hugging Face dataset, via ``datasets.load_dataset``.

Every problem with the input is raised as `UserError`, one line naming what and where.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import random
import re
import ssl
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import evalharness
from evalharness.core.errors import UserError, json_error_text
from evalharness.core.task import Task, TaskFieldError

__all__ = [
    "DATASET_ALIASES",
    "FILE_SUFFIXES",
    "TaskFilter",
    "apply_filter",
    "default_tasks_dir",
    "load_tasks",
    "parse_slice",
    "write_jsonl",
]

DATASET_ALIASES = {
    "verified": "princeton-nlp/SWE-bench_Verified",
    "lite": "princeton-nlp/SWE-bench_Lite",
    "full": "princeton-nlp/SWE-bench",
}
FILE_SUFFIXES = (".jsonl", ".json", ".parquet")
BUILTIN_FILE = "builtin.jsonl"
TASKS_DIR_ENV = "EVALHARNESS_TASKS_DIR"
HF_PROBE_TIMEOUT_ENV = "EVALHARNESS_HF_PROBE_TIMEOUT"
HF_PROBE_TIMEOUT = 5.0  # seconds; the Hub client itself retries for ~25 s when offline
LOCAL_FILE_HINT = "pass a local file instead: --dataset path/to/test.parquet (JSONL, JSON or Parquet)"

_HF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TRUE = {"1", "ON", "YES", "TRUE"}


# --------------------------------------------------------------------------- loading


def default_tasks_dir() -> Path:
    """The folder holding ``builtin.jsonl``: $EVALHARNESS_TASKS_DIR, else ``<project>/tasks``."""
    override = os.environ.get(TASKS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(evalharness.__file__).resolve().parents[1] / "tasks"


def load_tasks(source: str, split: str = "test", tasks_dir: Path | None = None) -> list[Task]:
    """Load and validate every task of `source` (see the module docstring).

    `split` is used for Hugging Face datasets and for local directories; a single local
    file is read whole. Raises UserError on a missing file, an unreachable dataset, a
    malformed row or duplicate instance ids. An empty dataset gives [].
    """
    source = str(source).strip()
    if not source:
        raise UserError("no dataset given: use 'builtin', verified/lite/full, owner/name or a local file")
    if source == "builtin":
        path = Path(tasks_dir) if tasks_dir is not None else default_tasks_dir()
        path = path / BUILTIN_FILE
        if not path.is_file():
            raise UserError(f"built-in task file not found: {path}")
        return _load_file(path, label=str(path))

    alias = DATASET_ALIASES.get(source.lower())
    if alias is not None:
        return _load_hf(alias, split)

    path = Path(source).expanduser()
    if path.exists():
        if path.is_dir():
            return _load_file(_split_file(path, split), label=None)
        return _load_file(path, label=source)
    if _looks_like_path(source):
        raise UserError(f"dataset file not found: {source}")
    if _HF_NAME.match(source):
        return _load_hf(source, split)
    raise UserError(
        f"unknown dataset {source!r}: expected 'builtin', one of "
        f"{', '.join(sorted(DATASET_ALIASES))}, a Hugging Face 'owner/name' "
        f"or a local .jsonl/.json/.parquet file"
    )


def _looks_like_path(source: str) -> bool:
    if source.lower().endswith(FILE_SUFFIXES):
        return True
    if source.startswith((".", "~", os.sep)) or (os.altsep and os.altsep in source):
        return True
    # 'owner/name' is a Hugging Face id; 'a/b/c' or a Windows path is a local path.
    if os.sep != "/" and os.sep in source:
        return True
    return source.count("/") > 1


def _split_file(directory: Path, split: str) -> Path:
    for suffix in (".parquet", ".jsonl", ".json"):
        candidate = directory / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    raise UserError(
        f"dataset file not found: {directory} holds no {split}.parquet, {split}.jsonl or {split}.json"
    )


def _load_file(path: Path, label: str | None) -> list[Task]:
    label = label or str(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows: Iterable[tuple[str, Any]] = _jsonl_rows(path, label)
    elif suffix == ".json":
        rows = _json_rows(path, label)
    elif suffix == ".parquet":
        rows = _parquet_rows(path, label)
    else:
        raise UserError(f"{label}: unsupported dataset file type {path.suffix or '(none)'!r}; use .jsonl, .json or .parquet")
    return _build_tasks(rows, label)


def _read_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UserError(f"{label}: cannot read: {exc.strerror or exc}") from None


def _jsonl_rows(path: Path, label: str) -> Iterator[tuple[str, Any]]:
    row_no = 0
    for line_no, line in enumerate(_read_text(path, label).splitlines(), start=1):
        if not line.strip():
            continue
        row_no += 1
        where = f"row {row_no}" if row_no == line_no else f"row {row_no} (line {line_no})"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{label}: line {line_no}: not valid JSON ({json_error_text(exc, with_line=False)})") from None
        yield where, value


def _json_rows(path: Path, label: str) -> Iterator[tuple[str, Any]]:
    text = _read_text(path, label)
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise UserError(f"{label}: not valid JSON ({json_error_text(exc)})") from None
    if isinstance(data, dict):
        for key in ("instances", "data"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            raise UserError(f"{label}: expected a JSON list of task objects, or an object with an 'instances' or 'data' list")
    if not isinstance(data, list):
        raise UserError(f"{label}: expected a JSON list of task objects, got {type(data).__name__}")
    for index, value in enumerate(data, start=1):
        yield f"row {index}", value


def _parquet_rows(path: Path, label: str) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        records = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{label}: cannot read Parquet file: {_one_line(exc)}") from None
    for index, value in enumerate(records, start=1):
        yield f"row {index}", value


def _build_tasks(rows: Iterable[tuple[str, Any]], label: str) -> list[Task]:
    tasks: list[Task] = []
    for where, row in rows:
        if not isinstance(row, Mapping):
            raise UserError(f"{label}: {where}: expected an object with the task fields, got {type(row).__name__}")
        row = {str(k): _plain(v) for k, v in row.items()}
        try:
            tasks.append(Task.from_row(row))
        except TaskFieldError as exc:
            iid = row.get("instance_id")
            if isinstance(iid, str) and iid.strip():
                where = f"{where[:-1]}, instance_id {iid!r})" if where.endswith(")") else f"{where} (instance_id {iid!r})"
            raise UserError(f"{label}: {where}: {exc}") from None
    counts = Counter(task.instance_id for task in tasks)
    dupes = [iid for iid, n in counts.items() if n > 1]
    if dupes:
        shown = ", ".join(repr(d) for d in dupes[:10]) + (f" and {len(dupes) - 10} more" if len(dupes) > 10 else "")
        raise UserError(f"{label}: duplicate instance_id{'s' if len(dupes) > 1 else ''}: {shown}")
    # A run keeps one record file and one log folder per instance, named by safe_name: two
    # ids that differ only in characters it replaces would overwrite each other's.
    from evalharness.core.results import safe_name

    seen: dict[str, str] = {}
    for task in tasks:
        other = seen.setdefault(safe_name(task.instance_id), task.instance_id)
        if other != task.instance_id:
            raise UserError(
                f"{label}: instance_ids {other!r} and {task.instance_id!r} differ only in characters "
                f"that file names cannot hold (both are stored as {safe_name(other)!r}); rename one"
            )
    return tasks


def _plain(value: Any) -> Any:
    """numpy arrays/scalars -> Python values; float NaN (pandas' missing) -> None."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:300]


# --------------------------------------------------------------------------- Hugging Face


def _load_hf(name: str, split: str) -> list[Task]:
    label = f"{name} [{split}]"
    if _env_true("HF_HUB_OFFLINE") or _env_true("HF_DATASETS_OFFLINE"):
        # Offline asked for: the cache only. Forced, not left to the library, which reads the
        # variables once at import and would retry the Hub if they were set after it.
        rows = _hf_rows(name, split, force_offline=True, problem="offline mode (HF_HUB_OFFLINE)")
    else:
        problem = _hub_problem(name)
        rows = _hf_rows(name, split, force_offline=problem is not None, problem=problem)
    return _build_tasks(((f"row {i}", r) for i, r in enumerate(rows, start=1)), label)


def _hf_rows(name: str, split: str, force_offline: bool, problem: str | None = None) -> list[dict]:
    def fail(detail: str) -> UserError:
        return UserError(f"could not load {name!r} (split {split!r}) from Hugging Face (offline?): {detail}; {LOCAL_FILE_HINT}")

    try:
        import datasets as hf_datasets
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise fail(f"the 'datasets' package is not installed ({exc})") from None
    try:
        if force_offline:
            # The Hub is unreachable: ask the library for its local cache only, instead of
            # letting it retry for half a minute or more.
            with _hub_offline_mode():
                dataset = hf_datasets.load_dataset(name, split=split)
        else:
            dataset = hf_datasets.load_dataset(name, split=split)
    except KeyboardInterrupt:
        raise
    except _NoOfflineMode:
        raise fail(problem or "Hugging Face Hub unreachable") from None
    except Exception as exc:
        detail = _one_line(exc)
        if problem:
            detail = f"{problem}, and no cached copy"
        raise fail(detail) from None
    return [dict(row) for row in dataset]


class _NoOfflineMode(Exception):
    pass


class _hub_offline_mode:
    """Temporarily switch datasets/huggingface_hub to offline mode (env vars are read at import)."""

    def __enter__(self):
        import datasets.config as ds_config
        import huggingface_hub.constants as hub_constants

        self._saved = []
        for module in (ds_config, hub_constants):
            if not hasattr(module, "HF_HUB_OFFLINE"):
                raise _NoOfflineMode()
        for module in (ds_config, hub_constants):
            self._saved.append((module, module.HF_HUB_OFFLINE))
            module.HF_HUB_OFFLINE = True
        return self

    def __exit__(self, *exc_info):
        for module, value in self._saved:
            module.HF_HUB_OFFLINE = value
        return False


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in _TRUE


def _probe_timeout() -> float:
    try:
        return max(0.1, float(os.environ.get(HF_PROBE_TIMEOUT_ENV, HF_PROBE_TIMEOUT)))
    except ValueError:
        return HF_PROBE_TIMEOUT


def _hub_problem(name: str) -> str | None:
    """None if the Hub answers HTTP within a few seconds, else why not (one line).

    Any HTTP status, or a TLS-level answer, counts as reachable: the Hub client decides
    the rest. Name resolution, refused connections and time-outs count as unreachable.
    Runs in a daemon thread because name resolution itself has no timeout.
    """
    endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    timeout = _probe_timeout()
    result: list[str | None] = []

    def probe() -> None:
        request = urllib.request.Request(f"{endpoint}/api/datasets/{name}", method="HEAD")
        try:
            urllib.request.urlopen(request, timeout=timeout).close()
            result.append(None)
        except urllib.error.HTTPError:
            result.append(None)
        except urllib.error.URLError as exc:
            reason = exc.reason
            result.append(None if isinstance(reason, ssl.SSLError) else f"{endpoint} unreachable ({_one_line(reason) if isinstance(reason, BaseException) else reason})")
        except ssl.SSLError:
            result.append(None)
        except Exception as exc:  # socket timeout, connection reset, ...
            result.append(f"{endpoint} unreachable ({_one_line(exc)})")

    thread = threading.Thread(target=probe, name="hf-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not result:
        return f"{endpoint} did not answer within {timeout:g} s"
    return result[0]


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks to run. Applied in field order: ids, repos, regex, shuffle, slice."""

    instance_ids: tuple[str, ...] = ()
    repos: tuple[str, ...] = ()
    regex: str | None = None
    slice: str | None = None
    shuffle: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("instance_ids", "repos"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value or ()))
        if self.regex == "":
            object.__setattr__(self, "regex", None)
        if self.slice is not None and not str(self.slice).strip():
            object.__setattr__(self, "slice", None)

    @property
    def is_noop(self) -> bool:
        return not (self.instance_ids or self.repos or self.regex or self.slice or self.shuffle)


def _with_near_miss(instance_id: str, known: set[str]) -> str:
    """The id, and the known one it is closest to, if any is close: a digit dropped or swapped."""
    close = difflib.get_close_matches(instance_id, sorted(known), n=1, cutoff=0.8)
    return f"{instance_id} (did you mean {close[0]}?)" if close else instance_id


def apply_filter(tasks: Sequence[Task], flt: TaskFilter) -> list[Task]:
    """The tasks `flt` selects; raises UserError on unknown ids/repos, a bad regex or slice."""
    selected = list(tasks)
    if flt.instance_ids:
        known = {t.instance_id for t in selected}
        unknown = [iid for iid in dict.fromkeys(flt.instance_ids) if iid not in known]
        if unknown:
            raise UserError(f"unknown instance id{'s' if len(unknown) > 1 else ''}: "
                            + ", ".join(_with_near_miss(iid, known) for iid in unknown))
        wanted = set(flt.instance_ids)
        selected = [t for t in selected if t.instance_id in wanted]
    if flt.repos:
        known_repos = sorted({t.repo for t in tasks})
        unknown = [r for r in dict.fromkeys(flt.repos) if r not in known_repos]
        if unknown:
            raise UserError(
                f"unknown repo{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                f"(known: {', '.join(known_repos) or 'none'})"
            )
        wanted = set(flt.repos)
        selected = [t for t in selected if t.repo in wanted]
    if flt.regex:
        try:
            pattern = re.compile(flt.regex)
        except re.error as exc:
            raise UserError(f"invalid regex {flt.regex!r}: {exc}") from None
        selected = [t for t in selected if pattern.search(t.instance_id)]
    if flt.shuffle:
        random.Random(flt.seed).shuffle(selected)
    if flt.slice:
        spec = parse_slice(flt.slice)
        text = flt.slice.strip()
        if ":" not in text:
            index = spec.start
            if not -len(selected) <= index < len(selected):
                raise UserError(f"slice index {index} out of range: {len(selected)} task(s) selected")
        selected = selected[spec]
    return selected


def parse_slice(text: str) -> slice:
    """Python slice syntax: "start:stop", "start:stop:step" (parts optional) or one index "N"."""
    raw = str(text).strip()
    parts = raw.split(":")
    if not raw or len(parts) > 3:
        raise UserError(f"invalid slice {text!r}: use start:stop, start:stop:step or a single index N")
    try:
        numbers = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise UserError(f"invalid slice {text!r}: use start:stop, start:stop:step or a single index N (integers)") from None
    if len(numbers) == 1:
        index = numbers[0]
        return slice(index, index + 1 if index != -1 else None)
    if len(numbers) == 3 and numbers[2] == 0:
        raise UserError(f"invalid slice {text!r}: step cannot be zero")
    return slice(*numbers)


# --------------------------------------------------------------------------- export


def write_jsonl(tasks: Iterable[Task], path: str | os.PathLike[str]) -> Path:
    """Write `tasks` as SWE-bench-schema JSONL (test lists as JSON strings); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for task in tasks:
            handle.write(json.dumps(task.to_row(), ensure_ascii=False) + "\n")
    return out
