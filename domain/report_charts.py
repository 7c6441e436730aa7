"""Inline SVG charts for the HTML report — no plotting dependency.

Every plotted mark is an SVG element with ``class="mark"``, ``data-label`` and ``data-value`` (the figure
itself, not a pixel size) and a ``<title>`` tooltip, so a reader can hover and a test can read the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH = 640
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 120
COLOURS = {"standard": "#2e7d32", "substandard": "#9ccc65", "problem": "#ef6c00", "verification": "#1565c0",
           "unclassified": "#9e9e9e"}


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def hbar_chart(chart_id: str, title: str, points: Sequence[tuple[str, float | int | None]], *,
               maximum: float | None = None, unit: str = "", threshold: float | None = None) -> Markup:
    """Horizontal bars, one per (label, value); ``maximum`` fixes the scale (100 for percentages)."""
    values = [v for _, v in points if v is not None]
    top = maximum if maximum is not None else max(values or [1]) or 1
    plot = WIDTH - LABEL_WIDTH - 70
    height = max(1, len(points)) * (BAR_HEIGHT + GAP) + 30
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(points):
        y = 10 + i * (BAR_HEIGHT + GAP)
        width = 0 if value is None else round(plot * float(value) / top, 1)
        colour = COLOURS.get(label, "#1565c0")
        if threshold is not None and value is not None and value < threshold:
            colour = "#c62828"
        text = f"{escape(label)}: {_fmt(value)}{unit}"
        parts.append(
            f'<g class="mark" data-label="{escape(label)}" data-value="{_fmt(value)}">'
            f"<title>{text}</title>"
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 15}" font-size="12">{_fmt(value)}{unit}</text></g>'
        )
    if threshold is not None:
        x = LABEL_WIDTH + round(plot * threshold / top, 1)
        parts.append(
            f'<line class="threshold" data-value="{_fmt(threshold)}" x1="{x}" y1="0" x2="{x}" y2="{height - 20}" '
            f'stroke="#555" stroke-dasharray="4 3"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(chart_id: str, title: str, points: Sequence[tuple[str, float | None]], *, unit: str = "%") -> Markup:
    """A line over months on a 0–100 scale; a month without data is a gap (no point)."""
    height = 220
    left, right, top_pad, bottom = 50, 20, 20, 40
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    step = plot_w / max(1, len(points) - 1)
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" font-size="11">100{unit}</text>',
        f'<text x="{left - 6}" y="{top_pad + plot_h + 4}" text-anchor="end" font-size="11">0{unit}</text>',
    ]
    coords = []
    for i, (label, value) in enumerate(points):
        x = round(left + i * step, 1)
        parts.append(f'<text x="{x}" y="{height - 12}" text-anchor="middle" font-size="11">{escape(label)}</text>')
        if value is None:
            parts.append(f'<g class="mark" data-label="{escape(label)}" data-value="n/a"><title>{escape(label)}: no orders due</title></g>')
            continue
        y = round(top_pad + plot_h * (1 - float(value) / 100), 1)
        coords.append(f"{x},{y}")
        parts.append(
            f'<g class="mark" data-label="{escape(label)}" data-value="{_fmt(value)}">'
            f"<title>{escape(label)}: {_fmt(value)}{unit}</title>"
            f'<circle cx="{x}" cy="{y}" r="4" fill="#1565c0"/>'
            f'<text x="{x}" y="{y - 8}" text-anchor="middle" font-size="11">{_fmt(value)}</text></g>'
        )
    if len(coords) > 1:
        parts.insert(5, f'<polyline points="{" ".join(coords)}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
