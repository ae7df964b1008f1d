"""The one place that turns service errors into exit codes (0 ok, 2 input rejected, 1 internal).

The caller's faults (``UserError``: bad input, not allowed, not found, conflict) exit 2; the
service's (``InternalError``: keys, integrity, settings, identifiers found; ``Busy``) exit 1,
the same split as the API's 4xx / 5xx (``tests/core/test_error_map.py`` checks every class).
"""

from __future__ import annotations

from core.errors import Busy, C2CError, InternalError, UserError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_REJECTED = 2

# Looked up along the error's MRO, most specific first.
EXIT_CODES: dict[type[C2CError], int] = {
    UserError: EXIT_REJECTED,
    InternalError: EXIT_INTERNAL,
    Busy: EXIT_INTERNAL,  # another process holds the store: retrying later works
    C2CError: EXIT_INTERNAL,
}


def busy_store(error: BaseException) -> Busy | None:
    """The governance store stayed locked by another process past the busy timeout (SQLite:
    "database is locked"): a clear ``Busy`` instead of a traceback, or None for any other
    error."""
    text = str(error).lower()
    if type(error).__name__ == "OperationalError" and ("locked" in text or "busy" in text):
        return Busy("the governance store is busy: another process held its write lock for "
                    "longer than 30 s; nothing was changed, run the command again in a minute")
    return None


def exit_code_for(error: BaseException) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_INTERNAL
