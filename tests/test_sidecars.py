"""Sidecars: local services a repo's tests reach by name (httpbin as httpbin.org) on an
internal network, and the "needs network" verdict for tests that wanted the real internet."""

from __future__ import annotations

import shlex
import uuid
from pathlib import Path

import pytest

from evalharness.env.docker import ContainerLimits, remove_run_containers, running_container, sandbox_options
from evalharness.core.errors import UserError
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.scorers.tests_scorer import TestScorer, needs_network
from evalharness.env.sidecars import check_specs, sidecar_network
from evalharness.tasks.specs import SpecRegistry, load_spec_file
from evalharness.core.status import Status
from gitrepo import make_diff
from test_scorer_local import CALC, env, make_spec, make_task, repo  # noqa: F401 - env, repo: fixtures

ROOT = Path(__file__).resolve().parents[1]
REQUESTS_LOG_LINE = ("FAILED test_requests.py::RequestsTestCase::test_HTTP_200_OK_GET - requests.exceptions."
                     "ConnectionError: HTTPConnectionPool(host='httpbin.org', port=80): Max retries exceeded with url: "
                     "/get (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object>: Failed to "
                     "establish a new connection: [Errno -3] Temporary failure in name resolution'))")


def test_specs_name_their_sidecars_and_unknown_ones_are_refused(tmp_path):
    specs = {(s.repo, s.version): s for s in load_spec_file(ROOT / "tasks" / "swebench_specs.toml")}
    assert all(s.sidecars == ("httpbin",) for (repo, _), s in specs.items() if repo == "psf/requests")
    assert all(not s.sidecars for (repo, _), s in specs.items() if repo != "psf/requests")
    bad = tmp_path / "bad.toml"
    bad.write_text('[repos."a/b"."1"]\npython = "3.11"\nsidecars = ["redis"]\n')
    with pytest.raises(UserError, match=r"a/b 1: unknown sidecar\(s\) \['redis'\]; known: \['httpbin'\]"):
        check_specs(SpecRegistry(load_spec_file(bad)))  # the run's start: InstancePipeline checks its specs


def test_network_failures_in_a_log_are_recognised():
    assert needs_network(REQUESTS_LOG_LINE) in ("Max retries exceeded with url", "Failed to establish a new connection",
                                                "Temporary failure in name resolution")
    assert needs_network("E   OSError: [Errno 101] Network is unreachable") == "Network is unreachable"
    assert needs_network("FAILED test_x.py::test_a - assert 1 == 2\n1 failed") is None


def test_a_listed_test_that_needed_the_network_is_named_so(repo, env, tmp_path):  # noqa: F811 - fixtures
    tests = ("import socket\n\ndef test_online():\n    socket.getaddrinfo('no-such-host.invalid', 80)\n\n"
             "def test_offline():\n    assert True\n")
    test_patch = make_diff(repo, {"tests/test_net.py": tests})
    task = make_task(repo, test_patch, ["tests/test_net.py::test_online"], ["tests/test_net.py::test_offline"])
    patch = make_diff(repo, {"pkg/calc.py": "# touched\n" + CALC})
    scorer = TestScorer(patch_path=str(tmp_path / "model.patch"), script_path=str(tmp_path / "eval.sh"))
    result = scorer.score(task, patch, env, make_spec())
    assert result.status == Status.UNRESOLVED and (result.f2p_passed, result.p2p_passed) == (0, 1)
    assert result.error.startswith("needs network: 1 listed test(s) failed"), result.error
    # a plain failure stays a plain unresolved
    plain = make_task(repo, make_diff(repo, {"tests/test_net.py": "def test_online():\n    assert False\n"}),
                      ["tests/test_net.py::test_online"], [])
    assert scorer.score(plain, patch, env, make_spec()).error is None


@pytest.mark.docker
def test_httpbin_answers_as_httpbin_org_and_nothing_else_is_reachable(docker_client, cache_dir):
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir), [])
    base = builder.base_image("3.11", print)
    run_id = f"sidecar-{uuid.uuid4().hex[:8]}"
    limits = ContainerLimits()
    lines: list[str] = []
    probe = ("import json, urllib.request, sys\n"
             "body = json.load(urllib.request.urlopen('http://httpbin.org/get?x=1', timeout=10))\n"
             "print('args', body['args'], 'host', body['headers']['Host'])\n"
             "code = urllib.request.urlopen('http://httpbin.org/status/418', timeout=10)\n")
    https = ("import json, urllib.request\n"
             "print('https url', json.load(urllib.request.urlopen('https://httpbin.org/get', timeout=10))['url'])\n")
    outside = ("import socket\n"
               "for host in ('1.1.1.1', 'deb.debian.org'):\n"
               "    try:\n"
               "        socket.create_connection((host, 80), timeout=3); print('REACHED', host)\n"
               "    except OSError as exc:\n"
               "        print('unreachable', host, type(exc).__name__)\n")
    try:
        with sidecar_network(docker_client, builder, ["httpbin"], run_id=run_id, instance_id="i-1",
                             sandbox=sandbox_options(docker_client, limits), sink=lines.append) as sidecars, \
                running_container(docker_client, base, run_id=run_id, instance_id="i-1", purpose="eval",
                                  limits=limits, network=sidecars.name) as env:
            assert docker_client.networks.get(sidecars.name).attrs["Internal"] is True
            before = env.exec(f"python -c {shlex.quote(https)} 2>&1", timeout=60).output
            assert "CERTIFICATE_VERIFY_FAILED" in before, before  # a certificate nobody trusts yet
            sidecars.trust(env)
            got = env.exec(f"python -c {shlex.quote(probe)} 2>&1", timeout=60).output
            assert "args {'x': '1'} host httpbin.org" in got and "HTTP Error 418" in got, got
            secure = env.exec(f"python -c {shlex.quote(https)} 2>&1", timeout=60).output
            assert "https url https://httpbin.org/get" in secure, secure
            away = env.exec(f"python -c {shlex.quote(outside)}", timeout=60).output
            assert "REACHED" not in away and away.count("unreachable") == 2, away
        assert any("sidecar httpbin answers on httpbin.org" in line for line in lines)
        left = docker_client.containers.list(all=True, filters={"label": f"evalharness.run_id={run_id}"})
        assert not left and not docker_client.networks.list(filters={"label": f"evalharness.run_id={run_id}"})
    finally:
        remove_run_containers(docker_client, run_id)


@pytest.mark.docker
def test_a_killed_runs_sidecar_network_is_swept(docker_client):
    run_id = f"sweep-{uuid.uuid4().hex[:8]}"
    docker_client.networks.create(f"evalharness-net-{run_id}", internal=True,
                                  labels={"evalharness": "1", "evalharness.run_id": run_id})
    remove_run_containers(docker_client, run_id)
    assert not docker_client.networks.list(filters={"label": f"evalharness.run_id={run_id}"})


def test_the_sidecar_ca_is_trusted_again_right_before_the_tests(repo):  # noqa: F811 - fixture
    from dataclasses import replace

    from evalharness.scorers.tests_scorer import START_MARKER, build_eval_script
    from evalharness.env.sidecars import _TRUST

    task = make_task(repo, make_diff(repo, {"tests/test_x.py": "def test_x():\n    pass\n"}), ["tests/test_x.py::test_x"], [])
    spec = replace(make_spec(install=("python -m pip install .",)), pre_test=(_TRUST,))
    script = build_eval_script(task, spec, model_patch="diff --git a/setup.py b/setup.py\n")
    install, trust, start = (script.index("python -m pip install ."), script.index(_TRUST),
                             script.index(START_MARKER))
    assert install < trust < start  # after a re-install brought a package's own bundle back
