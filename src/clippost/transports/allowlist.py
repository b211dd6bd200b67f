"""A staging allowlist: only listed addresses and domains receive mail.

Everyone else gets `Suppressed`, which the outbox records as suppressed (never failed,
never retried), so a staging copy of production data cannot email real readers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from clippost.mail import Message, SendResult, Suppressed
from clippost.transports.base import Transport

NOT_ALLOWED = "not on the staging allowlist"


class Allowlist:
    """Entries are addresses ("a@x.org") or domains ("@example.org" or "example.org");
    matching ignores case, and a domain matches itself only, not its subdomains."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.addresses: set[str] = set()
        self.domains: set[str] = set()
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry.startswith("@") or "@" not in entry:
                self.domains.add(entry.lstrip("@"))
            else:
                self.addresses.add(entry)

    def allows(self, address: str) -> bool:
        address = address.strip().lower()
        return address in self.addresses or address.rpartition("@")[2] in self.domains


class AllowlistTransport:
    def __init__(self, inner: Transport, allowlist: Allowlist) -> None:
        self.inner = inner
        self.allowlist = allowlist
        self.name = f"{inner.name}+allowlist"

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        allowed = [i for i, message in enumerate(messages) if self.allowlist.allows(message.to)]
        results: list[SendResult] = [Suppressed(NOT_ALLOWED)] * len(messages)
        if allowed:
            sent = await self.inner.send_many([messages[i] for i in allowed])
            for index, result in zip(allowed, sent, strict=True):
                results[index] = result
        return results

    async def close(self) -> None:
        await self.inner.close()
