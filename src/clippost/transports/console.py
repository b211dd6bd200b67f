"""Console: a short summary and the text part of each message, for trying things out."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from clippost.mail import Message, SendResult, Sent
from clippost.rendering.headers import clean


class ConsoleTransport:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        stream = self._stream or sys.stdout
        for message in messages:
            stream.write(_summary(message))
        stream.flush()
        return [Sent(provider_id=message.message_id) for message in messages]

    async def close(self) -> None:
        return None


def _summary(message: Message) -> str:
    rule = "-" * 72
    return (
        f"{rule}\n"
        f"To: {clean(message.to)}\n"
        f"From: {clean(message.from_name)} <{clean(message.from_address)}>\n"
        f"Subject: {clean(message.subject)}\n"
        f"Message-ID: {clean(message.message_id)}\n\n"
        f"{message.text.rstrip()}\n"
    )
