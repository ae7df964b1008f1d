"""Whose fault a load failure is: the partner's bytes, or the service (disk, memory, I/O)."""

from __future__ import annotations

import os

import duckdb

from core.errors import InternalError

# DuckDB errors a partner's bytes can cause (a CSV it cannot parse, a value it cannot cast).
# Every other one (I/O: disk full, out of memory, an aborted transaction, ...) is the service's
# fault: the partner is not told their file is unreadable, the manifest row stays `received`
# and the next run loads the file (nothing of it was committed).
PARTNER_FAULTS = (duckdb.InvalidInputException, duckdb.ConversionException)


def service_fault(doing: str, exc: BaseException) -> InternalError:
    reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else \
        type(exc).__name__
    return InternalError(f"{doing}: {reason} (disk full or an I/O fault of the service, not "
                         "of the file); nothing was committed: fix the cause and run again")
