"""Which model to talk to, and how: a registry of named endpoints read from TOML.

The packaged `models.toml` is the default; a user's own files override it field by field,
so a site can point `qwen3-coder` at its own gateway without repeating the sampling
parameters. One entry is one `ModelConfig`; local models also carry a `ServeConfig`
saying how `evalharness serve` launches them.
"""

from __future__ import annotations

import copy
import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from evalharness.core.errors import UserError

TOOL_MODES = ("native", "qwen3_xml")
ENGINES = ("vllm", "sglang")
# Fields a registry entry may set to "not sent" with `unset = [...]` (TOML has no null).
_UNSETTABLE = ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens")


@dataclass(frozen=True)
class ServeConfig:
    """How to launch a model locally (vLLM or SGLang); read from `[models.NAME.serve]`."""

    hf_model: str
    engine: str = "vllm"
    host: str = "127.0.0.1"
    port: int = 8000
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    enable_expert_parallel: bool = False
    max_model_len: int | None = None
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. VLLM_USE_DEEP_GEMM=1
    command: tuple[str, ...] = ()  # replaces the built-in command; {port}, {host}, ... are filled in
    python: str = ""  # SGLang's interpreter ("" = the one running evalharness)
    startup_timeout: float = 1800.0  # loading 480B weights takes a while

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


@dataclass(frozen=True)
class ModelConfig:
    name: str  # registry key, e.g. "qwen3-coder"
    base_url: str  # OpenAI-compatible, ends in /v1
    model: str  # model id sent to the server
    api_key_env: str = ""  # env var holding the key; "" = no key needed (local servers)
    temperature: float | None = 0.7
    top_p: float | None = 0.8
    top_k: int | None = 20  # not an OpenAI parameter: sent in extra_body
    repetition_penalty: float | None = 1.05  # idem
    max_tokens: int | None = 8192
    context_window: int = 262144
    input_price: float = 0.0  # USD per 1M prompt tokens
    output_price: float = 0.0  # USD per 1M completion tokens
    tool_mode: str = "native"  # "native" (OpenAI tools/tool_calls) | "qwen3_xml" (calls parsed from text)
    extra_body: Mapping[str, Any] = field(default_factory=dict)  # more server-specific fields
    request_timeout: float = 600.0
    serve: ServeConfig | None = None  # how to launch it locally, if it can be
    # The same model's Anthropic-compatible endpoint (Messages API), as ANTHROPIC_BASE_URL takes
    # it: without /v1 (the gateway appends /v1/messages). "" = none; CLI agents that speak the
    # Anthropic API (claude-code) need it.
    anthropic_base_url: str = ""

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD, at the registry's flat per-million prices (no tiers, no cache discounts)."""
        return (prompt_tokens * self.input_price + completion_tokens * self.output_price) / 1_000_000

    def request_params(self) -> dict:
        """Keyword arguments for `chat.completions.create` besides messages and tools.
        Parameters set to None are left out, so the server's own default applies."""
        params: dict[str, Any] = {"model": self.model}
        for key in ("temperature", "top_p", "max_tokens"):
            if getattr(self, key) is not None:
                params[key] = getattr(self, key)
        extra: dict[str, Any] = {}
        for key in ("top_k", "repetition_penalty"):
            if getattr(self, key) is not None:
                extra[key] = getattr(self, key)
        extra.update(self.extra_body)
        if extra:
            params["extra_body"] = extra
        return params


class ModelRegistry:
    """Named model configurations; later files override earlier ones field by field."""

    def __init__(self, models: Mapping[str, ModelConfig]):
        self._models = dict(models)

    @classmethod
    def load(
        cls,
        user_files: Iterable[Path] = (),
        *,
        environ: Mapping[str, str] = os.environ,
    ) -> ModelRegistry:
        """The packaged models.toml, then ~/.config/evalharness/models.toml if present, then
        the files in $EVALHARNESS_MODELS (os.pathsep-separated), then `user_files`."""
        packaged = resources.files("evalharness.model").joinpath("models.toml")
        layers: list[tuple[str, dict]] = [
            ("models.toml (packaged)", _parse(packaged.read_text(encoding="utf-8"), "packaged models.toml"))]
        config_home = environ.get("XDG_CONFIG_HOME") or (
            str(Path(environ["HOME"]) / ".config") if environ.get("HOME") else ""
        )
        if config_home:
            user_default = Path(config_home) / "evalharness" / "models.toml"
            if user_default.is_file():
                layers.append((str(user_default), _read(user_default)))
        for item in (environ.get("EVALHARNESS_MODELS") or "").split(os.pathsep):
            if item.strip():
                layers.append((f"{item} (from $EVALHARNESS_MODELS)", _read(Path(item), "$EVALHARNESS_MODELS")))
        for path in user_files:
            layers.append((str(path), _read(Path(path))))
        return cls.from_layers(layers)

    @classmethod
    def from_layers(cls, layers: Iterable[tuple[str, Mapping[str, Any]]]) -> ModelRegistry:
        """Merge parsed TOML documents (source name, document) in order, then validate."""
        merged: dict[str, dict[str, Any]] = {}
        origin: dict[str, str] = {}
        for source, doc in layers:
            unknown = set(doc) - {"models"}
            if unknown:
                raise UserError(f"{source}: unknown top-level key(s) {sorted(unknown)}; entries go in [models.NAME]")
            entries = doc.get("models", {})
            if not isinstance(entries, Mapping):
                raise UserError(f"{source}: [models] must be a table of [models.NAME] entries")
            for name, entry in entries.items():
                if not isinstance(entry, Mapping):
                    raise UserError(f"{source}: models.{name} must be a table")
                merged[name] = _merge(merged.get(name, {}), entry)
                origin[name] = source
        models = {name: _build(name, merged, origin[name]) for name in merged}
        return cls(models)

    def get(self, name: str) -> ModelConfig:
        try:
            return self._models[name]
        except KeyError:
            raise UserError(
                f"unknown model {name!r}; known: {', '.join(self.names())} "
                "(or give any OpenAI-compatible endpoint with --base-url and --model)"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._models)

    def __contains__(self, name: object) -> bool:
        return name in self._models


def resolve_model(
    registry: ModelRegistry,
    name: str | None,
    *,
    base_url: str | None = None,
    model_id: str | None = None,
    tool_mode: str | None = None,
    api_key_env: str | None = None,
) -> ModelConfig:
    """A registry entry, optionally overridden; or, when `name` is not in the registry and a
    base_url is given, an ad-hoc endpoint (model id = model_id or name, default sampling)."""
    if name and name in registry:
        config = registry.get(name)
        overrides = {"base_url": base_url, "model": model_id, "tool_mode": tool_mode, "api_key_env": api_key_env}
        changes = {k: v for k, v in overrides.items() if v is not None}
        config = replace(config, **changes)
    elif base_url:
        model = model_id or name
        if not model:
            raise UserError(f"--base-url {base_url} needs a model id (--model)")
        config = ModelConfig(
            name=model,
            base_url=base_url,
            model=model,
            api_key_env=api_key_env or "",
            tool_mode=tool_mode or "native",
        )
    elif name:
        config = registry.get(name)  # raises, listing the known names
    else:
        raise UserError(f"no model given: name one of {', '.join(registry.names())}, or give --base-url and --model")
    _check_base_url(config.base_url, f"model {config.name!r}")
    _check_tool_mode(config.tool_mode, f"model {config.name!r}")
    return config


def api_key(config: ModelConfig, environ: Mapping[str, str] = os.environ, dotenv: Path | None = Path(".env")) -> str:
    """The key from the environment, else from a .env file; "EMPTY" for keyless local servers
    (the OpenAI client insists on some key)."""
    var = config.api_key_env
    if not var:
        return "EMPTY"
    value = (environ.get(var) or "").strip()
    if value:
        return value
    if dotenv is not None and Path(dotenv).is_file():
        value = (dotenv_values(dotenv).get(var) or "").strip()
        if value:
            return value
    where = f" (looked in the environment and {dotenv})" if dotenv is not None and Path(dotenv).is_file() else ""
    raise UserError(
        f"model {config.name!r} needs an API key: set {var} (in the environment or .env){where}"
    )


def resolve_endpoint(model: str = "", *, base_url: str | None = None, model_id: str | None = None,
                     tool_mode: str | None = None, models_files: tuple[Path, ...] = (),
                     environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env"),
                     who: str = "the llm agent") -> tuple[ModelConfig, str]:
    """(config, key) for a registry model (`--model qwen3-coder`) or any endpoint
    (`--base-url URL --model ID`): what every model-backed agent starts from. The key is
    checked here, before any image is built, so a missing key fails at once."""
    if not model and not (base_url and model_id):
        raise UserError(f"{who} needs --model NAME (a models.toml entry) or --base-url URL --model ID")
    registry = ModelRegistry.load(models_files)
    if base_url and model and model not in registry.names():
        model, model_id = "", model_id or model  # --base-url URL --model ID: an unregistered endpoint
    config = resolve_model(registry, model or None, base_url=base_url, model_id=model_id, tool_mode=tool_mode)
    return config, api_key(config, os.environ if environ is None else environ, dotenv)


# ---- parsing ------------------------------------------------------------------------------
def _read(path: Path, what: str = "models file") -> dict:
    if not path.is_file():
        raise UserError(f"{what} {path}: no such file")
    return _parse(path.read_text(encoding="utf-8"), str(path))


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{source}: invalid TOML: {exc}") from None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Field-wise merge; nested tables (serve, extra_body, env) merge too."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _resolve_extends(name: str, merged: Mapping[str, dict], source: str, seen: tuple[str, ...] = ()) -> dict:
    entry = merged[name]
    parent = entry.get("extends")
    if parent is None:
        return dict(entry)
    if not isinstance(parent, str) or parent not in merged:
        raise UserError(f"{source}: models.{name}: extends {parent!r}, which is not a known model")
    if parent in seen or parent == name:
        raise UserError(f"{source}: models.{name}: circular 'extends' ({' -> '.join((*seen, name, parent))})")
    resolved = _merge(_resolve_extends(parent, merged, source, (*seen, name)), entry)
    resolved.pop("extends", None)
    return resolved


_MODEL_FIELDS = {f.name: f for f in fields(ModelConfig)}
_SERVE_FIELDS = {f.name: f for f in fields(ServeConfig)}


def _build(name: str, merged: Mapping[str, dict], source: str) -> ModelConfig:
    where = f"{source}: models.{name}"
    entry = _resolve_extends(name, merged, source)
    entry.pop("extends", None)
    unset = entry.pop("unset", [])
    if not isinstance(unset, list) or any(u not in _UNSETTABLE for u in unset):
        raise UserError(f"{where}: unset must list some of {list(_UNSETTABLE)}, got {unset!r}")
    unknown = set(entry) - set(_MODEL_FIELDS) | ({"name"} & set(entry))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(set(_MODEL_FIELDS) - {'name'})}")
    for required in ("base_url", "model"):
        if not isinstance(entry.get(required), str) or not entry[required]:
            raise UserError(f"{where}: '{required}' (a string) is required")
    values: dict[str, Any] = {"name": name}
    for key, value in entry.items():
        if key == "serve":
            values[key] = _build_serve(value, f"{where}.serve")
        elif key == "extra_body":
            if not isinstance(value, Mapping):
                raise UserError(f"{where}: extra_body must be a table")
            values[key] = dict(value)
        else:
            values[key] = _typed(key, value, _MODEL_FIELDS[key].type, where)
    for key in unset:
        values[key] = None
    config = ModelConfig(**values)
    _check_base_url(config.base_url, where)
    if config.anthropic_base_url:
        _check_base_url(config.anthropic_base_url, where, "anthropic_base_url")
    _check_tool_mode(config.tool_mode, where)
    for key in ("context_window",):
        if config.context_window <= 0:
            raise UserError(f"{where}: {key} must be positive")
    if config.input_price < 0 or config.output_price < 0 or config.request_timeout <= 0:
        raise UserError(f"{where}: prices must be >= 0 and request_timeout > 0")
    return config


def _build_serve(value: Any, where: str) -> ServeConfig:
    if not isinstance(value, Mapping):
        raise UserError(f"{where} must be a table")
    unknown = set(value) - set(_SERVE_FIELDS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_SERVE_FIELDS)}")
    if not isinstance(value.get("hf_model"), str) or not value["hf_model"]:
        raise UserError(f"{where}: 'hf_model' (the Hugging Face model id or a local path) is required")
    values: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("extra_args", "command"):
            if not isinstance(item, list) or not all(isinstance(a, str) for a in item):
                raise UserError(f"{where}: {key} must be a list of strings")
            values[key] = tuple(item)
        elif key == "env":
            if not isinstance(item, Mapping):
                raise UserError(f"{where}: env must be a table")
            values[key] = {str(k): str(v) for k, v in item.items()}
        else:
            values[key] = _typed(key, item, _SERVE_FIELDS[key].type, where)
    serve = ServeConfig(**values)
    if serve.engine not in ENGINES:
        raise UserError(f"{where}: engine must be one of {list(ENGINES)}, got {serve.engine!r}")
    if not 0 < serve.port < 65536 or serve.tensor_parallel_size < 1 or serve.data_parallel_size < 1:
        raise UserError(f"{where}: port, tensor_parallel_size and data_parallel_size must be valid positive numbers")
    return serve


def _typed(key: str, value: Any, annotation: str, where: str) -> Any:
    """Check a TOML value against a dataclass field's (string) annotation."""
    kinds = [k.strip() for k in str(annotation).split("|")]
    if "bool" in kinds:
        if isinstance(value, bool):
            return value
    elif "int" in kinds and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif "float" in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise UserError(f"{where}: {key} must be a finite number")
        return float(value)
    elif "str" in kinds and isinstance(value, str):
        return value
    expected = " or ".join(k for k in kinds if k != "None")
    raise UserError(f"{where}: {key} must be {expected}, got {value!r}")


def _check_base_url(url: str, where: str, key: str = "base_url") -> None:
    if not url.startswith(("http://", "https://")):
        raise UserError(f"{where}: {key} must start with http:// or https://, got {url!r}")


def _check_tool_mode(mode: str, where: str) -> None:
    if mode not in TOOL_MODES:
        raise UserError(f"{where}: tool_mode must be one of {list(TOOL_MODES)}, got {mode!r}")
