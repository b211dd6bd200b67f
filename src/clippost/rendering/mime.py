"""Fast MIME assembly: a Message to the bytes of a multipart/alternative email.

The stdlib `email` package builds a tree of objects and a generator walks it, about 1.5 ms
a message; a sender doing hundreds a second spends its time there. Here a message is a few
string pieces joined once, and the bodies go through the C encoders in `binascii`.

The boundary starts with "=_": quoted-printable writes "=" only before two hex digits or a
line break and base64 has no "_", so no encoded body can contain it; a 7bit body is only
used when it does not contain "=_" either. No scanning, no random boundary needed.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from datetime import datetime
from itertools import repeat

from clippost.mail import Message, Permanent, SendResult, Transient
from clippost.rendering.headers import (
    InvalidAddress,
    check_address,
    check_field_name,
    check_message_id,
    mailbox,
    unstructured,
)

BOUNDARY = "=_clippost_alt_7f3a"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# What 7bit may carry (besides the line length): printable ASCII, CR, LF and tab. Deleting
# these with bytes.translate leaves nothing for a clean body; a regex scan is 4x slower.
_7BIT_OK = bytes(range(0x20, 0x7F)) + b"\r\n\t"
_HEAD_TAIL = (
    f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{BOUNDARY}"\r\n\r\n'
).encode("ascii")
_PART = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: {}\r\n\r\n'
_OPEN = f"--{BOUNDARY}\r\n".encode("ascii")
_NEXT = f"\r\n--{BOUNDARY}\r\n".encode("ascii")
_CLOSE = f"\r\n--{BOUNDARY}--\r\n".encode("ascii")


def build_mime(message: Message) -> bytes:
    """The message as it goes on the wire: CRLF line endings, ASCII only, every line
    under 998 octets, every header value safe. Raises ValueError for a malformed
    Message-ID, address or custom header name (programming errors, not user data).
    A return path (VERP) is checked here too: the SMTP envelope carries it as it is."""
    if message.return_path:
        check_address(message.return_path)
    return b"".join(
        (
            _head(message),
            _HEAD_TAIL,
            _OPEN,
            _part("plain", message.text),
            _NEXT,
            _part("html", message.html),
            _CLOSE,
        )
    )


def refusal(exc: ValueError, message: Message) -> SendResult:
    """The result for a message build_mime refused. An unusable recipient is a bounce (the
    address is suppressed); an unusable sender is the operator's configuration, so the
    message waits for it to be fixed; anything else is a programming error: failed."""
    if isinstance(exc, InvalidAddress) and exc.address == message.to:
        return Permanent(str(exc), bounce=True)
    if isinstance(exc, InvalidAddress):
        return Transient(f"the sender address is unusable, check the settings: {exc}")
    return Permanent(f"cannot build the message: {exc}")


def _head(message: Message) -> bytes:
    lines = [
        _from_line(message.from_name, message.from_address),
        f"To: {mailbox('', message.to)}\r\n",
        unstructured("Subject", message.subject),
        f"Date: {format_date(message.date)}\r\n",
        f"Message-ID: {check_message_id(message.message_id)}\r\n",
    ]
    lines.extend(map(_header_line, message.headers.keys(), message.headers.values()))
    return "".join(lines).encode("ascii")


@functools.lru_cache(maxsize=64)  # the operator's one sender (a few with VERP or staging)
def _from_line(name: str, address: str) -> str:
    return f"From: {mailbox(name, address)}\r\n"


@functools.lru_cache(maxsize=1024)
def _header_line(name: str, value: str) -> str:
    """A custom header's line. Cached: most of a digest's (Auto-Submitted, List-Id,
    Precedence, List-Unsubscribe-Post...) are the same in every message."""
    return unstructured(check_field_name(name), value)


@functools.lru_cache(maxsize=64)  # a batch is rendered within the same few seconds
def format_date(moment: datetime) -> str:
    """RFC 5322 date-time in the moment's own offset, e.g. `Sun, 22 Nov 2026 21:56:02 +0100`."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("message date must be timezone-aware")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} "
        f"{sign}{hours:02d}{mins:02d}"
    )


def _part(subtype: str, body: str) -> bytes:
    """Part headers and body. ASCII stays 7bit when it can; mostly-ASCII text goes
    quoted-printable (readable, small); text dense in other scripts goes base64, where
    quoted-printable would triple every byte."""
    if subtype == "html" and "\r" not in body and body.endswith("\n") and not body.isascii():
        # A digest's HTML: its lines are looked up as text, split at each LF, without making
        # the canonical body or its UTF-8 first (each LF will be a CRLF: a character and a
        # byte); only the lines not met before are encoded, to UTF-8 and quoted-printable.
        html_lines = body[:-1].split("\n")
        encoded, growth = _HTML_LINES.encode_text_lines(html_lines)
        size = len(body) + growth  # of the UTF-8 body, LFs counted once
        if growth * 6 < size + len(html_lines):  # as below, for the canonical body's length
            return _PART.format(subtype, "quoted-printable").encode("ascii") + encoded
    body = canonical_lines(body)
    # The text part is mostly the reader's own lines: encoded whole, it is faster.
    lines = _HTML_LINES if subtype == "html" else None
    if body.isascii():
        data = body.encode("ascii")
        if b"=_" not in data and _short_lines(body) and not data.translate(None, _7BIT_OK):
            return _PART.format(subtype, "7bit").encode("ascii") + data
        return _PART.format(subtype, "quoted-printable").encode("ascii") + _qp(data, lines)
    data = body.encode("utf-8", "replace")
    if (len(data) - len(body)) * 6 < len(data):
        return _PART.format(subtype, "quoted-printable").encode("ascii") + _qp(data, lines)
    return _PART.format(subtype, "base64").encode("ascii") + _base64(data)


def canonical_lines(text: str) -> str:
    """CRLF line endings, as RFC 2045 requires of text parts (a lone CR or LF is a line
    break, as every mail client reads it)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "\r\n")


def _short_lines(body: str) -> bool:
    return len(body) < 998 or max(map(len, body.split("\r\n"))) < 998


def _qp(data: bytes, lines: _LineCache | None = None) -> bytes:
    """Quoted-printable, exactly as `binascii.b2a_qp` writes it; with `lines`, a line at a
    time, the lines met before taken from it (see _LineCache)."""
    if lines is not None and data.endswith(b"\r\n"):
        return lines.encode(data)
    encoded = binascii.b2a_qp(data, istext=True)
    # b2a_qp copies the first line ending it meets (always CRLF here) into its soft line
    # breaks; with no line ending at all it falls back to a bare LF.
    return encoded if b"\n" in data else encoded.replace(b"\n", b"\r\n")


class _LineCache:
    """The quoted-printable encodings of the lines of HTML parts, most used kept.

    b2a_qp keeps no state from one line to the next (its column count restarts at each
    line break, and with CRLF line endings, as here, it breaks soft lines with CRLF too),
    so a body is the concatenation of its lines' encodings. Nine lines in ten of a digest's
    HTML are its layout's, the same in every message of a language: those come from here,
    and only the lines that hold the reader's text and links are encoded (the HTML part in
    three quarters of the time). The digest's templates start a line for each such value,
    after the attributes every digest shares (templates/email/_digest_passage.html), so a
    passage's tag of layout is found here too (MIME 204-205 µs a digest before, 169-183
    after: bench/send_split.py). Lines are kept as bytes (`encode`) or as text
    (`encode_text_lines`: a line found is not even encoded to UTF-8, a sixth of the part's
    time when every line was); a bytes key never equals a text one. Two generations bound
    the memory: when the current one is full it becomes the previous one, and a line found
    there is carried over, so the lines every message has stay and the readers' own go."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.current: dict[bytes | str, bytes] = {}
        self.previous: dict[bytes | str, bytes] = {}
        # Of the text lines whose UTF-8 is longer than they are: by how many bytes.
        self.growth: dict[bytes | str, int] = {}
        self.previous_growth: dict[bytes | str, int] = {}

    def encode(self, data: bytes) -> bytes:
        """`data` (CRLF line endings, the last line ended too), encoded."""
        return self.encode_lines(data[:-2].split(b"\r\n"))

    def encode_lines(self, lines: list[bytes]) -> bytes:
        """The lines (without their endings) encoded, each ended by CRLF. The lookups run
        in C (`map`, `list.index`): only the lines not found cost Python's time."""
        return self._encode(lines, list(map(self.current.get, lines)))[0]

    def encode_text_lines(self, lines: list[str]) -> tuple[bytes, int]:
        """The text lines (without their LFs) in UTF-8, encoded, each ended by CRLF; and
        how many bytes more than characters their UTF-8 has (what chooses the part's
        transfer encoding), summed in C for the lines found."""
        pieces = list(map(self.current.get, lines))
        growth = sum(map(self.growth.get, lines, repeat(0)))
        encoded, more = self._encode(lines, pieces)
        return encoded, growth + more

    def _encode(
        self, lines: Sequence[bytes | str], pieces: list[bytes | None]
    ) -> tuple[bytes, int]:
        """`pieces` (the current generation's encodings of `lines`, None where missing)
        completed and joined; and the UTF-8 growth of the text lines that were missing."""
        missing, growth = -1, 0
        while True:
            try:
                missing = pieces.index(None, missing + 1)
            except ValueError:
                return b"".join(pieces), growth  # type: ignore[arg-type] # no None is left
            line = lines[missing]
            piece = self.previous.get(line)
            if piece is not None:
                more = self.previous_growth.get(line, 0)
            elif isinstance(line, str):
                data = line.encode("utf-8", "replace")
                more = len(data) - len(line)
                piece = binascii.b2a_qp(data + b"\r\n", istext=True)
            else:
                more = 0
                piece = binascii.b2a_qp(line + b"\r\n", istext=True)
            if len(self.current) >= self.size:
                self.previous, self.current = self.current, {}
                self.previous_growth, self.growth = self.growth, {}
            self.current[line] = pieces[missing] = piece
            if more:
                self.growth[line] = more
                growth += more


# A digest's HTML is about 130 lines; 4,096 hold every language's layout with room for the
# readers' lines of a few dozen messages, a few MB at most.
_HTML_LINES = _LineCache(4096)


def _base64(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
