"""The public dashboard's filters from the query string, with the defaults the form shows.

Filters, as the form offers them (``*`` is "every", chosen on purpose; a filter left out takes
the default the form shows selected):

- ``metric``: one metric (default: the first published), or ``*`` every metric;
- ``group``: ``all:all`` all students (default), ``gender:F`` one group, ``gender:*`` every
  group of one kind side by side, or ``*`` every group;
- ``lea`` / ``find``: one district or charter, or a part of a name (every match is shown);
  none: every district and charter, and the state;
- ``year``: one academic year, or none for every year.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.choices import Choices

EVERY = "*"


@dataclass(frozen=True)
class Filters:
    year: str | None = None
    leas: tuple[str, ...] = ()  # () = every district and charter
    subgroup: str | None = "all"  # None = every group
    value: str | None = "all"  # None = every value of ``subgroup``
    metric: str | None = None  # None = every metric


@dataclass
class Chosen:
    """The filters as the form shows them, and what the page must say about them."""

    filters: Filters
    form: dict[str, str]
    notes: list[str] = field(default_factory=list)
    problem: str | None = None


def find_leas(labels: dict[str, str], text: str) -> list[str]:
    """Every district or charter whose name (or code) contains ``text``, by name."""
    wanted = text.strip().casefold()
    return [code for code, label in sorted(labels.items(), key=lambda kv: kv[1])
            if wanted in label.casefold()]


def choose(c: Choices, labels: dict[str, str], *, year: str | None, lea: str | None,
           group: str | None, metric: str | None, find: str | None) -> Chosen:
    """The filters from the query string; the defaults are the choices the form shows."""
    metric = metric or (c.metrics[0] if c.metrics else None) or ""
    group = group or "all:all"
    form = {"year": year or "", "lea": lea or "", "group": group, "metric": metric,
            "find": find or ""}
    notes: list[str] = []
    leas: tuple[str, ...] = (lea,) if lea else ()
    problem = None
    if find and find.strip():
        hits = find_leas(labels, find)
        if not hits:
            problem = (f"No district or charter with published data is named like {find!r}; "
                       "try part of the name, e.g. a town.")
        else:
            leas = tuple(hits)
            form["lea"] = ""
            if len(hits) > 1:
                notes.append(f"{len(hits)} districts and charters match {find!r}: "
                             + "; ".join(labels[h] for h in hits) + ". All are shown.")
    if group == EVERY:
        subgroup, value = None, None
    else:
        subgroup, _, raw = group.partition(":")
        value = None if raw in ("", EVERY) else raw
    filters = Filters(year=year or None, leas=leas, subgroup=subgroup, value=value,
                      metric=None if metric == EVERY else metric)
    return Chosen(filters=filters, form=form, notes=notes, problem=problem)
