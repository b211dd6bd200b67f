"""Neutral mail types: a rendered message, and what sending one can come to.

Rendering builds `Message`s and transports send them; both import this module and neither
imports the other. Pure data: nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Message:
    """A message ready to go. Header values here are untrusted until `rendering.mime`
    has made them safe; every transport builds its wire form through that module."""

    message_id: str  # "<token@domain>", stable for the outbox row
    from_address: str  # bare address used as envelope sender, e.g. news@example.org
    from_name: str  # display name for the From header ("" for none)
    to: str  # bare recipient address
    subject: str
    text: str
    html: str
    date: datetime  # aware
    headers: Mapping[str, str] = field(default_factory=dict)  # List-Unsubscribe, ...
    # SMTP envelope sender when it is not `from_address`: a VERP address (verp)
    # that names this message, so its bounce can be matched. Other transports ignore it.
    return_path: str = ""


@dataclass(frozen=True, slots=True)
class Sent:
    provider_id: str | None = None


@dataclass(frozen=True, slots=True)
class Transient:
    """Try again later (SMTP 4xx, timeouts, connection errors, HTTP 429/5xx)."""

    reason: str
    retry_after: float | None = None  # seconds, when the server said


@dataclass(frozen=True, slots=True)
class Permanent:
    """Never retry (SMTP 5xx, HTTP 4xx). `bounce` means the address itself is bad and is
    suppressed; a permanent failure about the message (too large...) is not a bounce."""

    reason: str
    bounce: bool = False


@dataclass(frozen=True, slots=True)
class Suppressed:
    """Deliberately not sent (a staging allowlist left the recipient out): the outbox
    records the row as `suppressed` with this reason, never as failed, and never retries."""

    reason: str


SendResult = Sent | Transient | Permanent | Suppressed
