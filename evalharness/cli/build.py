"""`evalharness tasks` and `evalharness build`: what a selection picks, and its images."""

from __future__ import annotations

import sys

from evalharness.cli.common import _environment, _select, log
from evalharness.core.errors import UserError


def cmd_tasks(args) -> int:
    tasks = _select(args, required=False)
    for t in tasks:
        print(f"{t.instance_id:<40} {t.repo:<28} {t.version:<8} F2P={len(t.FAIL_TO_PASS):<3} P2P={len(t.PASS_TO_PASS)}")
    print(f"{len(tasks)} task(s)", file=sys.stderr)
    return 0


def cmd_build(args) -> int:
    from evalharness.core.errors import EnvBuildError

    tasks = _select(args)
    builder, specs, _ = _environment(args)
    if args.offline_check:
        return _offline_check(tasks, builder, specs)
    failed = 0
    for task in tasks:
        try:
            spec = specs.get(task.repo, task.version) if (task.repo, task.version) in specs else None
            tag = builder.image_for(task, spec, log.debug).tag
            print(f"{task.instance_id}: {tag}")
        except (EnvBuildError, UserError) as exc:
            failed += 1
            print(f"{task.instance_id}: FAILED: {exc}")
    return 1 if failed else 0


def _offline_check(tasks, builder, specs) -> int:
    groups: dict[str, list[str]] = {}
    for task in tasks:
        spec = specs.get(task.repo, task.version) if (task.repo, task.version) in specs else None
        problem = builder.offline_problem(task, spec)
        if problem:
            groups.setdefault(problem, []).append(task.instance_id)
    blocked = sum(len(ids) for ids in groups.values())
    print(f"{len(tasks) - blocked} of {len(tasks)} instance(s) can be built offline; {blocked} can't")
    for reason, ids in sorted(groups.items(), key=lambda item: -len(item[1])):
        print(f"\n{len(ids):>5}  {reason}\n       {', '.join(ids)}")
    return 1 if blocked else 0
