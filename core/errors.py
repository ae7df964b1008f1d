"""The one error hierarchy, mapped to HTTP status (api) and exit codes (cli) in one place each.

``UserError`` subclasses mean the caller can fix it (bad input, not allowed, not found):
HTTP 4xx, exit code 2. ``InternalError`` subclasses and ``Busy`` mean the service is at fault
or cannot serve now: HTTP 5xx, exit code 1. ``tests/core/test_error_map.py`` walks the hierarchy and
checks that ``api.errors`` and ``cli.errors`` agree on every class. Messages never carry key
material; 5xx bodies carry none of the message anyway (a key error names a keyring path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class C2CError(Exception):
    """Base of every error the service raises on purpose."""

    code = "error"


class UserError(C2CError):
    """Input the caller can correct."""

    code = "invalid_input"


MASK_LENGTH = 16


def masked_value(value: str) -> str:
    """The shape of a field value: letters -> ``A``/``a``, digits -> ``9``, the rest kept.

    Receipts and error messages are stored (governance store, Dagster run storage) and a field
    value may be a name, a birth date or an SSID, which must never be at rest in plaintext.
    The shape still tells a partner what is wrong (``9999-99-99`` where CCYYMMDD was due,
    ``99999999A9`` for an SSID with a letter); the file, line and field say where to look.
    """
    shape = "".join(
        ("A" if ch.isupper() else "a") if ch.isalpha() else "9" if ch.isdigit() else ch
        for ch in value[:MASK_LENGTH]
    )
    return shape + ("…" if len(value) > MASK_LENGTH else "")


@dataclass(frozen=True)
class Location:
    """Where in a received file (or a request) a problem is.

    Ingest keeps a data field's value only as its shape (``ingest.models.FileError``), so no
    stored receipt carries an identifier.
    """

    file: str
    line: int | None = None
    field: str | None = None
    value: str | None = None
    rule: str | None = None


    def describe(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(f"field {self.field}")
        text = ", ".join(parts)
        if self.value is not None:
            text += f": value {self.value!r}"
        if self.rule:
            text += f" ({self.rule})"
        return text


class InputRejected(UserError):
    """A received file (or part of it) breaks a rule; carries the location."""

    code = "input_rejected"

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.location = location
        super().__init__(f"{location.describe()}: {message}" if location else message)


class NotAuthenticated(UserError):
    code = "not_authenticated"


class PermissionDenied(UserError):
    code = "permission_denied"


class TooManyAttempts(UserError):
    """Too many failed sign-ins from one source, or for one key: wait ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(UserError):
    code = "not_found"


class Conflict(UserError):
    """The request is valid but the current state does not allow it."""

    code = "conflict"


class Expired(UserError):
    code = "expired"


class Held(UserError):
    """Data arrived from a partner without an active data-sharing agreement."""

    code = "held"


class ReleaseHeld(Held):
    """The standing attacker (analytics.auditor) narrowed a hidden count below the documented
    bound with this release and everything released before: nothing left; the reason says
    which counts."""

    code = "release_held"


class OverBudget(UserError):
    """A query budget is spent (previews per researcher or per cohort): retry after the
    window, or submit the request."""

    code = "over_budget"


class Busy(C2CError):
    """A store is in use by another process (DuckDB allows one writer); retrying later works."""

    code = "busy"


class InternalError(C2CError):
    """A fault of the service, not of its caller."""

    code = "internal_error"


class KeyError_(InternalError):
    """A key of the service is missing or wrong (master key, keyring). The operator's to fix,
    never the caller's. Named with a trailing underscore to not shadow the builtin."""

    code = "key_error"


class IntegrityError_(InternalError):
    """Data failed an integrity check (tampering, wrong key): a service fault."""

    code = "integrity_error"


class ConfigError(InternalError):
    """A setting breaks the policy's bounds (``core.protection``). The operator fixes it; whoever
    called the service did nothing wrong, so it is a service fault (exit 1, HTTP 500)."""

    code = "config_error"


class IdentifierFound(InternalError):
    """Something about to leave (an extract) or to be kept (``analytics.*``) looks like a
    direct identifier. The service's fault, never the caller's: upstream code or data put it
    there. ``findings`` (``core.identifiers.Finding``) carry counts, never values."""

    code = "identifier_found"

    def __init__(self, message: str, findings: Sequence[Any] = ()) -> None:
        self.findings = list(findings)
        super().__init__(message)
