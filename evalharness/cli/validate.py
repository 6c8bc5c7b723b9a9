"""`evalharness validate`: gold and empty over a selection, and the flaky tests of repeated runs."""

from __future__ import annotations

from evalharness.cli.common import _environment, _limits, _select, default_run_id


def cmd_validate(args) -> int:
    from evalharness.scorers import get_scorer
    from evalharness.run.validate import validate

    tasks = _select(args)
    builder, specs, client = _environment(args)
    root = args.reports_dir / (args.run_id or default_run_id("validate", "", args.dataset, args.split))
    report = validate(tasks, root=root, dataset=args.dataset, client=client, builder=builder, specs=specs,
                      scorer_factory=lambda: get_scorer("tests"), workers=args.workers, redo=args.redo,
                      limits=_limits(args), progress=not args.no_progress, repeats=args.repeats)
    print(report.text())
    print(f"\nreport: {root / 'validation.json'} (table: {root / 'validation.md'})")
    if args.repeats > 1:
        print(f"flaky:  {root / 'flaky.json'} (eval --flaky {root / 'flaky.json'})")
    return 1 if report.problems else 0
