"""Safe header pieces: nothing a reader typed can end a header line or start a new one.

Every function here returns pure ASCII ready for the wire. Values are made safe by
replacing control characters (including CR, LF, NUL and the Unicode line separators) with a
space; names and addresses are system data, so a bad one is a programming error and raises
ValueError (an address a reader typed was validated long before it reached a message).
"""

from __future__ import annotations

import base64
import re

# C0 controls, DEL, C1 controls and the Unicode line/paragraph separators: any of them could
# end a header line for some parser, so none survives into a header value. Lone surrogates
# cannot be encoded at all.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_SPACES = re.compile(r" {2,}")
# RFC 5322 field-name: printable US-ASCII except colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
# RFC 5322 dot-atom addr-spec, ASCII only: the envelope and the header carry the same string.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_MESSAGE_ID = re.compile(rf"<{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9.-]+>")
# A phrase that needs no quoting: atext and single spaces.
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")

MAX_LINE = 78  # RFC 5322 "SHOULD" length; folding aims for it
_HARD_LIMIT = 998  # RFC 5322 "MUST" length, without CRLF
_EW_PREFIX = "=?utf-8?b?"
_LONG_NAME = 200  # longer ASCII names go as encoded-words, which can always be folded
_EW_BYTES = 45  # 45 bytes -> 60 base64 chars -> a 72-char encoded-word (limit 75)

RESERVED = frozenset(
    {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


class InvalidAddress(ValueError):
    """An address that could carry a header or an SMTP command; never sent."""

    def __init__(self, address: str) -> None:
        super().__init__(f"not a deliverable address: {address!r}")
        self.address = address


def clean(value: str) -> str:
    """The value as it will read once parsed: controls become spaces, runs of blanks one
    space, no leading or trailing blanks."""
    if not value.isprintable():  # tab and every control are non-printable: one fast test
        value = _CONTROLS.sub(" ", value)
    if "  " in value:
        value = _SPACES.sub(" ", value)
    return value.strip()


def clean_phrase(value: str) -> str:
    """A display name as it will read once parsed: the stdlib folds every run of Unicode
    whitespace in a phrase into one space, so the name is given that form up front."""
    return " ".join(clean(value).split())


def check_field_name(name: str) -> str:
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"not an RFC 5322 header field name: {name!r}")
    if name.lower() in RESERVED:
        raise ValueError(f"header {name!r} is written by build_mime itself")
    return name


def check_address(address: str) -> str:
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        raise InvalidAddress(address)
    return address


def check_message_id(message_id: str) -> str:
    if len(message_id) > 250 or not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return message_id


def encoded_words(text: str) -> list[str]:
    """RFC 2047 B encoded-words, each whole characters of UTF-8 and under 76 chars."""
    data = text.encode("utf-8")
    words: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + _EW_BYTES, len(data))
        # Never cut a character: back off over UTF-8 continuation bytes (10xxxxxx).
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        words.append(_encoded_word(data[start:end]))
        start = end
    return words


def _encoded_word(data: bytes) -> str:
    return f"{_EW_PREFIX}{base64.b64encode(data).decode('ascii')}?="


def fold(words: list[str], first_line: int) -> str:
    """Join `words` with spaces, breaking lines before a word past MAX_LINE.

    Unfolding turns each CRLF+space back into the space it replaced; between two
    encoded-words the space is not part of the text at all (RFC 2047 section 6.2).
    """
    lines: list[str] = []
    current = ""
    width = first_line
    for word in words:
        if current and width + len(current) + 1 + len(word) > MAX_LINE:
            lines.append(current)
            current, width = word, 1
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\r\n ".join(lines)


def unstructured(name: str, value: str) -> str:
    """A `Name: value` line (folded, CRLF-terminated) for a free-text header."""
    value = clean(value)
    start = len(name) + 2
    plain = value.isascii() and value.isprintable() and "=?" not in value
    if plain and start + len(value) <= MAX_LINE:
        return f"{name}: {value}\r\n"  # the common case: short ASCII, nothing to fold
    if plain:
        folded = fold(value.split(" "), start)
        if all(len(line) < _HARD_LIMIT - start for line in folded.split("\r\n")):
            return f"{name}: {folded}\r\n"
    return f"{name}: {fold(encoded_words(value), start)}\r\n" if value else f"{name}: \r\n"


def quoted_mailbox(name: str, address: str) -> str:
    """`"Display Name" <address>` for JSON APIs that encode headers themselves: the name
    is a quoted-string (commas and quotes stay inside it), Unicode left as it is."""
    check_address(address)
    name = clean_phrase(name)
    if not name:
        return address
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{address}>'


def mailbox(name: str, address: str) -> str:
    """`Display Name <address>`: quoted when it has specials, encoded when not ASCII."""
    check_address(address)
    name = clean_phrase(name)
    if not name:
        return address
    if len(name) < _LONG_NAME and _PLAIN_PHRASE.fullmatch(name) and "=?" not in name:
        return f"{fold(name.split(' '), 6)} <{address}>"
    if len(name) < _LONG_NAME and name.isascii() and name.isprintable() and "=?" not in name:
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{fold(escaped.split(" "), 6)}" <{address}>'
    # One run of encoded-words per word of the name: RFC 2047 says the space between two
    # encoded-words is not text, but the stdlib (and some clients) keep it inside a phrase;
    # breaking only where the name has a space reads the same either way. Only a single
    # word over 45 bytes of UTF-8 has to be split inside itself.
    words = [word for part in name.split(" ") for word in encoded_words(part)]
    return f"{fold(words, 6)} <{address}>"
