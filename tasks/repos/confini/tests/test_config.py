import pytest

from confini import DEFAULT, Config, ConversionError, InterpolationError, MissingError, parse

TEXT = """\
[DEFAULT]
root = /srv/app
timeout = 30

[server]
port = 8080
debug = Yes
ratio = 0.75
static = ${root}/static
plugins = auth, cache,metrics

[worker]
timeout = 60
log = ${server:port}.log
price = $$5
"""


@pytest.fixture
def cfg():
    return parse(TEXT)


def test_sections_exclude_default(cfg):
    assert cfg.sections() == ["server", "worker"]
    assert list(cfg) == ["server", "worker"]
    assert DEFAULT in cfg


def test_defaults_are_inherited(cfg):
    assert cfg.get("server", "timeout") == "30"
    assert cfg.get("worker", "timeout") == "60"
    assert cfg.options("worker") == ["timeout", "log", "price", "root"]


def test_missing(cfg):
    with pytest.raises(MissingError):
        cfg.get("server", "nope")
    with pytest.raises(MissingError):
        cfg.get("nope", "port")
    assert cfg.get("server", "nope", "fallback") == "fallback"
    assert not cfg.has_option("server", "nope")
    assert cfg.has_option("server", "root")


def test_typed_getters(cfg):
    assert cfg.getint("server", "port") == 8080
    assert cfg.getfloat("server", "ratio") == 0.75
    assert cfg.getbool("server", "debug") is True
    assert cfg.getlist("server", "plugins") == ["auth", "cache", "metrics"]
    assert cfg.getint("server", "workers", 4) == 4


def test_conversion_error(cfg):
    with pytest.raises(ConversionError, match="not a valid integer"):
        cfg.getint("server", "ratio")


def test_interpolation_same_section_and_default(cfg):
    assert cfg.get("server", "static") == "/srv/app/static"
    assert cfg.get("server", "static", raw=True) == "${root}/static"


def test_interpolation_other_section(cfg):
    assert cfg.get("worker", "log") == "8080.log"


def test_dollar_escape(cfg):
    assert cfg.get("worker", "price") == "$5"


def test_missing_reference():
    cfg = parse("[a]\nx = ${nope}\n")
    with pytest.raises(InterpolationError, match="nope"):
        cfg.get("a", "x")


def test_set_and_dumps_round_trip():
    cfg = Config()
    cfg.set("app", "Name", "demo")
    cfg.set("app", "motd", "hello\nworld")
    text = cfg.dumps()
    assert text == "[app]\nname = demo\nmotd = hello\n    world\n"
    assert parse(text).to_dict() == cfg.to_dict()


def test_set_rejects_non_strings():
    with pytest.raises(TypeError):
        Config().set("a", "x", 1)
