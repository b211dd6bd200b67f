"""What every transport speaks: a rendered message in, one result per message out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


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


class Transport(Protocol):
    name: str

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send a batch; return one result per message, in order. Never raises for a
        per-message failure: errors are results."""
        ...

    async def close(self) -> None: ...
