"""The transaction phase of an SMTP session, pipelined (RFC 2920).

aiosmtplib opens the session (connect, EHLO, STARTTLS, AUTH); when the server advertises
PIPELINING, a `Channel` takes the connection's transport over (`transport.set_protocol`) for
the transactions, where several commands go in one write and their replies are read in
order: MAIL, RCPT and DATA together, then a body together with the next message's MAIL,
RCPT and DATA (RFC 2920 lets a body start a group). The sequencing and what to do about each
reply is `transports.smtp`'s; this module writes, reads and parses. aiosmtplib cannot
pipeline: its protocol keeps one reply per command it awaits and drops whatever else
arrives.

A Channel is trusted only while the replies it reads are the ones its commands asked for.
Data that arrives with no command outstanding, a reply it cannot parse, a timeout or a
disconnect makes it `broken`; the session then drops the connection and opens a new one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

# A whole reply may not be longer than this (a real one is a few hundred bytes at most).
_MAX_REPLY = 32 * 1024
# What follows the code on a reply line: a space, "-" (more lines follow), or nothing.
_SEPARATORS = (b" ", b"-", b"\r", b"\n")


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str


class ChannelError(Exception):
    """The channel can no longer be trusted: closed, timed out, or out of step."""


class Channel(asyncio.Protocol):
    """Replies in the order they arrive, for commands written in a group."""

    def __init__(self, transport: asyncio.Transport, *, timeout: float) -> None:
        self._transport = transport
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._replies: deque[Reply] = deque()
        self._wanted = 0
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._paused = False
        self.broken: str | None = None  # why the channel is not to be used again
        transport.set_protocol(self)

    @property
    def usable(self) -> bool:
        """True while the connection is open and in step: nothing went wrong, and the
        server has sent nothing that no command asked for (a 421 before closing, say)."""
        if self._replies or self._buffer:
            self._fail("the server sent a reply nobody asked for")
        return self.broken is None and not self._transport.is_closing()

    async def exchange(self, data: bytes, replies: int) -> list[Reply]:
        """Write `data` (one or more commands) and return the next `replies` replies."""
        await self.send(data)
        return await self.read(replies)

    async def send(self, data: bytes) -> None:
        """Write `data`: one or more commands, a message body, or both. Raises ChannelError
        when the channel is unusable, including when a reply came that nothing asked for."""
        if not self.usable:
            raise ChannelError(self.broken or "connection closed")
        if self._paused:
            await self._drain()
        self._transport.write(data)

    async def read(self, count: int) -> list[Reply]:
        """The next `count` replies, in order; ChannelError on timeout or disconnect before
        they all came (replies that arrived before a disconnect are still read: a message
        accepted just before the server hung up was delivered)."""
        if len(self._replies) < count:
            if self.broken is not None:
                raise ChannelError(self.broken)
            self._wanted = count
            waiter = self._waiter = self._loop.create_future()
            timer = self._loop.call_later(self._timeout, self._timed_out, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter, self._wanted = None, 0
        return [self._replies.popleft() for _ in range(count)]

    def close(self) -> None:
        self._fail("closed")
        self._transport.close()

    def _timed_out(self, waiter: asyncio.Future[None]) -> None:
        if waiter is self._waiter and not waiter.done():
            self._fail("timed out waiting for the server")

    def _fail(self, reason: str) -> None:
        if self.broken is None:
            self.broken = reason
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ChannelError(self.broken))
        if self._drained is not None and not self._drained.done():
            self._drained.set_exception(ChannelError(self.broken))

    # asyncio.Protocol --------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if data[-1:] != b"\n":
            if len(buffer) > _MAX_REPLY:
                self._fail("reply too long")
            return
        try:
            self._parse()
        except ValueError:
            self._fail(f"malformed reply: {bytes(buffer[:80])!r}")
            return
        waiter = self._waiter
        if waiter is not None and len(self._replies) >= self._wanted and not waiter.done():
            waiter.set_result(None)

    def _parse(self) -> None:
        """Move every complete reply from the buffer to the queue of replies."""
        buffer = self._buffer
        done = position = 0  # end of the last complete reply; start of the next line
        lines: list[bytes] = []
        while (end := buffer.find(b"\n", position)) >= 0:
            line = bytes(buffer[position : end + 1])
            position = end + 1
            if not line[:3].isdigit() or line[3:4] not in _SEPARATORS:
                raise ValueError("not an SMTP reply line")
            lines.append(line)
            if line[3:4] == b"-":  # more lines of the same reply follow
                continue
            code = line[:3]
            if any(part[:3] != code for part in lines):
                raise ValueError("a multiline reply changed its code")
            text = "\n".join(part[4:].strip().decode("utf-8", "replace") for part in lines)
            self._replies.append(Reply(int(code), text))
            lines = []
            done = position
        del buffer[:done]

    def eof_received(self) -> bool:
        self._fail("the server closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}" if exc else "connection lost")

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def _drain(self) -> None:
        drained = self._drained = self._loop.create_future()
        timer = self._loop.call_later(self._timeout, self._timed_out_writing, drained)
        try:
            await drained
        finally:
            timer.cancel()
            self._drained = None

    def _timed_out_writing(self, drained: asyncio.Future[None]) -> None:
        if not drained.done():
            self._fail("timed out writing to the server")


def data_block(wire: bytes, *, canonical: bool = False) -> bytes:
    """The message as sent after DATA's 354: dot-stuffed, ending in CRLF "." CRLF.

    A bare CR or LF would let a lenient server read an end of data inside the message: as
    many CR, LF and CRLF means there is none, and a message with one is first normalised
    as a mail server would read it. `canonical` says the caller knows already: the wire
    comes from rendering.mime.build_mime (DKIM-signed or not), whose every line ends in
    CRLF and which writes no other CR or LF (its property tests hold it to that), so the
    three counts over the whole message, a third of this function's time, are skipped.
    """
    if not canonical:
        lf = wire.count(b"\n")
        if wire.count(b"\r") != lf or wire.count(b"\r\n") != lf:
            wire = wire.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    if wire.startswith(b"."):
        wire = b"." + wire
    return wire.replace(b"\r\n.", b"\r\n..") + b".\r\n"
