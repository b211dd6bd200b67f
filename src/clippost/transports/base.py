"""What every transport speaks: a rendered message in, one result per message out.

The message and result types themselves are neutral (`clippost.mail`): rendering builds
them without knowing any transport.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from clippost.mail import Message, SendResult


class Transport(Protocol):
    name: str

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send a batch; return one result per message, in order. Never raises for a
        per-message failure: errors are results."""
        ...

    async def close(self) -> None: ...
