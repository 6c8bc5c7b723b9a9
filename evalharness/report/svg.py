"""Inline SVG charts, drawn here so the pages need no script, no CDN and no network.

Each function returns a complete <svg> element as a string; every piece of text in it
is escaped here, so callers may mark the result safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

from evalharness.report import fmt

STATUS_COLORS = {
    "resolved": "#2da44e",
    "unresolved": "#8c959f",
    "empty_patch": "#d0d7de",
    "patch_apply_failed": "#e3a008",
    "test_timeout": "#8250df",
    "no_tests_parsed": "#953800",
    "env_build_failed": "#cf222e",
    "agent_error": "#e85aad",
    "harness_error": "#82071e",
}
SERIES_COLORS = ("#0969da", "#e16f24", "#2da44e", "#8250df", "#bf3989", "#1b7c83", "#9a6700", "#57606a")
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif\""


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, "#57606a")


def series_color(index: int) -> str:
    return SERIES_COLORS[index % len(SERIES_COLORS)]


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{_t(label)}" {FONT}>'
            f'<title>{_t(label)}</title>' + "".join(body) + "</svg>")


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 5 x 10^k) up to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


# ---- small inline figures for table cells ---------------------------------------------------
def ci_bar(rate: float | None, ci: tuple[float, float] | None, width: int = 120) -> str:
    """A 0-100% track with the 95% interval shaded and the point estimate marked."""
    h = 14
    body = [f'<rect x="0" y="5" width="{width}" height="4" rx="2" fill="#eaeef2"/>']
    if rate is not None and ci is not None:
        lo, hi = ci
        body.append(f'<rect x="{lo * width:.1f}" y="3" width="{max(1.5, (hi - lo) * width):.1f}" height="8" '
                    f'rx="3" fill="#0969da" fill-opacity="0.28"/>')
        body.append(f'<rect x="{min(rate * width, width - 3):.1f}" y="1" width="3" height="12" rx="1" fill="#0969da"/>')
    label = f"resolved {fmt.pct(rate)}" + (f", 95% CI {fmt.pct(ci[0])} to {fmt.pct(ci[1])}" if ci else "")
    return _svg(width, h, body, label)


def status_stack(counts: dict[str, int], width: int = 160) -> str:
    """One bar split by status, in the order given."""
    total = sum(counts.values())
    h = 10
    body = [f'<rect x="0" y="0" width="{width}" height="{h}" rx="3" fill="#eaeef2"/>']
    x = 0.0
    for status, n in counts.items():
        if not n:
            continue
        w = width * n / total
        body.append(f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{h}" fill="{status_color(status)}">'
                    f'<title>{_t(status)}: {n}</title></rect>')
        x += w
    label = ", ".join(f"{s} {n}" for s, n in counts.items() if n) or "no instances"
    return _svg(width, h, body, label)


# ---- charts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    name: str
    color: str


def repo_bars(repos: Sequence[str], series: Sequence[Series], rates: dict[tuple[str, int], tuple[int, int]],
              width: int = 700) -> str:
    """Resolve rate by repo: a group of bars per repo, one bar per run.

    `rates[(repo, series_index)]` is (resolved, total); a missing key means that run has no
    instance of that repo and draws no bar.
    """
    label_w, right = 170, 78
    plot_w = width - label_w - right
    bar_h, bar_gap, group_gap = 14, 3, 14
    body: list[str] = []
    top = 28
    if len(series) > 1:  # legend, wrapped onto as many lines as it needs
        x, y = 10, 4
        for s in series:
            name = _clip(s.name, 36)
            entry_w = 30 + 7 * len(name)
            if x + entry_w > width and x > 10:
                x, y = 10, y + 20
            body.append(f'<rect x="{x}" y="{y}" width="12" height="12" rx="2" fill="{s.color}"/>'
                        f'<text x="{x + 17}" y="{y + 10}" font-size="12" fill="#24292f">{_t(name)}</text>')
            x += entry_w
        top = y + 50
    group_h = len(series) * (bar_h + bar_gap) - bar_gap
    height = top + len(repos) * (group_h + group_gap) + 8
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" stroke="#d8dee4" '
                    f'stroke-dasharray="{"none" if tick in (0, 1.0) else "3 3"}"/>'
                    f'<text x="{x:.1f}" y="{top - 10}" font-size="11" fill="#57606a" text-anchor="middle">'
                    f'{tick * 100:.0f}%</text>')
    y = top
    for repo in repos:
        body.append(f'<text x="{label_w - 10}" y="{y + group_h / 2 + 4:.1f}" font-size="13" fill="#24292f" '
                    f'text-anchor="end">{_t(_clip(repo, 22))}<title>{_t(repo)}</title></text>')
        for i, s in enumerate(series):
            by = y + i * (bar_h + bar_gap)
            cell = rates.get((repo, i))
            if cell is None:
                continue
            solved, total = cell
            rate = solved / total if total else 0.0
            w = max(rate * plot_w, 1.5)
            body.append(f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h}" rx="2" fill="{s.color}">'
                        f'<title>{_t(s.name)} on {_t(repo)}: {solved}/{total} ({fmt.pct(rate)})</title></rect>'
                        f'<text x="{label_w + w + 5:.1f}" y="{by + bar_h - 3}" font-size="11" fill="#24292f">'
                        f'{fmt.pct(rate, 0)} <tspan fill="#57606a">{solved}/{total}</tspan></text>')
        y += group_h + group_gap
    return _svg(width, height, body, "Resolve rate by repository")


def time_strips(rows: Sequence[tuple[Series, Sequence[tuple[float, str]], float | None, float | None]],
                width: int = 1400) -> str:
    """Time per instance, one strip per run: a dot per instance (coloured by status), the
    median as a bold tick and p90 as a thin one. rows: (series, [(seconds, status)], median, p90)."""
    label_w, right, row_h, top = 250, 30, 34, 26
    plot_w = width - label_w - right
    longest = max((t for _, values, _, _ in rows for t, _ in values), default=0.0)
    ticks = nice_ticks(longest)
    top_value = ticks[-1] or 1.0
    height = top + len(rows) * row_h + 30
    body: list[str] = []
    for tick in ticks:
        x = label_w + tick / top_value * plot_w
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 26}" stroke="#d8dee4" '
                    f'stroke-dasharray="3 3"/><text x="{x:.1f}" y="{height - 10}" font-size="11" fill="#57606a" '
                    f'text-anchor="middle">{_t(fmt.duration(tick))}</text>')
    for r, (s, values, median, p90) in enumerate(rows):
        cy = top + r * row_h + row_h / 2
        body.append(f'<text x="{label_w - 10}" y="{cy + 4:.1f}" font-size="13" fill="#24292f" text-anchor="end">'
                    f'{_t(_clip(s.name, 32))}<title>{_t(s.name)}</title></text>'
                    f'<line x1="{label_w}" y1="{cy}" x2="{label_w + plot_w}" y2="{cy}" stroke="#eaeef2" '
                    f'stroke-width="8" stroke-linecap="round"/>')
        for j, (seconds, status) in enumerate(values):
            x = label_w + seconds / top_value * plot_w
            jitter = ((j * 7919) % 11 - 5) * 1.2  # deterministic spread so equal times stay visible
            body.append(f'<circle cx="{x:.1f}" cy="{cy + jitter:.1f}" r="3.2" fill="{status_color(status)}" '
                        f'fill-opacity="0.75"><title>{_t(fmt.duration(seconds))} ({_t(status)})</title></circle>')
        for value, stroke_w, name in ((median, 3, "median"), (p90, 1.5, "p90")):
            if value is None:
                continue
            x = label_w + value / top_value * plot_w
            body.append(f'<line x1="{x:.1f}" y1="{cy - 12}" x2="{x:.1f}" y2="{cy + 12}" stroke="{s.color}" '
                        f'stroke-width="{stroke_w}"><title>{name} {_t(fmt.duration(value))}</title></line>')
    return _svg(width, height, body, "Time per instance (bold tick: median, thin tick: p90)")


def time_bars(items: Sequence[tuple[str, float, str]], width: int = 700, height: int = 220) -> str:
    """Time per instance within one run, longest first, each bar coloured by its status.
    items: (instance_id, seconds, status)."""
    left, bottom, top = 56, 18, 10
    plot_w, plot_h = width - left - 10, height - top - bottom
    ordered = sorted(items, key=lambda item: -item[1])
    ticks = nice_ticks(max((s for _, s, _ in ordered), default=0.0), 4)
    top_value = ticks[-1] or 1.0
    body: list[str] = []
    for tick in ticks:
        y = top + plot_h - tick / top_value * plot_h
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#d8dee4" '
                    f'stroke-dasharray="{"none" if tick == 0 else "3 3"}"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" fill="#57606a" text-anchor="end">'
                    f'{_t(fmt.duration(tick))}</text>')
    if ordered:
        slot = plot_w / len(ordered)
        gap = min(2.0, slot * 0.2)
        for i, (iid, seconds, status) in enumerate(ordered):
            h = seconds / top_value * plot_h
            body.append(f'<rect x="{left + i * slot + gap / 2:.2f}" y="{top + plot_h - h:.2f}" '
                        f'width="{max(slot - gap, 0.5):.2f}" height="{max(h, 0.5):.2f}" fill="{status_color(status)}">'
                        f'<title>{_t(iid)}: {_t(fmt.duration(seconds))} ({_t(status)})</title></rect>')
    body.append(f'<text x="{left}" y="{height - 2}" font-size="11" fill="#57606a">instances, longest first '
                f'({len(ordered)})</text>')
    return _svg(width, height, body, "Time per instance")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
