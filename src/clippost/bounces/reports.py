"""Mail arriving at the bounce mailbox, read (pure): bounces, complaints, unsubscribe requests.

What is understood:
- RFC 3464 delivery status notifications (`multipart/report; report-type=delivery-status`),
  as Postfix, Exim, Gmail, Outlook/Exchange and most servers send them: each recipient
  block whose Action is `failed` is a bounce, hard or soft by its Status (the rule in
  `policy.bounce_kind`); `delayed`, `delivered`, `relayed` blocks are not bounces. A
  delivery-status part sent base64-encoded (some Exchange servers) is read too.
- RFC 5965 ARF feedback reports (`report-type=feedback-report`, Yahoo, Microsoft JMRP,
  Fastmail, ...): Feedback-Type abuse, fraud or other is a complaint; not-spam is nothing.
- Two common non-standard shapes, plain text from a mailer daemon: qmail's ("Hi. This is
  the qmail-send program ... <address>: ... (#5.1.1)") and Exim's classic one ("This message
  was created automatically by mail delivery software" ... the failed address indented,
  then its SMTP error). Delay warnings in either shape are not bounces.
- The List-Unsubscribe `mailto:`: a mail whose subject is `unsubscribe <token>`.

The message a report is about is named by the Message-ID of the returned original
(message/rfc822, text/rfc822-headers, or a quoted header block), or by the VERP address the
report was sent to. Reports are unauthenticated, so they are `trusted=False` events.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.errors
import hashlib
import quopri
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr, parsedate_to_datetime

from clippost import verp
from clippost.bounces.events import DeliveryEvent, EventKind, Provider
from clippost.bounces.policy import bounce_kind

_UNSUBSCRIBE = re.compile(r"\s*(?:re:\s*)?unsubscribe\s+([A-Za-z0-9._~-]{16,512})\s*", re.I)
_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^<>\s]{3,250}>)", re.I | re.M)
_STATUS = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
_SMTP_CODE = re.compile(r"\b([45]\d\d)[ -]")
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.I)
_QMAIL = "this is the qmail-send program"
_QMAIL_RECIPIENT = re.compile(r"^<([^<>\s@]+@[^<>\s]+)>:\s*$", re.M)
_EXIM = "this message was created automatically by mail delivery software"
_EXIM_RECIPIENT = re.compile(r"^[ \t]{2,}(\S+@\S+)[ \t]*$", re.M)
_COPY_MARKERS = ("--- below this line is a copy", "------ this is a copy of the message")
_DELAY_WORDS = ("not yet been delivered", "delayed", "will keep trying", "still trying")
_COMPLAINT_TYPES = frozenset({"abuse", "fraud", "other"})
# Where the delivering server writes the envelope recipient (the VERP address).
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    token: str


@dataclass(frozen=True, slots=True)
class Bounces:
    events: tuple[DeliveryEvent, ...]


@dataclass(frozen=True, slots=True)
class Unrecognised:
    reason: str


Report = Unsubscribe | Bounces | Unrecognised


def read_report(raw: bytes, *, verp_keys: Iterable[str] = ()) -> Report:
    """What one mailbox message is; never raises for malformed mail."""
    try:
        message = email.message_from_bytes(raw)
        return _read(message, raw, tuple(verp_keys))
    except (email.errors.MessageError, ValueError, TypeError, LookupError) as exc:
        return Unrecognised(f"unreadable message: {type(exc).__name__}")


def _read(message: Message, raw: bytes, keys: tuple[str, ...]) -> Report:
    wanted = _UNSUBSCRIBE.fullmatch(_subject(message))
    if wanted is not None:
        return Unsubscribe(wanted.group(1))
    context = _Context(
        report_id=_report_id(message, raw),
        occurred_at=_date(message.get("Date")),
        outbox_id=_verp_id(message, keys),
    )
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            return _from_dsn(part, message, context)
        if kind == "message/feedback-report":
            return _from_arf(part, message, context)
    return _from_plain_text(message, context)


def _subject(message: Message) -> str:
    """The subject, RFC 2047 encoded words decoded (some clients encode any subject)."""
    value = message.get("Subject")
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (email.errors.HeaderParseError, UnicodeDecodeError, LookupError):
        return str(value)


@dataclass(frozen=True, slots=True)
class _Context:
    report_id: str
    occurred_at: datetime | None
    outbox_id: int | None

    def event(
        self,
        index: int,
        kind: EventKind,
        recipient: str | None,
        detail: str,
        message_id: str | None,
    ) -> DeliveryEvent:
        return DeliveryEvent(
            provider=Provider.MAILBOX,
            event_id=f"{self.report_id}:{recipient or index}"[:300],
            kind=kind,
            recipient=recipient,
            occurred_at=self.occurred_at,
            detail=detail,
            message_id=message_id,
            outbox_id=self.outbox_id,
            trusted=False,
        )


def _report_id(message: Message, raw: bytes) -> str:
    given = str(message.get("Message-ID", "")).strip()
    if 3 <= len(given) <= 250:
        return given
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # "-0000" (qmail) is a UTC time from a server that will not say its zone.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _verp_id(message: Message, keys: tuple[str, ...]) -> int | None:
    if not keys:
        return None
    for name in _RECIPIENT_HEADERS:
        for value in message.get_all(name) or []:
            found = verp.outbox_id_of(str(value), keys=keys)
            if found is not None:
                return found
    return None


# RFC 3464 --------------------------------------------------------------------------------


def _from_dsn(part: Message, report: Message, context: _Context) -> Report:
    message_id = _original_message_id(report)
    events = []
    for index, block in enumerate(_blocks(part)[1:]):
        if str(block.get("Action", "")).strip().lower() != "failed":
            continue
        status = str(block.get("Status", "")).strip()
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        kind = bounce_kind(status) or bounce_kind(diagnostic) or EventKind.SOFT_BOUNCE
        recipient = _typed_address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        detail = " ".join(filter(None, (status, diagnostic)))
        events.append(context.event(index, kind, recipient, detail, message_id))
    if not events:
        return Unrecognised("a delivery status notification with no failed recipient")
    return Bounces(tuple(events))


def _blocks(part: Message) -> list[Message]:
    """The per-message block, then one block per recipient."""
    payload = part.get_payload()
    encoded = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if isinstance(payload, list) and encoded not in ("base64", "quoted-printable"):
        return [block for block in payload if isinstance(block, Message)]
    if isinstance(payload, list):
        text = _decoded_blocks([b for b in payload if isinstance(b, Message)], encoded)
    else:
        text = _text(part)
    parser = HeaderParser()
    return [parser.parsestr(block.strip() + "\n") for block in re.split(r"\r?\n\s*\r?\n", text)]


def _decoded_blocks(blocks: list[Message], encoding: str) -> str:
    """An encoded delivery-status part (some Exchange servers): the parser split the encoded
    text as if it were header blocks; joined again and decoded, it reads as it should."""
    encoded = "\n".join(block.as_string() for block in blocks).encode("ascii", "replace")
    try:
        if encoding == "base64":
            return base64.b64decode(b"".join(encoded.split())).decode("utf-8", "replace")
        return quopri.decodestring(encoded).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _typed_address(value: object) -> str | None:
    """`rfc822; user@example.org` (RFC 3464 address-type; address) as a bare address."""
    if not isinstance(value, str):
        return None
    _, _, address = value.rpartition(";")
    bare = parseaddr(address.strip())[1].strip().lower()
    return bare if "@" in bare else None


# RFC 5965 --------------------------------------------------------------------------------


def _from_arf(part: Message, report: Message, context: _Context) -> Report:
    (fields,) = _blocks(part)[:1] or [Message()]
    feedback_type = str(fields.get("Feedback-Type", "")).strip().lower()
    if feedback_type not in _COMPLAINT_TYPES:
        return Unrecognised(f"a feedback report of type {feedback_type or 'none'}")
    recipient = _plain_address(fields.get("Original-Rcpt-To"))
    original = _original(report)
    if recipient is None and original is not None:
        recipient = _plain_address(original.get("To"))
    detail = f"feedback type {feedback_type}; {fields.get('User-Agent', '')}".strip(" ;")
    message_id = _original_message_id(report)
    return Bounces((context.event(0, EventKind.COMPLAINT, recipient, detail, message_id),))


def _plain_address(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    bare = parseaddr(value)[1].strip().lower()
    # Providers that redact the complainer write things like "redacted@example.org".
    return bare if "@" in bare and not bare.startswith("redacted@") else None


# The returned original ---------------------------------------------------------------------


def _original(report: Message) -> Message | None:
    """The message the report is about: an attached message/rfc822, or its headers."""
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if kind == "text/rfc822-headers":
            return HeaderParser().parsestr(_text(part))
    return None


def _original_message_id(report: Message) -> str | None:
    original = _original(report)
    if original is not None:
        given = str(original.get("Message-ID", "")).strip()
        if given:
            return given
    return _quoted_message_id(report)


def _quoted_message_id(report: Message) -> str | None:
    """A Message-ID header quoted in the report's text (plain-text bounces, forwards)."""
    own = str(report.get("Message-ID", "")).strip()
    for part in report.walk():
        if part.get_content_maintype() != "text":
            continue
        for found in _MESSAGE_ID.findall(_text(part)):
            if found != own:
                return str(found)
    return None


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")
    inner = part.get_payload()
    return inner if isinstance(inner, str) else ""


# Non-standard plain-text bounces -------------------------------------------------------------


def _from_plain_text(message: Message, context: _Context) -> Report:
    if not _DAEMON.match(parseaddr(str(message.get("From", "")))[1]):
        return Unrecognised("not a report (no delivery status or feedback report)")
    body = _first_text(message)
    lowered = body.lower()
    head = _before_copy(body)
    if _QMAIL in lowered:
        recipients = _QMAIL_RECIPIENT.findall(head)
    elif _EXIM in lowered:
        recipients = _exim_recipients(head)
    else:
        return Unrecognised("a mailer-daemon message in a shape clippost does not read")
    if any(word in head.lower() for word in _DELAY_WORDS):
        return Unrecognised("a delay warning, not a bounce")
    status = _STATUS.search(head)
    code = status.group(0) if status else _basic_status(head)
    kind = bounce_kind(code) or EventKind.SOFT_BOUNCE
    detail = _error_line(head)
    message_id = _original_message_id(message)
    events = [
        context.event(index, kind, address.lower() if address else None, detail, message_id)
        for index, address in enumerate(recipients or [None])
    ]
    return Bounces(tuple(events))


def _first_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return _text(part)
    return ""


def _before_copy(body: str) -> str:
    lowered = body.lower()
    cut = min((i for m in _COPY_MARKERS if (i := lowered.find(m)) >= 0), default=len(body))
    return body[:cut]


def _exim_recipients(head: str) -> list[str]:
    _, _, after = head.partition("failed:")
    return [address.strip("<>") for address in _EXIM_RECIPIENT.findall(after)]


def _error_line(head: str) -> str:
    """The line that says why: the first with a status or an SMTP code."""
    for line in head.splitlines():
        if _STATUS.search(line) or _SMTP_CODE.search(line):
            return line.strip()[:300]
    return ""


def _basic_status(text: str) -> str:
    """An enhanced status for a bare SMTP code: 550, 551 and 553 name the recipient."""
    found = _SMTP_CODE.search(text)
    if found is None:
        return ""
    code = found.group(1)
    if code in ("550", "551", "553"):
        return "5.1.1"
    return f"{code[0]}.0.0"
