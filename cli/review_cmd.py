"""``c2c review list | decide``: clerical review of the pairs the link was unsure about.

The use case is ``services.clerical_review`` (who sees identities, what is audited); the key
comes from ``C2C_API_KEY`` or a hidden prompt.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from core.settings import get_settings

review_app = typer.Typer(help="Clerical review of uncertain pairs: list them, decide.",
                         no_args_is_help=True)
console = Console()


def _fields_line(pair: dict[str, Any], show: bool) -> list[str]:
    from linkage.review import compare_fields

    left, right = pair["left"], pair["right"]
    lines = [f"  left : {left['source_system']} {left['partner_org']} "
             f"#{left['source_person_id']}",
             f"  right: {right['source_system']} {right['partner_org']} "
             f"#{right['source_person_id']}"]
    for field, verdict in compare_fields(left, right).items():
        if show:
            lines.append(f"  {field:12} {str(left.get(field) or '-'):24} "
                         f"{str(right.get(field) or '-'):24} {verdict}")
        else:
            lines.append(f"  {field:12} {verdict}")
    return lines


@review_app.command("list")
def list_cmd(
    limit: int = typer.Option(20, min=1, help="Pairs to show, most uncertain first."),
    show_identities: bool = typer.Option(
        False, "--show-identities",
        help="Show names, birth dates and SSIDs (needs a reviewer's API key; audited)."),
    api_key: str | None = typer.Option(
        None, envvar="C2C_API_KEY", show_envvar=True, show_default=False,
        help="Your API key (for --show-identities); prompted for when not set."),
    sample: bool = typer.Option(
        False, "--sample", help="The clerical quality sample of the last link run instead "
        "(undecided pairs, in review order); `c2c quality estimate` uses the decisions."),
) -> None:
    """The review queue (or the quality sample): both records of each pair side by side."""
    from governance.db import session_factory
    from services.clerical_review import review_queue

    settings = get_settings()
    token = (api_key or typer.prompt("API key", hide_input=True)) if show_identities else None
    queue = review_queue(settings=settings, sessions=session_factory(settings.governance_url),
                         limit=limit, token=token, sample=sample)
    pairs, count, shown_to = queue.pairs, queue.count, queue.shown_to
    what = "quality sample, undecided" if sample else "review queue"
    console.print(f"{what}: {count} pair(s); showing {len(pairs)}"
                  + (f" with identities (shown to {shown_to}, audited)" if shown_to else
                     " (field agreement only; --show-identities for values)"),
                  highlight=False, soft_wrap=True)
    for pair in pairs:
        console.print(f"pair {pair['pair_id']}  p={pair['match_probability']:.3f}  "
                      f"{pair['reason']}", highlight=False, markup=False, soft_wrap=True)
        for line in _fields_line(pair, shown_to is not None):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    if pairs:
        console.print("decide with: c2c review decide PAIR_ID match|non_match", highlight=False)


@review_app.command("decide")
def decide_cmd(
    pair_id: str = typer.Argument(..., help="pair id from `c2c review list`"),
    decision: str = typer.Argument(..., help="match | non_match"),
    api_key: str | None = typer.Option(
        None, envvar="C2C_API_KEY", show_envvar=True, show_default=False,
        help="Your API key (reviewer role); prompted for when not set."),
) -> None:
    """Record your decision on a pair; the next `c2c link` uses it as a label (audited)."""
    from governance.db import session_factory
    from services.clerical_review import decide_pair

    settings = get_settings()
    token = api_key or typer.prompt("API key", hide_input=True)
    principal = decide_pair(settings=settings, sessions=session_factory(settings.governance_url),
                            token=token, pair_id=pair_id, decision=decision)
    console.print(f"recorded {decision} for {pair_id} by {principal.name}; the next "
                  "`c2c link` uses it", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
