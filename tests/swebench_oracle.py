"""The official `swebench` package's log parsing and grading, as a JSON filter.

Run INSIDE the throwaway venv that tests/test_swebench_differential.py makes (swebench
installed there, not in evalharness's venv). Imports only swebench and the standard library.

stdin:  {"cases": [{"name", "repo", "log_parser", "log", "FAIL_TO_PASS", "PASS_TO_PASS",
                    "other_statuses": {test id: status}}]}
stdout: {"version": swebench.__version__, "grading_file": path of swebench/harness/grading.py,
         "results": [{"name", "statuses", "repo_parser_agrees", "graded", "graded_other"}]}

  statuses       PARSER_REGISTRY[log_parser](log, test_spec): swebench's {test id: status}
  repo_parser_agrees  whether MAP_REPO_TO_PARSER_PY gives the repo that same parser function
                 (the dataset's log_parser column and that map should agree)
  graded         get_eval_tests_report + get_resolution_status on `statuses`
  graded_other   the same rules on `other_statuses` (evalharness's parse), so that
                 differences of the rules show apart from differences of the parsers
  each graded:   {"FAIL_TO_PASS": {id: "pass" | "fail" | "none"}, "PASS_TO_PASS": {...},
                  "resolution": "RESOLVED_FULL" | "RESOLVED_PARTIAL" | "RESOLVED_NO",
                  "resolved": bool}   ("none": in neither the success nor the failure list)

`swebench.harness` is loaded as a bare package, its __init__.py not run: that file only
imports the harness's submodules, among them the Docker and Modal runners, which need
docker, modal and datasets (hundreds of MB); log_parsers and grading import none of them.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path


def _load_swebench():
    import swebench

    harness_dir = Path(swebench.__file__).parent / "harness"
    if "swebench.harness" not in sys.modules:
        harness = types.ModuleType("swebench.harness")
        harness.__path__ = [str(harness_dir)]
        harness.__file__ = str(harness_dir / "__init__.py")
        sys.modules["swebench.harness"] = harness
        swebench.harness = harness
    from swebench.harness import grading
    from swebench.harness.constants import EvalType, ResolvedStatus
    from swebench.harness.log_parsers import PARSER_REGISTRY
    from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY
    from swebench.types import TestSpec

    return swebench, grading, EvalType, ResolvedStatus, PARSER_REGISTRY, MAP_REPO_TO_PARSER_PY, TestSpec


def main() -> int:
    swebench, grading, EvalType, ResolvedStatus, registry, repo_map, TestSpec = _load_swebench()
    request = json.load(sys.stdin)
    results = []
    for case in request["cases"]:
        f2p, p2p = list(case["FAIL_TO_PASS"]), list(case["PASS_TO_PASS"])
        spec = TestSpec(
            instance_id=case["name"], image="", eval_script_list=[], repo=case["repo"], version="",
            FAIL_TO_PASS=f2p, PASS_TO_PASS=p2p, log_parser=case["log_parser"], eval_type="pass_and_fail",
        )
        parser = registry[case["log_parser"]]
        statuses = parser(case["log"], spec)
        results.append({
            "name": case["name"],
            "statuses": statuses,
            "repo_parser_agrees": repo_map.get(case["repo"]) is parser,
            "graded": _grade(grading, EvalType, ResolvedStatus, statuses, f2p, p2p),
            "graded_other": _grade(grading, EvalType, ResolvedStatus, case["other_statuses"], f2p, p2p),
        })
    json.dump({"version": swebench.__version__, "grading_file": grading.__file__, "results": results},
              sys.stdout)
    return 0


def _grade(grading, EvalType, ResolvedStatus, statuses, f2p, p2p) -> dict:
    gold = {"FAIL_TO_PASS": f2p, "PASS_TO_PASS": p2p}
    report = grading.get_eval_tests_report(dict(statuses), gold, eval_type=EvalType.PASS_AND_FAIL)
    graded = {}
    for key, tests in gold.items():
        success, failure = set(report[key]["success"]), set(report[key]["failure"])
        graded[key] = {t: "pass" if t in success else "fail" if t in failure else "none" for t in tests}
    resolution = grading.get_resolution_status(report)
    graded["resolution"] = resolution
    graded["resolved"] = resolution == ResolvedStatus.FULL.value
    return graded


if __name__ == "__main__":
    sys.exit(main())
