"""E-mail addresses: one rule for every address the service stores or mails to.

Addresses reach SMTP envelopes and headers, so anything a mail server could read two ways
(quoted local parts such as ``"x\\"@example.org``, NUL or line breaks, display names, several
addresses in one) is refused, not cleaned up. The check is ``email-validator``'s syntax check
(RFC 5321/5322 with its safe defaults: no quoted local parts, no domain literals); it never
looks up DNS, so it works offline and says nothing about whether a mailbox exists.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 320  # the column width; RFC 5321 limits a path to 256 octets anyway


def email_problem(address: str) -> str | None:
    """Why ``address`` is not one plain address (None when it is)."""
    if len(address) > MAX_LENGTH:
        return f"e-mail address is longer than {MAX_LENGTH} characters"
    try:
        validate_email(address, check_deliverability=False, allow_quoted_local=False,
                       allow_domain_literal=False, allow_display_name=False)
    except EmailNotValidError as exc:
        return f"e-mail address is not one plain address like name@agency.ca.gov ({exc})"
    return None


def normal_email(address: str) -> str:
    """The form addresses are compared in: the checked address, lower case."""
    result = validate_email(address, check_deliverability=False, allow_quoted_local=False,
                            allow_domain_literal=False, allow_display_name=False)
    return result.normalized.lower()
