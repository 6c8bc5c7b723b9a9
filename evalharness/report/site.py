"""The static leaderboard site: one index over runs, a page per run, a page per instance.

Rendered with jinja2 templates (evalharness/templates/report/, autoescape on: problem
statements, diffs and trajectories are text, never markup). Diffs are highlighted by
pygments, whose output is escaped by pygments itself; charts are inline SVG from svg.py.
Everything the pages use is written next to them, so the site opens offline from disk.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from jinja2 import Environment, PackageLoader, Undefined
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer

from evalharness import __version__
from evalharness.report.compare import Comparison
from evalharness.core.errors import UserError
from evalharness.report import fmt, svg
from evalharness.report.board import InstanceSet, group_by_instance_set
from evalharness.report.calls import describe_call
from evalharness.report.exports import report_counts, write_predictions_file
from evalharness.report.load import RunData, load_task_info, read_trajectory
from evalharness.report.why import explain
from evalharness.report.summary import RunSummary, attempt_groups, summarize_run
from evalharness.core.results import atomic_write, safe_name

MARKER = ".evalharness-site"  # only a folder carrying it is ever cleared before rewriting
MAX_OUTPUT_CHARS = 20_000  # per trajectory text block; head and tail kept


@dataclass(frozen=True)
class SiteRun:
    summary: RunSummary
    slug: str
    color: str
    tag: str = ""  # its rank in its instance set ("1", "B2"), "–" for a partial run (not ranked)

    @property
    def run(self) -> RunData:
        return self.summary.run

    @property
    def href(self) -> str:
        return f"runs/{self.slug}/index.html"


def build_site(runs: Sequence[RunData], out: Path, comparison: Comparison | None = None,
               title: str = "SWE-bench leaderboard", attempts: bool = True) -> Path:
    """Write the site for `runs` into `out`; returns the path of its index.html.

    With `attempts`, runs of the same (model, agent, dataset) are scored together as
    attempts (pass@1 with its standard error, pass@k).
    """
    out = Path(out)
    _prepare(out)
    env = _environment()
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sets = group_by_instance_set([summarize_run(r) for r in runs])
    ordered = [(g, s, rank) for g in sets for rank, s in enumerate(g.runs, 1)]
    slugs = _unique([safe_name(s.run.meta.run_id) for _, s, _ in ordered])
    site_runs = [SiteRun(s, slug, svg.series_color(i), g.label + (str(rank) if rank <= len(g.ranked) else "–"))
                 for i, ((g, s, rank), slug) in enumerate(zip(ordered, slugs, strict=True))]
    by_set = _by_set(sets, site_runs)

    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    style, _, _ = env.loader.get_source(env, "style.css")
    (assets / "style.css").write_text(style, encoding="utf-8")
    (assets / "pygments.css").write_text(HtmlFormatter(style="default").get_style_defs(".highlight"), encoding="utf-8")

    common = {"title": title, "generated": generated, "version": __version__}
    index = env.get_template("leaderboard.html.j2").render(
        **common, root=".", runs=site_runs, sets=by_set, groups=attempt_groups([r.run for r in site_runs]) if attempts else [],
        repos=_repo_table(site_runs), repo_chart=Markup(_repo_chart(site_runs)),
        time_chart=Markup(_time_chart(site_runs)), comparison=comparison,
    )
    _write(out / "index.html", index)

    task_cache: dict = {}  # dataset -> its TaskInfo, read once for all runs of it
    for site_run in site_runs:
        _write_run(env, out, site_run, common, task_cache)
    (out / MARKER).write_text("written by evalharness report; the folder is rewritten on each report\n")
    return out / "index.html"


# ---- one run ------------------------------------------------------------------------------
def _write_run(env: Environment, out: Path, site_run: SiteRun, common: dict, task_cache: dict) -> None:
    run = site_run.run
    folder = out / "runs" / site_run.slug
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "report.json", report_counts(run).to_json().encode())
    write_predictions_file(run, folder / "all_preds.jsonl")
    tasks = load_task_info(run.meta.dataset, task_cache)
    pages = _unique([safe_name(r.instance_id) for r in run.records])
    links = {r.instance_id: f"i/{page}.html" for r, page in zip(run.records, pages, strict=True)}
    whys = {r.instance_id: explain(r, run.logs_dir(r.instance_id), tasks.get(r.instance_id),
                                   folder / "logs" / page, f"../logs/{page}/")
            for r, page in zip(run.records, pages, strict=True)}
    s = site_run.summary
    repo_chart = svg.repo_bars([r.repo for r in s.repos], [svg.Series(run.meta.run_id, site_run.color)],
                               {(r.repo, 0): (r.resolved, r.total) for r in s.repos})
    time_chart = svg.time_bars([(r.instance_id, r.total_seconds, r.status) for r in run.records])
    html = env.get_template("run.html.j2").render(
        **common, root="../..", site_run=site_run, s=s, run=run, links=links, counts=report_counts(run),
        repo_chart=Markup(repo_chart), time_chart=Markup(time_chart),
        flaky_column=any(r.flaky_tests for r in run.records), whys=whys,
    )
    _write(folder / "index.html", html)
    template = env.get_template("instance.html.j2")
    for i, record in enumerate(run.records):
        prev_link = links[run.records[i - 1].instance_id].removeprefix("i/") if i else None
        next_link = links[run.records[i + 1].instance_id].removeprefix("i/") if i + 1 < len(run.records) else None
        html = template.render(
            **common, root="../../..", site_run=site_run, run=run, r=record,
            problem=getattr(tasks.get(record.instance_id), "problem_statement", None),
            why=whys[record.instance_id], diff=_highlight_diff(record.patch or ""),
            turns=_turns(read_trajectory(run, record.instance_id)), prev_link=prev_link, next_link=next_link,
        )
        _write(folder / links[record.instance_id], html)


def _highlight_diff(patch: str) -> Markup | None:
    if not patch.strip():
        return None
    # pygments escapes every token it emits; its output is the only markup let through here.
    return Markup(highlight(patch, DiffLexer(), HtmlFormatter(cssclass="highlight", wrapcode=True)))


@dataclass(frozen=True)
class Turn:
    number: int
    t: float | None
    events: list[dict[str, Any]]


def _turns(events: list[dict[str, Any]]) -> list[Turn]:
    """Events grouped by turn, in order; text fields clipped to keep pages light."""
    turns: list[Turn] = []
    for event in events:
        number = event.get("turn") if isinstance(event.get("turn"), int) else (turns[-1].number if turns else 0)
        view = {k: _clip(v) if isinstance(v, str) else v for k, v in event.items()}
        view["type"] = str(event.get("type", ""))
        if view["type"] == "assistant" and isinstance(event.get("tool_calls"), list):
            view["calls"] = [describe_call(c.get("name"), c.get("arguments")) if isinstance(c, dict)
                             else describe_call("?", c) for c in event["tool_calls"]]
        elif view["type"] == "tool":
            view["call"] = describe_call(event.get("name"), event.get("arguments"))
        if not turns or turns[-1].number != number:
            t = event.get("t")
            turns.append(Turn(number, t if isinstance(t, (int, float)) else None, []))
        turns[-1].events.append(view)
    return turns


def _clip(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… {len(text) - 2 * half:,} characters omitted …\n{text[-half:]}"


# ---- leaderboard pieces --------------------------------------------------------------------
def _by_set(sets: Sequence[InstanceSet], site_runs: Sequence[SiteRun]) -> list[tuple[InstanceSet, list[SiteRun]]]:
    """Each instance set with its runs as pages show them (site_runs are in set order)."""
    out, start = [], 0
    for g in sets:
        out.append((g, list(site_runs[start:start + len(g.runs)])))
        start += len(g.runs)
    return out


@dataclass(frozen=True)
class RepoCell:
    resolved: int
    total: int

    @property
    def rate(self) -> float:
        return self.resolved / self.total if self.total else 0.0


def _repo_table(site_runs: Sequence[SiteRun]) -> list[tuple[str, list[RepoCell | None]]]:
    repos = sorted({r.repo for sr in site_runs for r in sr.summary.repos})
    table = []
    for repo in repos:
        cells = []
        for sr in site_runs:
            row = sr.summary.repo_rows.get(repo)
            cells.append(RepoCell(row.resolved, row.total) if row else None)
        table.append((repo, cells))
    return table


def _repo_chart(site_runs: Sequence[SiteRun]) -> str:
    repos = sorted({r.repo for sr in site_runs for r in sr.summary.repos})
    series = [svg.Series(sr.run.meta.run_id, sr.color) for sr in site_runs]
    rates = {(r.repo, i): (r.resolved, r.total) for i, sr in enumerate(site_runs) for r in sr.summary.repos}
    return svg.repo_bars(repos, series, rates)


def _time_chart(site_runs: Sequence[SiteRun]) -> str:
    rows = [(svg.Series(sr.run.meta.run_id, sr.color), [(r.total_seconds, r.status) for r in sr.run.records],
             sr.summary.median_seconds, sr.summary.p90_seconds) for sr in site_runs]
    return svg.time_strips(rows)


# ---- plumbing ------------------------------------------------------------------------------
def _environment() -> Environment:
    # Lenient undefined on purpose: trajectory events may lack keys (readers ignore what is missing).
    env = Environment(loader=PackageLoader("evalharness", "templates/report"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=fmt.pct, duration=fmt.duration, count=fmt.count, size=fmt.size, money=fmt.money, when=fmt.when,
                       day=fmt.day, text=_as_text, short_dataset=_short_dataset, status_color=svg.status_color)
    env.globals.update(ci_bar=lambda rate, ci: Markup(svg.ci_bar(rate, ci)),
                       status_stack=lambda counts: Markup(svg.status_stack(counts)))
    return env


def _as_text(value: Any) -> str:
    """Any trajectory value as display text (JSON for structures); escaping is the template's job."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, str):
        return value
    return _clip(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _short_dataset(dataset: str) -> str:
    path = Path(dataset)
    if path.suffix or dataset.startswith((".", "/", "~")):
        return "/".join(path.parts[-2:])
    return dataset


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise UserError(f"--out {out}: folder exists and is not an evalharness site; give a new or empty folder")
        for stale in ("runs", "assets"):
            shutil.rmtree(out / stale, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _write(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


def _unique(names: Sequence[str]) -> list[str]:
    """File names made distinct (safe_name can map two ids, or two runs, to one name)."""
    used: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}-{n}"
        used.add(candidate)
        out.append(candidate)
    return out
