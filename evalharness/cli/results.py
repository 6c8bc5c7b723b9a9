"""`evalharness summary`, `report` and `compare`: what finished runs say."""

from __future__ import annotations

from evalharness.core.errors import UserError


def cmd_summary(args) -> int:
    """The table eval prints at its end; a run that stopped part-way (or is still running) says so
    first, with how many of its instances are done."""
    from evalharness.core.results import ResultStore
    from evalharness.report.load import load_run
    from evalharness.report.summary import progress_note
    from evalharness.run.runner import run_is_running, summarize

    if not args.run_dir.is_dir():
        raise UserError(f"no run at {args.run_dir}")
    if not (args.run_dir / "run.json").is_file():  # records without run.json: nothing says how many to expect
        print(summarize(list(ResultStore(args.run_dir).load().values())))
        return 0
    run = load_run(args.run_dir)
    note = progress_note(run, running=run_is_running(args.run_dir))
    if note:
        print(note)
    print(summarize(run.records))
    return 0


def cmd_report(args) -> int:
    from evalharness.report.compare import compare_dirs
    from evalharness.report.exports import export_experiments
    from evalharness.report.load import expand_run_dirs, load_run
    from evalharness.report.site import build_site

    runs = [load_run(path) for path in expand_run_dirs(args.run_dirs)]
    comparison = compare_dirs(*args.compare, alpha=args.alpha, max_drop=args.max_drop) if args.compare else None
    index = build_site(runs, args.out, comparison=comparison, title=args.title, attempts=not args.no_attempts)
    for run in runs:
        note = f" ({run.state}: {len(run.records)}/{run.planned})" if run.state != "complete" else ""
        print(f"{run.meta.run_id}: resolved {sum(r.resolved for r in run.records)}/{len(run.records)}{note}")
        if args.experiments:
            print(f"  experiments layout: {export_experiments(run, args.experiments)}")
    print(f"site: {index}")
    return 0


def cmd_compare(args) -> int:
    from evalharness.report.compare import compare_dirs
    from evalharness.core.results import atomic_write

    comparison = compare_dirs(args.base, args.new, alpha=args.alpha, max_drop=args.max_drop)
    markdown = comparison.to_markdown()
    print(markdown, end="")
    if args.out:
        atomic_write(args.out, markdown.encode("utf-8"))
    return 1 if comparison.regression else 0
