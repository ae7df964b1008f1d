"""Template filters of the portal: receipts without identifier values, errors grouped by rule,
withheld variables by name."""

from __future__ import annotations

from typing import Any


def withhold(text: str | None, errors: Any) -> str:
    """``text`` without the offending values of ``errors``: a receipt may quote the value that
    broke a rule (a birth date, a name), and pages never show identifier values."""
    out = text or ""
    for error in errors or []:
        value = error.get("value") if isinstance(error, dict) else getattr(error, "value", None)
        if value and len(str(value)) > 1:
            out = out.replace(str(value), "[value withheld]")
    return out


def grouped_errors(errors: Any) -> list[dict[str, Any]]:
    """A receipt's errors grouped by what is wrong (field, rule, message), first seen first:
    371 rows breaking one rule read as one line naming how many and which lines, not 371."""
    groups: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for error in errors or []:
        get = error.get if isinstance(error, dict) else lambda k, e=error: getattr(e, k, None)
        key = (get("field"), get("rule"), get("message"))
        group = groups.setdefault(key, {"field": key[0], "rule": key[1], "message": key[2],
                                        "lines": [], "count": 0})
        group["count"] += 1
        if get("line") is not None:
            group["lines"].append(get("line"))
    for group in groups.values():
        lines = group["lines"]
        consecutive = len(lines) > 5 and lines == list(range(lines[0], lines[0] + len(lines)))
        group["where"] = (f"{lines[0]} to {lines[-1]}" if consecutive else
                          ", ".join(str(n) for n in lines[:5]) + (" …" if len(lines) > 5 else ""))
    return list(groups.values())


def withheld_why(withheld: Any) -> dict[str, str]:
    """Why each withheld variable is withheld, by variable: ``withheld`` is the one list
    ``governance.request_facts.withheld_variables`` gives (objects or the API's dicts), so a
    page's variables row and its withheld row cannot say different things."""
    out: dict[str, str] = {}
    for w in withheld or []:
        get = w.get if isinstance(w, dict) else lambda k, w=w: getattr(w, k)
        out[str(get("variable"))] = str(get("reason"))
    return out
