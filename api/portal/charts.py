"""A bar chart as inline SVG, drawn on the server (no chart library, no script).

Suppressed cells get no bar and say "suppressed" in words, so the chart never implies a value
the table withholds. The SVG carries a title and description for screen readers; the table
next to it holds the same numbers. Each row's label sits on its own line(s) above its bar, so
the chart is narrow (``WIDTH`` units) and its text stays readable when a phone scales it down
(about 11 px at 375 px wide); a long label wraps onto a second line instead of being cut, and
each row carries its full label as a ``<title>`` (the tooltip on hover). Bars may be coloured
by series (the district against the state in the trend chart).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from html import escape

MAX_BARS = 40
LINE = 17  # one label line at the chart's 14px font
BAR_H = 14
ROW_GAP = 8
WIDTH = 400
BAR_W = 330  # 100% is this long; the value is written after the bar
LABEL_CHARS = 50  # what fits in WIDTH at 14px
LABEL_LINES = 2
FILLS = ("#0b57a4", "#5a5a5a")  # series colours, both AA against white


@dataclass(frozen=True)
class Bar:
    label: str
    rate: float | None  # None = suppressed or no denominator
    series: int = 0  # index into FILLS


def label_lines(label: str) -> list[str]:
    """The label in at most ``LABEL_LINES`` lines of ``LABEL_CHARS``; only a label longer than
    that loses words (marked with "…"; the row's ``<title>`` keeps it whole)."""
    lines = textwrap.wrap(label, LABEL_CHARS) or [""]
    if len(lines) > LABEL_LINES:
        rest = " ".join(lines[LABEL_LINES - 1:])
        lines = [*lines[:LABEL_LINES - 1], textwrap.shorten(rest, LABEL_CHARS, placeholder=" …")]
    return lines


def bar_chart(title: str, bars: list[Bar], legend: list[str] | None = None) -> str:
    shown = bars[:MAX_BARS]
    labels = [label_lines(bar.label) for bar in shown]
    heights = [LINE * len(lines) + BAR_H + ROW_GAP for lines in labels]
    key_h = LINE + 6 if legend else 0
    height = key_h + sum(heights) + LINE + 4
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">One bar per row of the table below, rate from 0 to 100 '
        f'percent; {len(shown)} of {len(bars)} rows drawn.</desc>',
    ]
    if legend:
        x = 0
        for i, name in enumerate(legend):
            parts.append(f'<rect x="{x}" y="3" width="12" height="12" fill="{FILLS[i]}"/>'
                         f'<text x="{x + 16}" y="14">{escape(name)}</text>')
            x += 24 + 8 * len(name)
    top = key_h
    for bar, lines, row_h in zip(shown, labels, heights, strict=True):
        parts.append(_row(bar, lines, top))
        top += row_h
    parts.append(f'<text x="0" y="{height - 4}">0%</text>'
                 f'<text x="{BAR_W}" y="{height - 4}" text-anchor="end">100%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _row(bar: Bar, lines: list[str], top: int) -> str:
    """One bar below its label lines, grouped under the full label as tooltip."""
    spans = "".join(f'<tspan x="0" y="{top + 13 + i * LINE}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    parts = [f"<g><title>{escape(bar.label)}</title>", f'<text x="0" y="{top + 13}">{spans}</text>']
    y = top + LINE * len(lines) + 1
    if bar.rate is None:
        parts.append(f'<text x="4" y="{y + 12}">suppressed</text>')
    else:
        w = max(1.0, BAR_W * min(max(bar.rate, 0.0), 1.0))
        parts.append(f'<rect x="0" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                     f'fill="{FILLS[bar.series % len(FILLS)]}"/>')
        parts.append(f'<text x="{w + 4:.1f}" y="{y + 12}">{bar.rate:.1%}</text>')
    parts.append("</g>")
    return "".join(parts)
