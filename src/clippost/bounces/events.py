"""A delivery event as every source reports it: the neutral form the service records.

Webhook parsers (`ses`, `postmark`, `sendgrid`) and the mailbox reader (`reports`) each turn
what their source sends into these; nothing after them knows where an event came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventKind(StrEnum):
    HARD_BOUNCE = "hard_bounce"  # the address does not work: suppress at once
    SOFT_BOUNCE = "soft_bounce"  # it did not work this time: suppress after several
    COMPLAINT = "complaint"  # the reader marked it as spam: suppress and unsubscribe
    DELIVERY = "delivery"  # the receiving server accepted it: kept, nothing to do


class Provider(StrEnum):
    SES = "ses"
    POSTMARK = "postmark"
    SENDGRID = "sendgrid"
    MAILBOX = "mailbox"


# Longest detail kept per event: a diagnostic line, not a provider's whole payload.
MAX_DETAIL = 1000


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One report about one message to one recipient.

    `event_id` is the source's own id for the report (with the recipient when one report
    covers several), so that a report received twice is recorded once. The message is
    named by whichever the source knows: our Message-ID, the provider's id for it, or our
    outbox id (VERP). `trusted`: the source proved who it is (a signed or authenticated
    webhook); a bounce mailbox accepts mail from anyone, so its reports only act on a
    message they can name.
    """

    provider: Provider
    event_id: str
    kind: EventKind
    recipient: str | None = None
    occurred_at: datetime | None = None
    detail: str = ""
    message_id: str | None = None
    provider_message_id: str | None = None
    outbox_id: int | None = None
    trusted: bool = True
