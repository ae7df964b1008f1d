"""A bar chart as inline SVG, drawn on the server (no chart library, no script).

Suppressed cells get no bar and say "suppressed" in words, so the chart never implies a value
the table withholds. The SVG carries a title and description for screen readers; the table
next to it holds the same numbers. A long label (a district's full name with year and group)
wraps onto a second line instead of being cut, and each row carries its full label as a
``<title>`` (the tooltip on hover).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from html import escape

MAX_BARS = 40
ROW = 22  # height of a row whose label fits on one line
LINE = 14  # each further label line adds this much
LABEL_W = 300
LABEL_CHARS = 44  # what fits in LABEL_W at the chart's 12px font
LABEL_LINES = 2
BAR_W = 360


@dataclass(frozen=True)
class Bar:
    label: str
    rate: float | None  # None = suppressed or no denominator


def label_lines(label: str) -> list[str]:
    """The label in at most ``LABEL_LINES`` lines of ``LABEL_CHARS``; only a label longer than
    that loses words (marked with "…"; the row's ``<title>`` keeps it whole)."""
    lines = textwrap.wrap(label, LABEL_CHARS) or [""]
    if len(lines) > LABEL_LINES:
        rest = " ".join(lines[LABEL_LINES - 1:])
        lines = [*lines[:LABEL_LINES - 1], textwrap.shorten(rest, LABEL_CHARS, placeholder=" …")]
    return lines


def bar_chart(title: str, bars: list[Bar]) -> str:
    shown = bars[:MAX_BARS]
    labels = [label_lines(bar.label) for bar in shown]
    heights = [ROW + LINE * (len(lines) - 1) for lines in labels]
    height = sum(heights) + 30
    width = LABEL_W + BAR_W + 70
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">Bar per row of the table below, rate from 0 to 100 percent; '
        f'{len(shown)} of {len(bars)} rows drawn.</desc>',
        f'<line x1="{LABEL_W}" y1="0" x2="{LABEL_W}" y2="{height - 20}" stroke="#1b1b1b"/>',
    ]
    top = 0
    for bar, lines, row_h in zip(shown, labels, heights, strict=True):
        parts.append(_row(bar, lines, top, row_h))
        top += row_h
    parts.append(f'<text x="{LABEL_W}" y="{height - 4}">0%</text>'
                 f'<text x="{LABEL_W + BAR_W}" y="{height - 4}" text-anchor="end">100%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _row(bar: Bar, lines: list[str], top: int, row_h: int) -> str:
    """One bar with its label lines, grouped under the full label as tooltip."""
    x = LABEL_W - 6
    spans = "".join(f'<tspan x="{x}" y="{top + 18 + i * LINE}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    parts = [f"<g><title>{escape(bar.label)}</title>",
             f'<text x="{x}" y="{top + 18}" text-anchor="end">{spans}</text>']
    y = top + 4 + (row_h - ROW) // 2  # the bar sits level with the middle of the label
    if bar.rate is None:
        parts.append(f'<text x="{LABEL_W + 6}" y="{y + 14}">suppressed</text>')
    else:
        w = max(1.0, BAR_W * min(max(bar.rate, 0.0), 1.0))
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{ROW - 6}" '
                     f'fill="#0b57a4"/>')
        parts.append(f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 14}">{bar.rate:.1%}</text>')
    parts.append("</g>")
    return "".join(parts)
