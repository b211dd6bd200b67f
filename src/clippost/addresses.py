"""Email addresses: one normal form, and the hash suppressions are kept under."""

from __future__ import annotations

import hashlib
import re

from clippost.errors import BadInput

# Deliberately plain: the confirmation email is the real test of an address. This refuses
# what can never work (no @, spaces, control characters, header tricks) with a clear message.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")


def normalise_email(raw: str) -> str:
    """The address as stored: trimmed and lower-cased whole, local part and domain alike
    (so "Ann@Example.org" and "ann@example.org" are one reader); raises BadInput when
    unusable."""
    candidate = raw.strip()
    if len(candidate) > 254 or not _ADDRESS.fullmatch(candidate):
        raise BadInput(
            "That does not look like an email address. Please check it (for example "
            "reader@example.org) and try again."
        )
    local, domain = candidate.rsplit("@", 1)
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise BadInput("That email address has misplaced dots. Please check it and try again.")
    return f"{local.lower()}@{domain.lower()}"


def address_hash(email: str) -> str:
    """SHA-256 of the normalised address: what is kept of an erased reader who asked never to
    be emailed again, and how any outgoing message is checked against suppressions."""
    return hashlib.sha256(b"clippost-address:" + email.lower().encode()).hexdigest()
