"""What `--help` and a mistyped flag show: the parser class every command's parser is made of
(subcommands plugged in by other modules get it too, through `add_subparsers`), the top-level
description, and an example per command."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Run coding agents on SWE-bench-style tasks: each task's repository in its own Docker container,
the agent's patch applied, the repository's own tests deciding, one Parquet row per instance in
reports/<run-id>/. `evalharness COMMAND --help` shows a command's options and an example."""

EPILOG = """\
examples:
  evalharness eval --dataset builtin --agent gold         # the built-in tasks, the oracle agent
  evalharness eval --model qwen3-coder --dataset verified --workers 8
  evalharness summary reports/gold__builtin
  evalharness report reports                              # the leaderboard site, reports/site/
  evalharness gc --dry-run                                # leftovers of runs that were killed

A run resumes when the same command (or --run-id) is given again; --redo runs it afresh."""

# One example (or two) per command, shown under its --help.
EXAMPLES = {
    "eval": """\
  evalharness eval --dataset builtin --agent gold --workers 4
  evalharness eval --dataset verified --instance-ids django__django-11099 --model qwen3-coder
  evalharness eval --agent replay --predictions preds.jsonl --dataset verified""",
    "validate": """\
  evalharness validate --dataset builtin --repeats 3   # flaky tests go to reports/<name>/flaky.json""",
    "tasks": """\
  evalharness tasks --dataset builtin --repos evalharness/spans
  evalharness tasks --dataset data/verified.parquet --filter requests --slice 0:5""",
    "build": """\
  evalharness build --dataset builtin
  evalharness build --offline-check --dataset data/verified.parquet --repo-mirror mirrors/""",
    "summary": """\
  evalharness summary reports/gold__builtin""",
    "models": """\
  evalharness models
  evalharness models --check qwen3-coder   # exit 2, naming the variable to set, if its key is missing""",
    "serve": """\
  evalharness serve qwen3-coder-30b-local""",
    "report": """\
  evalharness report reports --out reports/site
  evalharness report reports --compare reports/gold__builtin reports/llm-qwen3-coder__builtin""",
    "compare": """\
  evalharness compare reports/nightly-1 reports/nightly-2 --max-drop 0""",
}


def example(command: str) -> str:
    """The epilog of `command`'s parser."""
    return f"example:\n{EXAMPLES[command]}"


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Examples kept as written; "(default: X)" added where a help text does not say its default,
    and only where there is one worth saying (not None, off, empty or 0 of a counter)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, [], argparse.SUPPRESS)
                or isinstance(action, argparse._CountAction) or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """A mistake is one line naming the command and what is wrong, then where help is: the whole
    usage block buried the line that mattered (`--workers 0`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n(`{self.prog} --help` lists the options)\n")
        sys.exit(2)
