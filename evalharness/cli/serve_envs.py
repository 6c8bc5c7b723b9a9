"""`evalharness serve-envs` (being built: issue 19/20)."""

from __future__ import annotations

import argparse

from evalharness.core.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("serve-envs", help="(being built)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    raise UserError("`serve-envs` is not built yet")
