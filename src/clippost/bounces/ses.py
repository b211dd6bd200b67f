"""Amazon SES notifications (the `Message` of a verified SNS notification) as events.

Both forms SES publishes are read: identity notifications (`notificationType`) and
configuration-set event publishing (`eventType`). Bounce, Complaint and Delivery carry one
entry per recipient; each becomes an event keyed by SES's feedback id and the recipient (a
delivery by the SNS message id), so SNS redelivering a notification records nothing new.
SES's own classification is kept: a Permanent bounce is hard, Transient and Undetermined
are soft. A complaint whose feedback type is "not-spam" is no complaint.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from clippost.bounces.events import DeliveryEvent, EventKind, Provider
from clippost.errors import BadInput


def events_from_notification(message: str, *, sns_message_id: str) -> list[DeliveryEvent]:
    """The events in one SES notification; [] for a notification of another kind."""
    try:
        data = json.loads(message)
    except ValueError:
        return []  # a signed message on our topic that is not SES's (a test publish)
    if not isinstance(data, dict):
        return []
    kind = data.get("notificationType") or data.get("eventType")
    mail = _object(data.get("mail"))
    if kind == "Bounce":
        return _bounces(_object(data.get("bounce")), mail, sns_message_id)
    if kind == "Complaint":
        return _complaints(_object(data.get("complaint")), mail, sns_message_id)
    if kind == "Delivery":
        return _deliveries(_object(data.get("delivery")), mail, sns_message_id)
    return []


def _bounces(bounce: dict[str, Any], mail: dict[str, Any], sns_id: str) -> list[DeliveryEvent]:
    kind = (
        EventKind.HARD_BOUNCE if bounce.get("bounceType") == "Permanent" else EventKind.SOFT_BOUNCE
    )
    summary = f"{bounce.get('bounceType', '')}/{bounce.get('bounceSubType', '')}"
    feedback = str(bounce.get("feedbackId") or sns_id)
    events = []
    for recipient in _list(bounce.get("bouncedRecipients")):
        address = _address(recipient)
        status = recipient.get("status") or ""
        diagnostic = recipient.get("diagnosticCode") or ""
        detail = " ".join(part for part in (summary, str(status), str(diagnostic)) if part)
        events.append(
            _event(mail, f"{feedback}:{address}", kind, address, bounce.get("timestamp"), detail)
        )
    return events


def _complaints(
    complaint: dict[str, Any], mail: dict[str, Any], sns_id: str
) -> list[DeliveryEvent]:
    feedback_type = str(complaint.get("complaintFeedbackType") or "abuse")
    if feedback_type == "not-spam":
        return []
    feedback = str(complaint.get("feedbackId") or sns_id)
    return [
        _event(
            mail,
            f"{feedback}:{address}",
            EventKind.COMPLAINT,
            address,
            complaint.get("timestamp"),
            f"feedback type {feedback_type}",
        )
        for address in map(_address, _list(complaint.get("complainedRecipients")))
    ]


def _deliveries(delivery: dict[str, Any], mail: dict[str, Any], sns_id: str) -> list[DeliveryEvent]:
    detail = str(delivery.get("smtpResponse") or "")
    return [
        _event(
            mail,
            f"{sns_id}:{address}",
            EventKind.DELIVERY,
            address,
            delivery.get("timestamp"),
            detail,
        )
        for address in delivery.get("recipients") or []
        if isinstance(address, str)
    ]


def _event(
    mail: dict[str, Any],
    event_id: str,
    kind: EventKind,
    address: str,
    timestamp: object,
    detail: str,
) -> DeliveryEvent:
    return DeliveryEvent(
        provider=Provider.SES,
        event_id=event_id[:300],
        kind=kind,
        recipient=parseaddr(address)[1].lower() or None,
        occurred_at=_moment(timestamp),
        detail=detail,
        message_id=_our_message_id(mail),
        provider_message_id=str(mail.get("messageId") or "") or None,
    )


def _our_message_id(mail: dict[str, Any]) -> str | None:
    """Our Message-ID, from the headers SES quotes (commonHeaders, else the raw list)."""
    common = _object(mail.get("commonHeaders")).get("messageId")
    if isinstance(common, str) and common:
        return common
    for header in _list(mail.get("headers")):
        if str(header.get("name", "")).lower() == "message-id":
            return str(header.get("value") or "") or None
    return None


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _object(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput("The SES notification is not in the documented shape.")
    return value


def _list(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _address(recipient: dict[str, Any]) -> str:
    address = recipient.get("emailAddress")
    if not isinstance(address, str) or not address:
        raise BadInput("An SES recipient has no emailAddress.")
    return address
