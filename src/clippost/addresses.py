"""Email and client addresses: one normal form, the hash suppressions are kept under, and
the keys rate limits count them by."""

from __future__ import annotations

import hashlib
import ipaddress
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


def mailbox_key(email: str) -> str:
    """The mailbox an address reaches, as rate limits count it: lower case, without a
    sub-address (`ann+news@example.org` and `Ann+2@example.org` are `ann@example.org`), so
    that varying the tag never buys another allowance."""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0] or local}@{domain}"


def client_network(client: str) -> str:
    """The network a client address is counted under: an IPv4 address as it is, an IPv6
    address by its /64 (one subscriber line holds the whole /64), an IPv4-mapped IPv6 address
    as the IPv4 address it is; anything else (no socket peer) as the text given."""
    try:
        address = ipaddress.ip_address(client.strip().split("%", 1)[0])
    except ValueError:
        return client[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
