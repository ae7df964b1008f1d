"""The one place that turns service errors into exit codes (0 ok, 2 input rejected, 1 internal)."""

from __future__ import annotations

from core.errors import C2CError, UserError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_REJECTED = 2


def exit_code_for(error: BaseException) -> int:
    if isinstance(error, UserError):
        return EXIT_REJECTED
    if isinstance(error, C2CError):
        return EXIT_INTERNAL
    return EXIT_INTERNAL
