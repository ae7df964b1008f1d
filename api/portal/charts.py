"""A bar chart as inline SVG, drawn on the server (no chart library, no script).

Suppressed cells get no bar and say "suppressed" in words, so the chart never implies a value
the table withholds. The SVG carries a title and description for screen readers; the table
next to it holds the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

MAX_BARS = 40
ROW = 22
LABEL_W = 260
BAR_W = 360


@dataclass(frozen=True)
class Bar:
    label: str
    rate: float | None  # None = suppressed or no denominator


def bar_chart(title: str, bars: list[Bar]) -> str:
    shown = bars[:MAX_BARS]
    height = ROW * len(shown) + 30
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
    for i, bar in enumerate(shown):
        y = i * ROW + 4
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end">'
                     f'{escape(bar.label[:40])}</text>')
        if bar.rate is None:
            parts.append(f'<text x="{LABEL_W + 6}" y="{y + 14}">suppressed</text>')
            continue
        w = max(1.0, BAR_W * min(max(bar.rate, 0.0), 1.0))
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{ROW - 6}" '
                     f'fill="#0b57a4"/>')
        parts.append(f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 14}">{bar.rate:.1%}</text>')
    parts.append(f'<text x="{LABEL_W}" y="{height - 4}">0%</text>'
                 f'<text x="{LABEL_W + BAR_W}" y="{height - 4}" text-anchor="end">100%</text>')
    parts.append("</svg>")
    return "".join(parts)
