"""The messages of one `SmtpTransport.send_many` call: taken in turn by its connections,
each built (and, with DKIM, signed) on the way, and their results.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from clippost.dkim.batch import SignedBatch, SigningFailed
from clippost.dkim.signer import DkimSigner
from clippost.mail import Message, SendResult, Transient
from clippost.rendering.mime import build_mime, refusal
from clippost.transports.ratelimit import RateLimiter, Unlimited


@dataclass(slots=True)
class Item:
    """A message ready for the wire: its place in the batch, envelope and bytes."""

    index: int
    mail_from: bytes
    rcpt_to: bytes
    wire: bytes

    @property
    def envelope(self) -> bytes:
        """MAIL, RCPT and DATA, pipelined. The addresses were checked by build_mime (an
        ASCII dot-atom each), so they cannot carry a line break or a second command."""
        return b"MAIL FROM:<%b>\r\nRCPT TO:<%b>\r\nDATA\r\n" % (self.mail_from, self.rcpt_to)


class Work:
    """The messages of one send_many call, taken in turn by its lanes, and their results."""

    def __init__(
        self, messages: Sequence[Message], limiter: RateLimiter, signer: DkimSigner | None
    ) -> None:
        self._queue = deque(enumerate(messages))
        # With DKIM, messages are built and signed ahead of the lanes (dkim.batch).
        self._signed = None if signer is None else SignedBatch(signer, messages, build_mime)
        self._limiter = limiter
        # Under a rate limit, taking the next message may wait for its turn: a body is then
        # sent on its own rather than held back for the next message's envelope (the pace
        # is the limiter's anyway, so carrying would save nothing).
        self.takes_at_once = isinstance(limiter, Unlimited)
        self.results: list[SendResult | None] = [None] * len(messages)

    async def take(self) -> Item | None:
        """The next message, built and within the rate limit; None when none is left. A
        message build_mime refuses gets its result here and is never sent."""
        while self._queue:
            index, message = self._queue.popleft()
            try:
                signed = self._signed
                wire = build_mime(message) if signed is None else await signed.get(index)
            except ValueError as exc:
                self.results[index] = refusal(exc, message)
                continue
            except SigningFailed as exc:
                self.results[index] = Transient(str(exc))
                continue
            if not self.takes_at_once:  # no await at all without a limit
                await self._limiter.acquire()
            sender, recipient = message.return_path or message.from_address, message.to
            return Item(index, sender.encode("ascii"), recipient.encode("ascii"), wire)
        return None

    def done(self, item: Item, result: SendResult) -> None:
        self.results[item.index] = result

    def close(self) -> None:
        if self._signed is not None:
            self._signed.close()
