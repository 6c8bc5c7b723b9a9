"""The model registry: packaged entries, user overrides, ad-hoc endpoints, API keys."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from evalharness.core.errors import UserError
from evalharness.model.registry import ModelConfig, ModelRegistry, api_key, resolve_model

NO_USER_CONFIG: dict[str, str] = {}  # an environment with no HOME: only the packaged registry


def load(*files: Path, environ: dict[str, str] | None = None) -> ModelRegistry:
    return ModelRegistry.load(files, environ=NO_USER_CONFIG if environ is None else environ)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_packaged_registry_has_the_required_models_with_qwen_sampling():
    reg = load()
    assert {"qwen3-coder", "qwen3-coder-local", "qwen3-coder-local-xml", "qwen3-coder-30b-local"} <= set(reg.names())
    hosted = reg.get("qwen3-coder")
    assert hosted.base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert (hosted.model, hosted.api_key_env, hosted.tool_mode) == ("qwen3-coder-plus", "DASHSCOPE_API_KEY", "native")
    assert hosted.input_price > 0 and hosted.output_price > hosted.input_price
    assert hosted.serve is None
    for name in reg.names():
        cfg = reg.get(name)
        assert (cfg.temperature, cfg.top_p, cfg.top_k, cfg.repetition_penalty) == (0.7, 0.8, 20, 1.05), name
        assert cfg.base_url.endswith("/v1"), name

    local = reg.get("qwen3-coder-local")
    assert (local.base_url, local.model, local.api_key_env) == (
        "http://127.0.0.1:8000/v1", "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "")
    assert (local.tool_mode, local.input_price, local.output_price) == ("native", 0.0, 0.0)
    xml = reg.get("qwen3-coder-local-xml")
    assert xml.tool_mode == "qwen3_xml"
    assert (xml.model, xml.base_url, xml.serve) == (local.model, local.base_url, local.serve)
    small = reg.get("qwen3-coder-30b-local")
    assert small.model == small.serve.hf_model == "Qwen/Qwen3-Coder-30B-A3B-Instruct"
    for cfg in (local, xml, small):  # the agent must never plan for more than the server accepts
        assert cfg.serve.engine == "vllm" and cfg.serve.port == 8000
        assert cfg.context_window <= cfg.serve.max_model_len


def test_models_toml_is_package_data():
    """models.toml must ship inside the package (pyproject's package-data), not only in the repo."""
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert "model/models.toml" in pyproject["tool"]["setuptools"]["package-data"]["evalharness"]
    assert resources.files("evalharness").joinpath("model/models.toml").is_file()


def test_cost_and_request_params():
    cfg = ModelConfig(name="x", base_url="http://h/v1", model="m-id", input_price=1.0, output_price=5.0,
                      extra_body={"seed": 7})
    assert cfg.cost(1_000_000, 0) == pytest.approx(1.0)
    assert cfg.cost(250_000, 30_000) == pytest.approx(0.25 + 0.15)
    assert cfg.request_params() == {
        "model": "m-id", "temperature": 0.7, "top_p": 0.8, "max_tokens": 8192,
        "extra_body": {"top_k": 20, "repetition_penalty": 1.05, "seed": 7},
    }
    bare = ModelConfig(name="x", base_url="http://h/v1", model="m", temperature=None, top_p=None, top_k=None,
                       repetition_penalty=None, max_tokens=None)
    assert bare.request_params() == {"model": "m"}


def test_user_files_override_field_by_field_in_order(tmp_path):
    home = tmp_path / "home"
    write(home / ".config" / "evalharness" / "models.toml", """
[models.qwen3-coder]
base_url = "https://gateway.example/v1"
""")
    env_file = write(tmp_path / "env.toml", """
[models.qwen3-coder]
input_price = 2.5
[models.qwen3-coder-local.serve]
port = 9000
""")
    cli_file = write(tmp_path / "cli.toml", """
[models.qwen3-coder]
input_price = 3.0
unset = ["repetition_penalty"]
extra_body = { enable_thinking = false }

[models.my-model]
extends = "qwen3-coder-local"
model = "org/other"
""")
    reg = load(cli_file, environ={"HOME": str(home), "EVALHARNESS_MODELS": str(env_file)})
    hosted = reg.get("qwen3-coder")
    assert hosted.base_url == "https://gateway.example/v1"  # from ~/.config
    assert hosted.input_price == 3.0  # the --models file beats $EVALHARNESS_MODELS
    assert hosted.model == "qwen3-coder-plus" and hosted.top_k == 20  # untouched fields kept
    assert hosted.repetition_penalty is None and "repetition_penalty" not in hosted.request_params()["extra_body"]
    assert hosted.request_params()["extra_body"] == {"top_k": 20, "enable_thinking": False}
    assert reg.get("qwen3-coder-local").serve.port == 9000
    assert reg.get("qwen3-coder-local").serve.hf_model == "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8"
    mine = reg.get("my-model")
    assert (mine.model, mine.serve.port, mine.name) == ("org/other", 9000, "my-model")
    # XDG_CONFIG_HOME wins over HOME/.config
    xdg = tmp_path / "xdg"
    write(xdg / "evalharness" / "models.toml", '[models.qwen3-coder]\nbase_url = "https://xdg.example/v1"\n')
    reg = load(environ={"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)})
    assert reg.get("qwen3-coder").base_url == "https://xdg.example/v1"


def test_unknown_model_lists_the_known_names():
    with pytest.raises(UserError) as exc:
        load().get("gpt-17")
    assert "unknown model 'gpt-17'" in str(exc.value)
    assert "qwen3-coder-local" in str(exc.value) and "--base-url" in str(exc.value)


@pytest.mark.parametrize("text, needle", [
    ("[models.a]\nbase_url = 'http://h/v1'\nmodel = 'm'\ntemprature = 0.5\n", "unknown key(s) ['temprature']"),
    ("[models.a]\nbase_url = 'http://h/v1'\nmodel = 'm'\ntemperature = 'hot'\n", "temperature must be float"),
    ("[models.a]\nbase_url = 'http://h/v1'\nmodel = 'm'\ntool_mode = 'json'\n", "tool_mode must be one of"),
    ("[models.a]\nbase_url = 'h/v1'\nmodel = 'm'\n", "base_url must start with http"),
    ("[models.a]\nmodel = 'm'\n", "'base_url' (a string) is required"),
    ("[models.a]\nextends = 'nope'\n", "extends 'nope'"),
    ("[models.a]\nextends = 'b'\n[models.b]\nextends = 'a'\n", "circular"),
    ("[models.a]\nbase_url = 'http://h/v1'\nmodel = 'm'\n[models.a.serve]\nengine = 'tgi'\nhf_model = 'x'\n",
     "engine must be one of"),
    ("[models.a]\nbase_url = 'http://h/v1'\nmodel = 'm'\n[models.a.serve]\nport = 1\n", "'hf_model'"),
    ("[models.a]\nbase_url = 'http://h/v1'\nmodel = 'm'\nunset = ['model']\n", "unset must list"),
    ("[models.a\n", "invalid TOML"),
    ("[a]\nbase_url = 'x'\n", "unknown top-level key"),
])
def test_bad_entries_are_user_errors_naming_file_and_field(tmp_path, text, needle):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(UserError) as exc:
        load(path)
    assert needle in str(exc.value)
    assert str(path) in str(exc.value)


def test_missing_user_files_are_errors_but_a_missing_default_is_not(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load(tmp_path / "nope.toml")
    with pytest.raises(UserError, match="EVALHARNESS_MODELS"):
        load(environ={"EVALHARNESS_MODELS": str(tmp_path / "nope.toml")})
    assert "qwen3-coder" in load(environ={"HOME": str(tmp_path / "empty-home")}).names()


def test_resolve_model_registry_name_overrides_and_adhoc_endpoints():
    reg = load()
    cfg = resolve_model(reg, "qwen3-coder-local", base_url="http://10.0.0.5:8001/v1", tool_mode="qwen3_xml")
    assert (cfg.name, cfg.base_url, cfg.tool_mode) == ("qwen3-coder-local", "http://10.0.0.5:8001/v1", "qwen3_xml")
    assert cfg.model == "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8"
    snapshot = "qwen3-coder-plus-2025-09-23"
    assert resolve_model(reg, "qwen3-coder", model_id=snapshot).model == snapshot

    adhoc = resolve_model(reg, None, base_url="http://127.0.0.1:9999/v1", model_id="my/model", api_key_env="MY_KEY")
    assert (adhoc.name, adhoc.model, adhoc.api_key_env, adhoc.tool_mode) == ("my/model", "my/model", "MY_KEY", "native")
    assert (adhoc.temperature, adhoc.top_k, adhoc.input_price) == (0.7, 20, 0.0)
    # `--model X --base-url U` with X not in the registry: X is the model id
    assert resolve_model(reg, "org/served", base_url="http://h:1/v1").model == "org/served"

    with pytest.raises(UserError, match="unknown model 'nope'"):
        resolve_model(reg, "nope")
    with pytest.raises(UserError, match="no model given"):
        resolve_model(reg, None)
    with pytest.raises(UserError, match="needs a model id"):
        resolve_model(reg, None, base_url="http://h/v1")
    with pytest.raises(UserError, match="tool_mode must be one of"):
        resolve_model(reg, "qwen3-coder", tool_mode="xml")
    with pytest.raises(UserError, match="base_url must start with http"):
        resolve_model(reg, None, base_url="localhost:8000/v1", model_id="m")


def test_api_key_from_environment_then_dotenv(tmp_path):
    cfg = load().get("qwen3-coder")
    dotenv = write(tmp_path / ".env", "# keys\nDASHSCOPE_API_KEY=sk-from-dotenv\nOTHER=1\n")
    assert api_key(cfg, {"DASHSCOPE_API_KEY": "sk-from-env"}, dotenv) == "sk-from-env"
    assert api_key(cfg, {}, dotenv) == "sk-from-dotenv"
    quoted = write(tmp_path / "q.env", 'export DASHSCOPE_API_KEY="sk-quoted"\n')
    assert api_key(cfg, {"DASHSCOPE_API_KEY": ""}, quoted) == "sk-quoted"  # an empty variable does not count
    assert api_key(load().get("qwen3-coder-local"), {}, None) == "EMPTY"


def test_missing_api_key_names_the_variable(tmp_path):
    cfg = load().get("qwen3-coder")
    for dotenv in (None, tmp_path / "absent.env", write(tmp_path / ".env", "OTHER_KEY=x\n")):
        with pytest.raises(UserError) as exc:
            api_key(cfg, {"OPENAI_API_KEY": "sk-wrong-variable"}, dotenv)
        assert "set DASHSCOPE_API_KEY (in the environment or .env)" in str(exc.value)
        assert "qwen3-coder" in str(exc.value)
