"""Maildir: each message a file in `new/`, the embedded default a reader can open.

Written to `tmp/` first and renamed into `new/`, so a mail client never sees half a
message. Names follow the Maildir convention (time, a per-process unique part, host).
fsync is off by default: this transport is for development and small installs, where a
lost last message on power failure is acceptable; turn it on for durability.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from clippost.mail import Message, SendResult, Sent, Transient
from clippost.rendering.mime import build_mime, refusal

_counter = itertools.count()
# One line per message written: where a developer's confirmation email can be opened.
log = logging.getLogger(__name__)


class MaildirTransport:
    name = "maildir"

    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self._host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        # One thread hop per batch: file writes block, and a hop per message costs more
        # than the write itself.
        return await asyncio.to_thread(self._write_all, messages)

    async def close(self) -> None:
        return None

    def _write_all(self, messages: Sequence[Message]) -> list[SendResult]:
        try:
            for folder in ("tmp", "new", "cur"):
                (self.path / folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return [Transient(f"cannot create the Maildir: {exc}")] * len(messages)
        return [self._write(message) for message in messages]

    def _write(self, message: Message) -> SendResult:
        try:
            data = build_mime(message)
        except ValueError as exc:
            return refusal(exc, message)
        name = f"{time.time_ns()}.P{os.getpid()}Q{next(_counter)}.{self._host}"
        try:
            self._deliver(name, data)
        except OSError as exc:  # a full disk or a permission fixed later: try again
            return Transient(f"cannot write to the Maildir: {exc}")
        log.info("mail to %s written to %s", message.to, self.path / "new" / name)
        return Sent(provider_id=name)

    def _deliver(self, name: str, data: bytes) -> None:
        temporary = self.path / "tmp" / name
        with temporary.open("xb") as handle:
            handle.write(data)
            if self.fsync:
                handle.flush()
                os.fsync(handle.fileno())
        temporary.rename(self.path / "new" / name)
