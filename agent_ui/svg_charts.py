"""Small bar and line charts drawn as SVG on the server: no script, readable without colour.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its ``<desc>``
(both referenced by ``aria-labelledby``), with its axis labels in the drawing; the page shows
the same numbers in a table beside it, for anyone who would rather read them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 30, 44
INK, BAR, GRID = "#1b1b1b", "#12355b", "#9aa3ad"


def _nice_top(value: float, *, whole: bool = False) -> float:
    """The top of the scale: four equal steps of a round size (1, 2, 3 or 5 times a power of
    ten) reaching ``value``, so that every grid line is a round number (up to 4 tickets: 1, 2,
    3, 4; never 1.25 or 3.75). ``whole``: the values are counts, so no step is under 1."""
    if value <= 0:
        return 4.0
    base = 10.0 ** math.floor(math.log10(value / 4))
    if whole:
        base = max(base, 1.0)
    for size in (base, base * 10):
        for factor in (1, 2, 3, 5):
            if size * factor * 4 >= value:
                return size * factor * 4
    return base * 400  # not reached: 10 times the base, four times, is at least the value


def _scale(values: Sequence[float]) -> float:
    return _nice_top(max(values, default=0), whole=all(float(v).is_integer() for v in values))


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _frame(chart_id: str, title: str, desc: str, top: float, unit: str) -> list[str]:
    parts = [
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    plot = HEIGHT - TOP - BOTTOM
    for step in range(5):
        value = top * step / 4
        y = TOP + plot - plot * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"'
            f' stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12"'
            f' fill="{INK}">{escape(_number(value))}</text>'
        )
    parts.append(f'<text x="4" y="14" font-size="12" fill="{INK}">{escape(unit)}</text>')
    return parts


def _labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    """At most a dozen labels along the bottom, evenly spaced, so none overlap."""
    every = max(1, -(-len(labels) // 12))
    return [
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" font-size="12"'
        f' fill="{INK}">{escape(label)}</text>'
        for index, (label, x) in enumerate(zip(labels, xs, strict=True))
        if index % every == 0
    ]


def bar_chart(
    chart_id: str, title: str, desc: str, labels: Sequence[str], values: Sequence[float], unit: str
) -> Markup:
    """Vertical bars, one per label."""
    top = _scale(values)
    parts = _frame(chart_id, title, desc, top, unit)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(values), 1)
    xs = []
    for index, value in enumerate(values):
        height = plot_h * value / top
        x = LEFT + slot * index + slot * 0.15
        xs.append(x + slot * 0.35)
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{slot * 0.7:.1f}"'
            f' height="{height:.1f}" fill="{BAR}"/>'
        )
    parts += _labels(labels, xs)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it is escaped above)


def line_chart(
    chart_id: str, title: str, desc: str, labels: Sequence[str], values: Sequence[float], unit: str
) -> Markup:
    """One line through the values, with a dot on each when there are few."""
    top = _scale(values)
    parts = _frame(chart_id, title, desc, top, unit)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(values) - 1, 1)
    points = [
        (LEFT + step * index, TOP + plot_h - plot_h * value / top)
        for index, value in enumerate(values)
    ]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{BAR}" stroke-width="2.5"'
            ' stroke-linejoin="round"/>'
        )
        if len(points) <= 40:
            parts += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{BAR}"/>' for x, y in points
            ]
    parts += _labels(labels, [x for x, _ in points])
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704
