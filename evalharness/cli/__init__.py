"""Command line: `evalharness COMMAND` (cli/help.py says what each is for). User mistakes print
one line, no traceback.

One module per command (evaluate, validate, build: tasks and build, results: summary, report and
compare, models: models and serve, gc; serve_envs and rollout plug themselves in), parser for the
argparse tree, help for what --help and a bad flag show, common for what they share.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from evalharness.cli.build import cmd_build, cmd_tasks
from evalharness.cli.common import default_run_id
from evalharness.cli.evaluate import cmd_eval
from evalharness.cli.models import cmd_models, cmd_serve
from evalharness.cli.parser import build_parser
from evalharness.cli.results import cmd_compare, cmd_report, cmd_summary
from evalharness.cli.validate import cmd_validate
from evalharness.core.errors import UserError

__all__ = ["main", "build_parser", "default_run_id", "cmd_eval", "cmd_validate", "cmd_tasks", "cmd_build",
           "cmd_summary", "cmd_models", "cmd_serve", "cmd_report", "cmd_compare"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="evalharness: %(message)s",
    )
    try:
        return args.func(args)
    except UserError as exc:
        print(f"evalharness: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `evalharness tasks | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except KeyboardInterrupt as exc:  # one line, no traceback; the runner says what it kept
        # The process is leaving: a further Ctrl-C is no news. Ignored, not handled, because the
        # interpreter's shutdown puts Python handlers back to the default, and a Ctrl-C landing then
        # would kill the process by signal (exit -2, not 130) after the line below was printed.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        kept = str(exc) or "finished instances are kept"
        print(f"evalharness: interrupted: {kept}; run the same command to resume", file=sys.stderr)
        return 130
