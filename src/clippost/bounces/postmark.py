"""Postmark's bounce and spam-complaint webhooks: basic auth, then the record as an event.

Postmark has no signature: the webhook URL carries credentials
(`https://user:password@host/webhooks/postmark`), and both are compared in constant time.
Postmark's own bounce type decides the kind; types that are not about delivery
(auto-responders, address changes, subscribe requests) are not recorded.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import datetime
from typing import Any

from clippost.bounces.events import DeliveryEvent, EventKind, Provider
from clippost.bounces.posted import posted_json
from clippost.errors import BadInput, ClippostError

_HARD = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated"})
_SOFT = frozenset(
    {"SoftBounce", "Transient", "DnsError", "Blocked", "DMARCPolicy", "Undeliverable", "Unknown"}
)
_COMPLAINT = frozenset({"SpamComplaint"})


class Unauthorized(ClippostError):
    """Missing or wrong webhook credentials: nothing is read or changed."""

    status_code = 401


def check_basic_auth(header: str | None, *, username: str, password: str) -> None:
    """Raise Unauthorized unless `header` is `Basic base64(username:password)`; both parts
    are compared whole, in constant time, so a timing tells nothing of either."""
    scheme, _, encoded = (header or "").partition(" ")
    try:
        given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        given = ""
    user, _, secret = given.partition(":")
    user_ok = hmac.compare_digest(user.encode(), username.encode())
    secret_ok = hmac.compare_digest(secret.encode(), password.encode())
    if scheme.lower() != "basic" or not (user_ok & secret_ok):
        raise Unauthorized("This webhook needs its configured credentials.")


def events_from_webhook(body: bytes) -> list[DeliveryEvent]:
    """The event in one Postmark webhook post ([] for a record type not about delivery)."""
    record = posted_json(body, dict, refusal="A Postmark webhook posts one JSON object.")
    kind = _kind(str(record.get("Type") or record.get("RecordType") or ""))
    if kind is None or record.get("RecordType") not in ("Bounce", "SpamComplaint"):
        return []
    record_id = record.get("ID")
    if not isinstance(record_id, int | str) or isinstance(record_id, bool) or record_id == "":
        raise BadInput("The Postmark record has no ID.")
    return [_event(record, str(record_id), kind)]


def _kind(bounce_type: str) -> EventKind | None:
    if bounce_type in _HARD:
        return EventKind.HARD_BOUNCE
    if bounce_type in _SOFT:
        return EventKind.SOFT_BOUNCE
    if bounce_type in _COMPLAINT:
        return EventKind.COMPLAINT
    return None


def _event(record: dict[str, Any], record_id: str, kind: EventKind) -> DeliveryEvent:
    email = record.get("Email")
    parts = (record.get("Type"), record.get("Description"), record.get("Details"))
    return DeliveryEvent(
        provider=Provider.POSTMARK,
        event_id=record_id,
        kind=kind,
        recipient=email.strip().lower() if isinstance(email, str) and email.strip() else None,
        occurred_at=_moment(record.get("BouncedAt")),
        detail=" ".join(str(part) for part in parts if part),
        provider_message_id=_text(record.get("MessageID")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _moment(value: object) -> datetime | None:
    """Postmark's times carry seven fractional digits, more than fromisoformat reads."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
