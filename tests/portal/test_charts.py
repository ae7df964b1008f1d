"""The public dashboard's SVG bar chart shows long district names whole.

A label that does not fit one line wraps onto a second; each row carries its full label as a
``<title>`` (tooltip). Checked on ``bar_chart`` itself and on the served dashboard page.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from api.portal.charts import LABEL_CHARS, Bar, bar_chart
from tests.api_support import ApiEnv

SVG = "{http://www.w3.org/2000/svg}"
CHART = re.compile(r'<svg class="chart".*?</svg>', re.DOTALL)


def rows(svg: str) -> list[tuple[str, list[str]]]:
    """(tooltip, visible label lines) of every bar row of a chart."""
    root = ET.fromstring(svg)
    found = []
    for group in root.iter(f"{SVG}g"):
        title = group.find(f"{SVG}title")
        label = group.find(f"{SVG}text")
        assert title is not None and label is not None
        lines = [span.text or "" for span in label.iter(f"{SVG}tspan")]
        found.append((title.text or "", lines))
    return found


def test_a_long_name_wraps_onto_two_lines_and_keeps_its_full_title() -> None:
    name = "2022-23 Central Valley Unified School District all=all"
    assert len(name) > LABEL_CHARS
    svg = bar_chart("hs_graduate: share of students",
                    [Bar(name, 0.5), Bar("Bayview", None), Bar(name + " (again)", 1.0)])
    [(title, lines), short, _] = rows(svg)
    assert title == name
    assert len(lines) == 2 and " ".join(lines) == name
    assert all(len(line) <= LABEL_CHARS for line in lines)
    assert short == ("Bayview", ["Bayview"])
    # the second line sits below the first, and the rows below make room for it
    root = ET.fromstring(svg)
    ys = [int(s.get("y", "0")) for s in root.iter(f"{SVG}tspan")]
    assert ys[1] > ys[0] and ys[2] > ys[1]


def test_a_label_longer_than_two_lines_is_whole_in_its_title() -> None:
    name = " ".join(["Redwood Grove Union High School District"] * 3)
    [(title, lines)] = rows(bar_chart("t", [Bar(name, 0.1)]))
    assert title == name
    assert len(lines) == 2 and lines[1].endswith("…")
    assert name.startswith(" ".join(lines)[:-2].strip())


def test_the_dashboard_chart_names_each_district_in_full(env: ApiEnv) -> None:
    # every year at once: each label is "<year> <district>", the longest past one line
    page = env.client.get("/portal/public")
    assert page.status_code == 200
    [svg] = CHART.findall(page.text)
    drawn = rows(svg)
    titles = [title for title, _ in drawn]
    assert "2022-23 Central Valley Unified School District" in titles
    assert all(len(lines) == 2 for title, lines in drawn if len(title) > LABEL_CHARS)
    for title, lines in drawn:
        assert " ".join(lines) == title  # nothing of a district name is cut
