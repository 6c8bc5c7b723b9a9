"""`evalharness compare` and the nightly job: McNemar's exact test against hand-computed cases,
a planted regression flagged, noise not flagged; the nightly script end to end in Docker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_report import make_run, rows_from

from evalharness.cli import main
from evalharness.report.compare import compare_runs
from evalharness.core.errors import UserError
from evalharness.report.load import load_run
from evalharness.report.stats import mcnemar_exact

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("b, c, expected", [
    (0, 0, 1.0),
    (1, 0, 1.0),                    # 2 * 1/2, capped
    (5, 0, 2 / 32),                 # 0.0625: five out of five is not enough at 0.05
    (6, 0, 2 / 64),                 # 0.03125
    (3, 1, 2 * (1 + 4) / 16),       # 0.625
    (1, 3, 2 * (1 + 4) / 16),       # symmetric
    (10, 2, 2 * (1 + 12 + 66) / 4096),  # 0.03857...
    (8, 8, 1.0),
    (12, 3, 2 * (1 + 15 + 105 + 455) / 32768),  # 0.03516
])
def test_mcnemar_exact_by_hand(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def _pair(tmp_path, base: dict[str, str], new: dict[str, str]):
    return (load_run(make_run(tmp_path, "base", rows_from(base))),
            load_run(make_run(tmp_path, "new", rows_from(new))))


def _outcomes(n: int, resolved: set[int], status: str = "unresolved") -> dict[str, str]:
    return {f"i-{k:02d}": "resolved" if k in resolved else status for k in range(n)}


def test_planted_regression_is_flagged(tmp_path):
    base_ok = set(range(20))  # 20 of 30 resolved
    new_ok = base_ok - set(range(8))  # 8 lost, none gained
    base, new = _pair(tmp_path, _outcomes(30, base_ok), _outcomes(30, new_ok, "empty_patch"))
    c = compare_runs(base, new)
    assert (len(c.to_fail), len(c.to_pass), c.common) == (8, 0, 30)
    assert c.p_value == pytest.approx(2 / 256)
    assert c.regression and c.significantly_worse and c.headline == "REGRESSION"
    assert [f.instance_id for f in c.to_fail] == [f"i-{k:02d}" for k in range(8)]
    assert c.to_fail[0].new_status == "empty_patch"


def test_noise_level_change_is_not_flagged(tmp_path):
    base_ok = set(range(20))
    new_ok = (base_ok - {0, 1, 2}) | {25, 26}  # 3 lost, 2 gained: net -1
    base, new = _pair(tmp_path, _outcomes(30, base_ok), _outcomes(30, new_ok))
    c = compare_runs(base, new)
    assert (len(c.to_fail), len(c.to_pass)) == (3, 2)
    assert c.p_value == pytest.approx(1.0)
    assert not c.regression and c.headline == "no regression"
    # a rule on the net drop catches what the test cannot see, if asked to
    assert compare_runs(base, new, max_drop=0).regression
    assert not compare_runs(base, new, max_drop=1).regression


def test_a_significant_improvement_is_not_a_regression(tmp_path):
    base, new = _pair(tmp_path, _outcomes(20, set()), _outcomes(20, set(range(9))))
    c = compare_runs(base, new, max_drop=0)
    assert not c.regression and c.improved and c.p_value == pytest.approx(2 / 512)


def test_only_common_instances_count_and_unmeasured_ones_are_left_out(tmp_path):
    base = {"a": "resolved", "b": "resolved", "c": "resolved", "d": "resolved", "only-base": "resolved"}
    new = {"a": "resolved", "b": "env_build_failed", "c": "harness_error", "d": "no_tests_parsed",
           "only-new": "unresolved"}
    c = compare_runs(*_pair(tmp_path, base, new))
    assert c.common == 1 and (c.only_in_base, c.only_in_new) == (1, 1)
    assert [f.instance_id for f in c.excluded_infra] == ["b", "c", "d"]
    assert not c.to_fail and not c.regression  # a log with no test in it is no model regression
    assert "left out, not measured (env_build_failed, harness_error, no_tests_parsed): 3" in c.to_markdown()


def test_bad_inputs_are_user_errors(tmp_path):
    base, new = _pair(tmp_path, {"a": "resolved"}, {"b": "resolved"})
    with pytest.raises(UserError, match="no finished instance in common"):
        compare_runs(base, new)
    with pytest.raises(UserError, match="alpha"):
        compare_runs(base, base, alpha=1.5)
    with pytest.raises(UserError, match="max-drop"):
        compare_runs(base, base, max_drop=-1)


def test_compare_cli_exit_codes_and_markdown(tmp_path, capsys):
    base_ok = set(range(20))
    base = make_run(tmp_path, "base", rows_from(_outcomes(30, base_ok)))
    worse = make_run(tmp_path, "worse", rows_from(_outcomes(30, base_ok - set(range(8)))))
    noisy = make_run(tmp_path, "noisy", rows_from(_outcomes(30, (base_ok - {0, 1}) | {25})))
    out = tmp_path / "summary.md"
    assert main(["compare", str(base), str(worse), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert printed == out.read_text()
    assert "**REGRESSION: NEW is significantly worse (McNemar p = 0.00781 < alpha 0.05)**" in printed
    assert "| resolved, common instances | 20/30 (66.7%) | 12/30 (40.0%) |" in printed
    assert "### Flipped to fail (8)" in printed and "- `i-00`: resolved → unresolved" in printed
    assert main(["compare", str(base), str(noisy)]) == 0
    assert "no regression: the difference is within noise (McNemar p = 1" in capsys.readouterr().out
    assert main(["compare", str(base), str(noisy), "--max-drop", "0"]) == 1
    assert "more than --max-drop 0" in capsys.readouterr().out
    assert main(["compare", str(base), str(tmp_path / "missing")]) == 2
    assert "not a run folder" in capsys.readouterr().err


# ---- the nightly job, for real --------------------------------------------------------------
# Six instances, two per repo: the smallest subset where losing all of them is significant at
# 0.05 (p = 2/64), which keeps this test to a minute or two. Same file name as tasks/nightly.txt,
# so the baseline gets the default name.
SUBSET = ["evalharness__confini-1", "evalharness__confini-2", "evalharness__spans-1", "evalharness__spans-2",
          "evalharness__textkit-1", "evalharness__textkit-2"]


def _nightly(tmp_path: Path, cache_dir: Path, agent: str, run_id: str) -> subprocess.CompletedProcess:
    subset = tmp_path / "nightly.txt"
    subset.write_text("# test subset\n" + "\n".join(SUBSET) + "\n")
    env = {**os.environ, "AGENT": agent, "MODEL": "", "REPORTS_DIR": str(tmp_path / "reports"),
           "NIGHTLY_SUBSET": str(subset),
           "NIGHTLY_RUN_ID": run_id, "EVALHARNESS_CACHE": str(cache_dir), "WORKERS": "2",
           "EVALHARNESS": str(ROOT / ".venv" / "bin" / "evalharness")}
    return subprocess.run([str(ROOT / "scripts" / "nightly")], env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.docker
def test_nightly_end_to_end_gold_baseline_then_empty_then_gold(tmp_path, cache_dir, docker_client):
    first = _nightly(tmp_path, cache_dir, "gold", "n1-gold")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no baseline 'builtin-nightly' yet: stored this run as the baseline" in first.stdout
    baseline = tmp_path / "reports" / "baselines" / "builtin-nightly" / "n1-gold"
    assert load_run(baseline).state == "complete" and all(r.resolved for r in load_run(baseline).records)
    assert sorted(r.instance_id for r in load_run(baseline).records) == SUBSET

    second = _nightly(tmp_path, cache_dir, "empty", "n2-empty")
    assert second.returncode == 1, second.stdout + second.stderr
    assert "REGRESSION: NEW is significantly worse" in second.stdout
    assert "### Flipped to fail (6)" in (tmp_path / "reports" / "nightly" / "n2-empty" / "compare.md").read_text()
    site = (tmp_path / "reports" / "site" / "index.html").read_text()
    assert 'id="comparison"' in site and "Regression" in site and 'data-run="n2-empty"' in site

    third = _nightly(tmp_path, cache_dir, "gold", "n3-gold")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "no regression" in third.stdout and "nightly: PASS" in third.stdout
    site = (tmp_path / "reports" / "site" / "index.html").read_text()
    assert site.count('data-run="') == 3  # baseline, n2-empty, n3-gold (the baseline's nightly copy once)
