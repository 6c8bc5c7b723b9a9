"""The argparse tree of `evalharness`: each command's options, the option groups they share, and
the argument types that check numbers."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from evalharness import __version__
# Commands that register themselves: each module's add_parser(sub) adds its parser and returns it.
from evalharness.cli.gc import add_parser as add_gc
from evalharness.cli.rollout import add_parser as add_rollout
from evalharness.cli.serve_envs import add_parser as add_serve_envs
from evalharness.cli.build import cmd_build, cmd_tasks
from evalharness.cli.evaluate import cmd_eval
from evalharness.cli.help import DESCRIPTION, EPILOG, Parser, example
from evalharness.cli.models import cmd_models, cmd_serve
from evalharness.cli.results import cmd_compare, cmd_report, cmd_summary
from evalharness.cli.validate import cmd_validate


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="evalharness", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"evalharness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")

    p_eval = sub.add_parser("eval", help="run an agent on tasks in Docker and grade it", epilog=example("eval"),
                            description="Run an agent on the selected tasks, each in its own container, and grade\n"
                                        "its patch with the repository's tests; results in reports/<run-id>/.")
    _selection_args(p_eval)
    _environment_args(p_eval)
    p_eval.add_argument("--agent", help="gold | empty | llm | replay | qwen-code | mini-swe-agent | claude-code "
                             "(default: llm with --model, else gold)")
    _model_args(p_eval)
    p_eval.add_argument("--scorer", default="tests", help="scorer (default: tests)")
    _executor_args(p_eval)
    p_eval.add_argument("--run-id", help="name of the run; re-running the same id resumes it "
                                         "(default: <agent>[-<model>]__<dataset>)")
    p_eval.add_argument("--reports-dir", type=Path, default=Path("reports"), help="where runs are written")
    p_eval.add_argument("--redo", action="store_true", help="run instances again even if already done")
    p_eval.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_eval.add_argument("--predictions", type=Path, metavar="FILE",
                        help="SWE-bench predictions (JSONL/JSON) to grade: --agent replay (implied); "
                             "instances without one are empty_patch")
    p_eval.add_argument("--flaky", type=Path, metavar="FILE",
                        help="flaky tests per instance ({instance_id: [test ids]}, the flaky.json of validate "
                             "--repeats N), graded by --flaky-policy")
    p_eval.add_argument("--flaky-policy", choices=("ignore", "flag"),
                        help="with --flaky: ignore = left out of FAIL_TO_PASS/PASS_TO_PASS before grading; "
                             "flag (default) = graded as usual, the failing ones named in the record")
    p_eval.set_defaults(func=cmd_eval)

    p_val = sub.add_parser("validate", help="gold and empty over a selection: list instances where gold does not "
                                            "resolve or empty does (exit 1 if any)", epilog=example("validate"))
    _selection_args(p_val)
    _environment_args(p_val)
    p_val.add_argument("--workers", type=_positive_int, default=1, help="instances in parallel (default 1)")
    p_val.add_argument("--run-id", help="name (default validate__<dataset>); runs go to <reports>/<name>/gold, /empty "
                                        "(and gold-2, empty-2, ... with --repeats)")
    p_val.add_argument("--repeats", type=_positive_int, default=1,
                       help="run gold and empty N times each; tests whose status changes go to <name>/flaky.json "
                            "(default 1)")
    p_val.add_argument("--reports-dir", type=Path, default=Path("reports"), help="where runs are written")
    p_val.add_argument("--redo", action="store_true", help="run instances again even if already done")
    p_val.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_val.set_defaults(func=cmd_validate)

    p_tasks = sub.add_parser("tasks", help="list the tasks a selection picks", epilog=example("tasks"))
    _selection_args(p_tasks)
    p_tasks.set_defaults(func=cmd_tasks)

    p_build = sub.add_parser("build", help="build (or pull) the images of a selection, nothing else",
                             epilog=example("build"))
    _selection_args(p_build)
    _environment_args(p_build)
    p_build.add_argument("--offline-check", action="store_true",
                         help="build nothing: list the instances that can't be built without a registry or GitHub, "
                              "and why")
    p_build.set_defaults(func=cmd_build)

    p_sum = sub.add_parser("summary", help="print the summary table of a run (finished, running or stopped)",
                           epilog=example("summary"))
    p_sum.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                       help="a run's folder, reports/<run-id>/ (eval prints it at the end)")
    p_sum.set_defaults(func=cmd_summary)

    p_models = sub.add_parser("models", help="list the registered models (models.toml) and whether their keys are set",
                              epilog=example("models"))
    _models_file_arg(p_models)
    p_models.add_argument("--check", metavar="NAME", help="exit 2, naming the variable to set, if NAME's key is missing")
    p_models.set_defaults(func=cmd_models)

    p_serve = sub.add_parser("serve", help="launch a local model server (vLLM/SGLang) until Ctrl-C",
                             epilog=example("serve"))
    p_serve.add_argument("serve_model", metavar="MODEL", help="a models.toml entry with a [serve] section")
    _models_file_arg(p_serve)
    p_serve.add_argument("--serve-command", help="launch command to use instead of the registry's ({port}, {model}, "
                                                 "{hf_model}, {tp}, {max_model_len}, {host} are filled in)")
    p_serve.add_argument("--log", type=Path, help="server log (default: <cache>/serve/<MODEL>.log)")
    p_serve.add_argument("--startup-timeout", type=float, help="seconds to wait for /v1/models (default: registry's)")
    p_serve.set_defaults(func=cmd_serve)

    p_report = sub.add_parser("report", help="the leaderboard site over runs, with SWE-bench exports",
                              epilog=example("report"))
    p_report.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR",
                          help="run folders, or folders of runs (e.g. reports/); runs of the same model, agent "
                               "and dataset given together are attempts (pass@k)")
    p_report.add_argument("--out", type=Path, default=Path("reports/site"), help="folder of the site")
    p_report.add_argument("--title", default="SWE-bench leaderboard", help="the site's title")
    p_report.add_argument("--compare", nargs=2, type=Path, metavar=("BASE", "NEW"),
                          help="show the paired comparison of two run folders on the leaderboard: BASE the "
                               "reference run, NEW the one checked against it")
    p_report.add_argument("--alpha", type=float, default=0.05, help="for --compare (default 0.05)")
    p_report.add_argument("--max-drop", type=int, help="for --compare: net instances NEW may lose")
    p_report.add_argument("--experiments", type=Path, metavar="DIR",
                          help="also export each run in SWE-bench's experiments layout under DIR")
    p_report.add_argument("--no-attempts", action="store_true",
                          help="runs of one system are not attempts (e.g. a nightly history): no pass@k table")
    p_report.set_defaults(func=cmd_report)

    p_cmp = sub.add_parser("compare", help="paired comparison of two runs (McNemar); exit 1 on a regression",
                           epilog=example("compare"))
    p_cmp.add_argument("base", type=Path, metavar="BASE", help="the reference run's folder (e.g. last night's)")
    p_cmp.add_argument("new", type=Path, metavar="NEW", help="the run folder checked against BASE")
    p_cmp.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p_cmp.add_argument("--max-drop", type=int, help="fail when NEW loses more than this many instances net")
    p_cmp.add_argument("--out", type=Path, help="also write the markdown summary to this file")
    p_cmp.set_defaults(func=cmd_compare)

    plugged = [add(sub) for add in (add_serve_envs, add_rollout, add_gc)]

    for p in (p_eval, p_tasks, p_build, p_sum, p_models, p_serve, p_report, p_cmp, p_val, *plugged):
        p.add_argument("-v", "--verbose", action="count", default=0,
                       help="say more: -v what each step does, -vv debug detail")
    return parser


def _selection_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tasks")
    g.add_argument("--dataset", default="builtin",
                   help="builtin | verified | lite | full | HF name | path to .jsonl/.json/.parquet")
    g.add_argument("--split", default="test", help="split of a Hugging Face dataset")
    g.add_argument("--instance-ids", action="append", default=[], metavar="IDS",
                   help="comma-separated ids; repeatable")
    g.add_argument("--repos", action="append", default=[], metavar="REPOS", help="owner/name, comma-separated")
    g.add_argument("--filter", dest="regex", help="regex on instance_id")
    g.add_argument("--slice", help="python slice of the selection, e.g. 0:10")
    g.add_argument("--shuffle", action="store_true", help="shuffle the selection (before --slice)")
    g.add_argument("--seed", type=int, default=0, help="seed of --shuffle (default 0)")


def _environment_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("environments")
    g.add_argument("--specs", action="append", type=Path, default=[], help="extra spec TOML file(s)")
    g.add_argument("--repo-mirror", action="append", type=Path, default=[],
                   help="folder of bare git mirrors (owner__name.git), for air-gapped sites")
    g.add_argument("--cache-dir", type=Path,
                   default=Path(os.environ.get("EVALHARNESS_CACHE", Path.home() / ".cache" / "evalharness")),
                   help="images' build contexts and repo clones ($EVALHARNESS_CACHE)")
    g.add_argument("--no-pull", action="store_true", help="never pull from a registry (air-gapped)")
    g.add_argument("--namespace", help="pull official SWE-bench images from this namespace (swebench = Docker Hub's); "
                                       "default: use an official image only if present locally, else build")
    g.add_argument("--base-image", help="upstream image for the base layer (default python:<ver>-slim)")
    g.add_argument("--ca-bundle", type=Path, help="CA bundle to inject into images (default: the host's)")
    g.add_argument("--no-host-ca", action="store_true", help="do not inject the host's CA bundle")
    g.add_argument("--build-workers", type=_positive_int, default=2, help="image builds in parallel")
    g.add_argument("--allow-network", action="store_true", help="give agent and test containers network")
    g.add_argument("--memory", help="memory limit per agent/test container, e.g. 8g (default 4g; none: no limit)")
    g.add_argument("--cpus", help="CPU quota per agent/test container, e.g. 2 (default: the host's cores; 0: no quota)")
    g.add_argument("--pids", help="process/thread limit per agent/test container (default 4096; none: no limit)")


def _executor_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--workers", type=_positive_int, default=2,
                   help="agent sessions at once (default 2, as `make eval`); they mostly wait on the model, so this "
                        "can be high "
                        "(--executor ray: each node's `docker` resource sets it instead)")
    g.add_argument("--start-rate", type=_non_negative_float,
                   help="instances started per second as the run begins (default 16; 0: all at once); sessions "
                        "started together stay in step and load the machine in bursts, turn after turn")
    g.add_argument("--eval-workers", type=_non_negative_int, default=0,
                   help="test runs at once, per machine (CPU-bound; default: its number of cores)")
    g.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local threads (default), or one Ray task per instance on nodes with Docker")
    g.add_argument("--ray-address", help="Ray cluster to join (e.g. ray://head:10001 or auto; "
                                         "default: $RAY_ADDRESS, else a new local cluster)")
    g.add_argument("--registry", help="registry (host:port[/prefix]) through which nodes share the images they build")
    g.add_argument("--max-attempts", type=_positive_int, default=3,
                   help="--executor ray: tries per instance when its worker or node dies (default 3)")
    g.add_argument("--llm-concurrency", type=_positive_int,
                   help="model requests in flight at once, across all workers (default: no limit)")
    g.add_argument("--llm-rpm", type=_positive_int,
                   help="model requests per minute, across all workers (default: no limit)")


def _models_file_arg(p) -> None:
    p.add_argument("--models", dest="models_files", action="append", type=Path, default=[],
                   help="your own models.toml (entries win over the packaged ones)")


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (llm and installed agents)")
    g.add_argument("--model", default="", help="a models.toml entry (e.g. qwen3-coder), or a model id with --base-url")
    g.add_argument("--base-url", help="any OpenAI-compatible endpoint (.../v1)")
    g.add_argument("--model-id", help="model id to send, overriding the registry's")
    g.add_argument("--tool-mode", choices=["native", "qwen3_xml"], help="override the registry's tool-call mode")
    _models_file_arg(g)
    g.add_argument("--max-turns", type=_positive_int, default=100, help="model calls per instance (default 100)")
    g.add_argument("--max-cost", type=float, default=3.0, help="USD per instance, 0 = no limit (default 3)")
    g.add_argument("--agent-timeout", type=float, default=3600, help="seconds per instance's agent phase (default 3600)")
    g.add_argument("--command-timeout", type=float, default=120, help="seconds per agent command (default 120)")
    g.add_argument("--agent-disk-limit", help="installed agents: what a CLI may write to its container's disk, "
                                              "e.g. 2g (default 10g); past it the CLI is stopped")
    g.add_argument("--serve", action="store_true",
                   help="launch the model's local server (vLLM/SGLang, from its [serve] entry) for the run")


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError("must be 0 or more" if least == 0 else f"must be at least {least}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("must be a finite number, 0 or more")
    return value


def _non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)
