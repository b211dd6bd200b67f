"""SendGrid's signed event webhook: ECDSA P-256 over timestamp + body, then the events.

SendGrid signs `timestamp + raw body` with SHA-256 and ECDSA; the signature (base64 DER)
and the timestamp come in the `X-Twilio-Email-Event-Webhook-*` headers, the public key from
SendGrid's settings page (CLIPPOST_SENDGRID_WEBHOOK_PUBLIC_KEY). A timestamp further than
the tolerance from now is refused, so a recorded post cannot be replayed much later (and a
replay within it records nothing new: events are kept by `sg_event_id`).

Kinds follow SendGrid's own classification: `bounce` is hard, `blocked` (and a bounce of
type "blocked") soft, `spamreport` a complaint, `dropped` whatever SendGrid dropped it for
(a known bad address: hard; a spam reporter: complaint; anything else is not recorded), and
`delivered` a delivery. Opens, clicks and the like are not delivery events.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from clippost.bounces.events import DeliveryEvent, EventKind, Provider
from clippost.bounces.posted import posted_json
from clippost.errors import ClippostError, ConfigurationError

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
_DROPPED = {
    "Bounced Address": EventKind.HARD_BOUNCE,
    "Invalid": EventKind.HARD_BOUNCE,
    "Spam Reporting Address": EventKind.COMPLAINT,
}
# sg_message_id is the X-Message-Id the send returned, then ".filter..." or ".recvd-...".
_MESSAGE_ID_SUFFIX = re.compile(r"\.(?:filter|recvd)")


class SignatureRefused(ClippostError):
    status_code = 403


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER) or as PEM."""
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = load_pem_public_key(text.encode())
        else:
            key = load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ConfigurationError(
            "CLIPPOST_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key."
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigurationError("CLIPPOST_SENDGRID_WEBHOOK_PUBLIC_KEY must be an ECDSA P-256 key.")
    return key


def verify(
    key: ec.EllipticCurvePublicKey,
    *,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    """Raise SignatureRefused unless SendGrid signed `timestamp + body` recently."""
    if not signature or not timestamp or not timestamp.isdigit():
        raise SignatureRefused("This webhook must be signed by SendGrid.")
    if abs(now.timestamp() - int(timestamp)) > tolerance_seconds:
        raise SignatureRefused("The webhook's signed timestamp is too far from now.")
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise SignatureRefused("The SendGrid signature does not match the body.") from exc


def events_from_webhook(body: bytes) -> list[DeliveryEvent]:
    posted = posted_json(body, list, refusal="SendGrid's event webhook posts a JSON array.")
    events = []
    for item in posted:
        if isinstance(item, dict) and (kind := _kind(item)) is not None:
            events.append(_event(item, kind))
    return events


def _kind(item: dict[str, Any]) -> EventKind | None:
    event = item.get("event")
    if event == "bounce":
        return EventKind.SOFT_BOUNCE if item.get("type") == "blocked" else EventKind.HARD_BOUNCE
    if event == "blocked":
        return EventKind.SOFT_BOUNCE
    if event == "spamreport":
        return EventKind.COMPLAINT
    if event == "dropped":
        return _DROPPED.get(str(item.get("reason") or ""))
    if event == "delivered":
        return EventKind.DELIVERY
    return None


def _event(item: dict[str, Any], kind: EventKind) -> DeliveryEvent:
    email = item.get("email")
    parts = (item.get("event"), item.get("status"), item.get("reason") or item.get("response"))
    return DeliveryEvent(
        provider=Provider.SENDGRID,
        event_id=_event_id(item),
        kind=kind,
        recipient=email.strip().lower() if isinstance(email, str) and email.strip() else None,
        occurred_at=_moment(item.get("timestamp")),
        detail=" ".join(str(part) for part in parts if part),
        message_id=_text(item.get("smtp-id")),
        provider_message_id=_provider_message_id(item.get("sg_message_id")),
    )


def _event_id(item: dict[str, Any]) -> str:
    given = item.get("sg_event_id")
    if isinstance(given, str) and given:
        return given[:300]
    # Older accounts may lack it: the event's own content names it just as well.
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _provider_message_id(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return _MESSAGE_ID_SUFFIX.split(value, maxsplit=1)[0]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _moment(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
