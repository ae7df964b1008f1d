"""Disclosure thresholds and protection parameters: their defaults and bounds, named once.

``core.settings.Settings`` takes its defaults and bounds from here and is validated when it is
read (at start-up), so an operator's out-of-range value stops the service before anyone uses
it. Libraries take the value as an argument (the composition root passes the setting) and
check it with the ``require_*`` helpers: a value out of bounds reaching a library is the
service's fault (``ConfigError``, an ``InternalError``: exit 1, HTTP 500), never the caller's.
Before issue 17 the same numbers were repeated as defaults in library signatures and a bad
quorum reached a board member as a 422.
"""

from __future__ import annotations

from core.errors import ConfigError

# Published aggregates: a count under this is suppressed (docs/metrics.md): counts of 10 or
# fewer never show (NCES SLDS brief 3: state minimums 5 to 30, most often 10).
MIN_CELL = 11
MIN_CELL_FLOOR = 1  # 0 would suppress nothing

# Research extracts: every released equivalence class holds at least k persons (docs/deidentify.md).
K_ANONYMITY = 11
K_ANONYMITY_FLOOR = 2  # k = 1 is no protection at all

# Share of an extract's rows the k-anonymity search may suppress before it generalises further.
MAX_SUPPRESSION = 0.02

# Distinct board approvals a request needs; the requester never counts.
BOARD_QUORUM = 2
BOARD_QUORUM_FLOOR = 1

# Lifetime of an extract when the request names no expiry.
EXTRACT_DEFAULT_DAYS = 365
EXTRACT_DAYS_FLOOR = 1

# Failed sign-ins (portal and API keys; governance.signin_guard). Keys carry 256 random bits, so
# these limits are about noise and about noticing, not about making guessing possible: within
# a sliding window, one client address may fail this many times, and one existing key id (a
# right id with a wrong secret) this many times, before further attempts are refused with 429
# until the oldest failure leaves the window. Every lock is audited.
SIGNIN_WINDOW_SECONDS = 15 * 60
SIGNIN_MAX_FAILURES_PER_SOURCE = 10
SIGNIN_MAX_FAILURES_PER_KEY = 5


def _require(value: int, floor: int, what: str, setting: str) -> int:
    if value < floor:
        raise ConfigError(f"{what} must be at least {floor} (setting {setting})")
    return value


def require_min_cell(value: int) -> int:
    return _require(value, MIN_CELL_FLOOR, "min_cell", "C2C_SUPPRESSION_MIN_CELL")


def require_k(value: int) -> int:
    return _require(value, K_ANONYMITY_FLOOR, "k", "C2C_K_ANONYMITY")


def require_quorum(value: int) -> int:
    return _require(value, BOARD_QUORUM_FLOOR, "board quorum", "C2C_BOARD_QUORUM")


def require_extract_days(value: int) -> int:
    return _require(value, EXTRACT_DAYS_FLOOR, "extract lifetime in days",
                    "C2C_EXTRACT_DEFAULT_DAYS")


def require_max_suppression(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError("max_suppression must be a share in [0, 1]")
    return value
