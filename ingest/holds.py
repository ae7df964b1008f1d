"""Why a file waits in the raw store instead of loading: no known partner or no agreement."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from core.partners import Partner


def hold_reason(partners: Mapping[str, Partner], partner_org: str | None,
                today: date) -> str | None:
    """The receipt message of a held file, or None when the partner may send data today."""
    if not partner_org:
        return "held: the sending partner could not be determined"
    partner = partners.get(partner_org)
    if partner is None:
        return f"held: partner {partner_org} is not in the partner registry"
    if not partner.agreement_active(today):
        window = ""
        if partner.agreement_start or partner.agreement_end:
            window = f" ({partner.agreement_start or '…'} to {partner.agreement_end or '…'})"
        return (f"held: partner {partner_org} ({partner.name}) has no active data-sharing "
                f"agreement on {today} (status {partner.agreement_status}{window}); "
                "the file is kept in the raw store and can be released once one is executed")
    return None
