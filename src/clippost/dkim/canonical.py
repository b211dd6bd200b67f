"""DKIM's "relaxed" canonicalisation (RFC 6376 3.4.2 and 3.4.4), on the bytes of a message.

Signer and verifier hash the same canonical text, so a relay that re-folds a header or
trims trailing spaces does not break the signature. Everything here is a few C-level
passes (`re.sub`, `bytes.split`) over a message of a few kilobytes: tens of microseconds,
against the millisecond an RSA signature costs.
"""

from __future__ import annotations

import re

_WSP = re.compile(rb"[ \t]+")
# Whitespace a line may not keep in the relaxed body: runs to collapse (a tab, or two or
# more characters) and whitespace before a line break (an unterminated last line keeps
# its own, as dkimpy and OpenDKIM read it; a message from rendering.mime has none).
_WSP_RUN = re.compile(rb"\t[ \t]*| [ \t]+")
_SPACES = re.compile(rb"  +")  # the common case, no tabs: 3x faster than _WSP_RUN
_FIELD_END = re.compile(rb"\r\n(?![ \t])")  # a line break that no continuation line follows


def crlf_only(wire: bytes) -> bytes:
    """The message with every line break a CRLF, as the SMTP transport sends it (a lone CR
    or LF becomes CRLF there too): the signature must be of what the receiver gets."""
    lf = wire.count(b"\n")
    if wire.count(b"\r") == lf and wire.count(b"\r\n") == lf:
        return wire
    return wire.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def split_message(wire: bytes) -> tuple[bytes, bytes]:
    """(header block ending in CRLF, body) of a CRLF-only message."""
    end = wire.find(b"\r\n\r\n")
    if end < 0:
        return (wire if wire.endswith(b"\r\n") else wire + b"\r\n"), b""
    return wire[: end + 2], wire[end + 4 :]


def header_fields(head: bytes) -> dict[bytes, list[bytes]]:
    """Each header field (folded lines kept, without the final CRLF), by lower-case name,
    in the order they appear."""
    by_name: dict[bytes, list[bytes]] = {}
    for field in _FIELD_END.split(head):
        if field:
            name = field[: field.find(b":")].rstrip(b" \t").lower()
            by_name.setdefault(name, []).append(field)
    return by_name


def relaxed_header(field: bytes) -> bytes:
    """`name:value` CRLF: name in lower case, value unfolded, whitespace runs as one space,
    none around the colon or at the end."""
    name, _, value = field.partition(b":")
    if b"\r\n" in value:
        value = value.replace(b"\r\n", b"")
    if b"\t" in value or b"  " in value:  # most values have neither: no regex for them
        value = _WSP.sub(b" ", value)
    return name.rstrip(b" \t").lower() + b":" + value.strip(b" ") + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """Whitespace runs as one space, none at the end of a line, no empty lines at the end,
    and a final CRLF unless the body is empty."""
    if b"\t" in body:
        body = _WSP_RUN.sub(b" ", body)
    elif b"  " in body:
        body = _SPACES.sub(b" ", body)
    # Runs are single spaces now, so whitespace before a line break is one space.
    body = body.replace(b" \r\n", b"\r\n")
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""
