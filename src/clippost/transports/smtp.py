"""SMTP over a pool of persistent aiosmtplib connections.

A batch is spread over the pool: each connection takes the next message as soon as it is
free, so a slow transaction never holds up the others. A connection is trusted only while
every reply has been clean: after a failed transaction it is reset with RSET, and on any
doubt (421, a 503 or another reply out of step, a reply nobody asked for, timeout,
disconnect, RSET refused) it is dropped and the next message opens a fresh one. Reusing a
session in an unknown state is how one error becomes a cascade of "503 sender already
specified"; and a 503 is never held against a message. Connections are also renewed every
`reconnect_every` messages, which spreads load across servers behind a balancer and bounds
any leak.

aiosmtplib sets each session up (connect, EHLO, STARTTLS, AUTH). When the server offers
PIPELINING (RFC 2920), the transactions then run over `smtp_pipeline.Channel`: MAIL, RCPT and
DATA in one write, and each body in one write with the next message's MAIL, RCPT and DATA,
so a message costs one write and one wait instead of four of each. Other servers get one
command at a time through aiosmtplib. Either way the envelope commands are written
directly: the addresses were validated by `rendering.mime`, so aiosmtplib's address parsing
would only repeat that work.

With a DKIM signer (`clippost.dkim`), every message of a batch is signed on its way to the
connections (`smtp_work.Work`); one that cannot be signed is not sent, and is retried.

Nothing here raises for a message: every outcome, including a server that is down, is a
result (Sent, Transient or Permanent).
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
from collections.abc import Callable, Sequence
from typing import Literal, cast

from aiosmtplib import SMTP, SMTPException, SMTPHeloError, SMTPResponseException

from clippost.dkim.signer import DkimSigner
from clippost.mail import Message, Permanent, SendResult, Sent, Transient
from clippost.transports.ratelimit import RateLimiter, Unlimited
from clippost.transports.smtp_pipeline import Channel, ChannelError, Reply, data_block
from clippost.transports.smtp_work import Item as _Item
from clippost.transports.smtp_work import Work as _Work

Security = Literal["starttls", "tls", "none"]
_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})")
# Basic reply codes that name the recipient (RFC 5321 4.2.3) when no enhanced code says more.
_RECIPIENT_CODES = frozenset({550, 551, 553})
_RCPT_OK = (250, 251)  # 251: not local, will forward
_NETWORK_ERRORS = (SMTPException, OSError, TimeoutError)


def classify_reply(code: int, text: str, *, to_sender: bool = False) -> SendResult:
    """An SMTP reply as a result: 2xx sent, 4xx try again, 5xx never (a bounce when it
    is about the recipient: 550, 551, 553 or an enhanced 5.1.x / 5.2.1).

    `to_sender`: the reply answers MAIL FROM. A refusal there is about our own sender
    address (unauthorised, unknown domain), never the reader's: it fails the message but
    must not suppress the reader's address.
    """
    reason = f"{code} {text}".strip()
    if 200 <= code < 300:
        return Sent(provider_id=text or None)
    if code < 500:
        return Transient(reason)
    return Permanent(reason, bounce=not to_sender and _is_bounce(code, text))


def _is_bounce(code: int, text: str) -> bool:
    enhanced = _ENHANCED.match(text)
    if enhanced is None:
        return code in _RECIPIENT_CODES
    subject, detail = enhanced.group(2), enhanced.group(3)
    return subject == "1" or (subject, detail) == ("2", "1")


class SmtpTransport:
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        security: Security,
        pool_size: int,
        timeout: float,
        reconnect_every: int,
        validate_certs: bool,
        limiter: RateLimiter | None = None,
        tls_context: ssl.SSLContext | None = None,
        pipelining: bool = True,
        signer: DkimSigner | None = None,
    ) -> None:
        if pool_size < 1 or reconnect_every < 1:
            raise ValueError("pool_size and reconnect_every must be at least 1")
        self._new_client: Callable[[], SMTP] = functools.partial(
            SMTP,
            hostname=host,
            port=port,
            username=username,
            password=password if username else None,
            timeout=timeout,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            validate_certs=validate_certs,
            tls_context=tls_context,
        )
        self.pool_size = pool_size
        self.reconnect_every = reconnect_every
        self.timeout = timeout
        self.pipelining = pipelining
        self._limiter = limiter or Unlimited()
        self._signer = signer  # DKIM: every message is signed, or not sent
        self._pool: asyncio.Queue[_Session] | None = None

    @property
    def signer(self) -> DkimSigner | None:
        """The DKIM signer every message is signed with, if any."""
        return self._signer

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        pool = self._sessions()
        work = _Work(messages, self._limiter, self._signer)
        lanes = min(self.pool_size, len(messages))
        try:
            await asyncio.gather(*(self._lane(pool, work) for _ in range(lanes)))
        finally:
            work.close()
        # Whatever is left was never tried: every lane found the server unreachable.
        unreachable = Transient("not attempted: the SMTP server is unreachable")
        return [unreachable if result is None else result for result in work.results]

    async def close(self) -> None:
        if self._signer is not None:
            await self._signer.close()
        if self._pool is None:
            return
        while not self._pool.empty():
            await self._pool.get_nowait().drop(polite=True)

    def _sessions(self) -> asyncio.Queue[_Session]:
        if self._pool is None:
            self._pool = asyncio.Queue()
            for _ in range(self.pool_size):
                session = _Session(
                    self._new_client,
                    self.reconnect_every,
                    timeout=self.timeout,
                    pipelining=self.pipelining,
                )
                self._pool.put_nowait(session)
        return self._pool

    async def _lane(self, pool: asyncio.Queue[_Session], work: _Work) -> None:
        """One connection working through the shared queue until it is empty, or until
        the server cannot be reached (then the others, or the next batch, try again)."""
        session = await pool.get()
        try:
            await session.send_from(work)
        finally:
            pool.put_nowait(session)


class _Session:
    """One connection, opened lazily, renewed when in doubt."""

    def __init__(
        self,
        new_client: Callable[[], SMTP],
        reconnect_every: int,
        *,
        timeout: float,
        pipelining: bool,
    ) -> None:
        self._new_client = new_client
        self._reconnect_every = reconnect_every
        self._timeout = timeout
        self._pipelining = pipelining
        self._client: SMTP | None = None
        self._channel: Channel | None = None
        self._used = 0
        self.last_error = ""

    async def send_from(self, work: _Work) -> None:
        """Send the work's messages until none is left or the server cannot be reached."""
        try:
            await self._send_from(work)
        except BaseException:
            # Interrupted mid-transaction (cancelled at shutdown, a rate limiter that
            # failed): the server may be waiting for a body, and a session reused now could
            # hand it the next message's commands and body as this one's. Never reused.
            self._abandon()
            raise

    async def _send_from(self, work: _Work) -> None:
        item = await work.take()
        while item is not None:
            client = await self._ready()
            if client is None:
                work.done(item, Transient(f"cannot connect to the SMTP server: {self.last_error}"))
                return
            if self._channel is not None:
                item = await self._pipeline(self._channel, item, work)
                continue
            self._used += 1
            work.done(item, await self._deliver_serial(client, item))
            item = await work.take()

    async def _deliver_serial(self, client: SMTP, item: _Item) -> SendResult:
        """One command, one reply: for servers that do not offer PIPELINING."""
        try:
            reply = await client.execute_command(b"MAIL", b"FROM:<%b>" % item.mail_from)
            to_sender = reply.code != 250
            if not to_sender:
                reply = await client.execute_command(b"RCPT", b"TO:<%b>" % item.rcpt_to)
                if reply.code in _RCPT_OK:
                    response = await client.data(item.wire)
                    return classify_reply(response.code, response.message)
        except SMTPResponseException as exc:
            code, text, to_sender = exc.code, exc.message, False
        except _NETWORK_ERRORS as exc:
            await self.drop()
            return Transient(f"SMTP connection failed: {_describe(exc)}")
        else:
            code, text = reply.code, reply.message
        if _out_of_step(code):
            await self.drop()
            return Transient(f"unexpected SMTP reply: {code} {text}")
        await self._recover(code)
        return classify_reply(code, text, to_sender=to_sender)

    async def _pipeline(self, channel: Channel, item: _Item, work: _Work) -> _Item | None:
        """Send `item`, then the messages after it, over one pipelined connection (RFC
        2920); return the next message to send on a fresh connection, or None if none is
        left.

        MAIL, RCPT and DATA go in one write. Once all three are accepted, the body goes in
        the next write together with the next message's MAIL, RCPT and DATA: one write and
        one wait a message. The reply to the body is read first and decides that message;
        whatever it says, the transaction is over (RFC 5321 4.1.1.4), so the next one, its
        envelope already sent, starts clean. Only 421, a reply out of step or a broken
        connection end the run: the connection is dropped, and the next message, whose body
        never left, is sent on a new one. Each time that happens another message has got
        its result, so a server that keeps failing cannot keep a message going round.
        """
        self._used += 1
        try:
            replies = await channel.exchange(item.envelope, 3)
        except ChannelError as exc:
            await self.drop()
            work.done(item, _connection_failed(exc))
            return await work.take()
        while True:
            refused = _first_refusal(replies)
            if refused is not None:
                work.done(item, await self._refused(channel, refused, replies))
                return await work.take()
            carry = work.takes_at_once and self._used < self._reconnect_every
            following = await work.take() if carry else None
            # Built by build_mime in smtp_work.Work.take: CRLF lines only (see data_block).
            body = data_block(item.wire, canonical=True)
            try:
                await channel.send(body if following is None else body + following.envelope)
                (final,) = await channel.read(1)
            except ChannelError as exc:
                await self.drop()
                work.done(item, _connection_failed(exc))
                return following if following is not None else await work.take()
            if not 200 <= final.code < 300 and (
                following is None or final.code == 421 or _out_of_step(final.code)
            ):
                work.done(item, await self._refused(channel, final, [final]))
                if self._channel is None and following is not None:
                    return following  # its body never left: it goes on a new connection
                # Refused, still in step, and nothing sent after it: RSET was the answer.
                return await work.take()
            work.done(item, classify_reply(final.code, final.text))
            if following is None:
                return await work.take()
            item = following
            self._used += 1
            try:
                replies = await channel.read(3)
            except ChannelError:
                # The previous message has its result; this one never sent its body, so
                # it goes again, once, on a new connection (there, a failure is its own).
                await self.drop()
                return item

    async def _refused(self, channel: Channel, refused: Reply, replies: list[Reply]) -> SendResult:
        """The result of a refused pipelined transaction, after putting the session right."""
        if _out_of_step(refused.code):
            await self.drop()
            return Transient(f"unexpected SMTP reply: {refused.code} {refused.text}")
        await self._recover_pipelined(channel, replies)
        to_sender = len(replies) == 3 and refused is replies[0]  # MAIL FROM's own reply
        return classify_reply(refused.code, refused.text, to_sender=to_sender)

    async def _recover_pipelined(self, channel: Channel, replies: list[Reply]) -> None:
        """After a refused pipelined transaction: RSET, or a fresh connection when the
        server is closing (421) or waits for a body that will not come (354 to DATA
        after a refused MAIL or RCPT)."""
        if any(reply.code in (421, 354) for reply in replies):
            await self.drop()
            return
        try:
            (reply,) = await channel.exchange(b"RSET\r\n", 1)
        except ChannelError:
            reply = None
        if reply is None or reply.code != 250:
            await self.drop()

    async def _ready(self) -> SMTP | None:
        client = self._client
        if client is not None and self._healthy(client) and self._used < self._reconnect_every:
            return client
        await self.drop(polite=client is not None and self._healthy(client))
        client = self._new_client()
        try:
            await client.connect()
            if client.is_ehlo_or_helo_needed:
                await _greet(client)
        except _NETWORK_ERRORS as exc:
            # Auth and TLS refusals land here too: they are configuration, fixed by the
            # operator while the outbox retries, so they must not fail mail permanently.
            self.last_error = _describe(exc)
            client.close()
            return None
        self._client, self._used = client, 0
        if self._pipelining and client.supports_extension("pipelining"):
            # From here on the transaction phase is ours; aiosmtplib set the session up.
            transport = cast(asyncio.Transport, client.transport)
            self._channel = Channel(transport, timeout=self._timeout)
        return client

    def _healthy(self, client: SMTP) -> bool:
        channel = self._channel
        return client.is_connected and (channel is None or channel.usable)

    async def _recover(self, code: int) -> None:
        """After a refused transaction: RSET, or a fresh connection when in any doubt."""
        client = self._client
        if code == 421 or client is None or not client.is_connected:
            await self.drop()
            return
        try:
            await client.rset()
        except _NETWORK_ERRORS:
            await self.drop()

    def _abandon(self) -> None:
        """Close the connection at once, without QUIT."""
        client, self._client = self._client, None
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        if client is not None:
            client.close()

    async def drop(self, *, polite: bool = False) -> None:
        client, self._client = self._client, None
        channel, self._channel = self._channel, None
        if client is None:
            return
        if polite:
            try:
                if channel is None:
                    await client.quit()
                    return
                await channel.exchange(b"QUIT\r\n", 1)
            except (*_NETWORK_ERRORS, ChannelError):
                pass
        if channel is not None:
            channel.close()
        client.close()


def _first_refusal(replies: list[Reply]) -> Reply | None:
    """The first of MAIL, RCPT and DATA's replies that is not the expected one: after a
    refused MAIL the server answers RCPT and DATA with 503s, which say nothing about the
    message."""
    mail, rcpt, data = replies
    if mail.code != 250:
        return mail
    if rcpt.code not in _RCPT_OK:
        return rcpt
    return None if data.code == 354 else data


def _connection_failed(exc: ChannelError) -> Transient:
    return Transient(f"SMTP connection failed: {exc}")


def _out_of_step(code: int) -> bool:
    """A reply that says the session, not the message, is wrong: a positive reply where
    none fits, or 503 "bad sequence of commands" (such as "sender already specified").
    Judging the message by it would fail good mail; the connection is dropped instead
    and the message tried again later."""
    return code < 400 or code == 503


async def _greet(client: SMTP) -> None:
    """EHLO (HELO for a server that refuses it), when connect() did not need to."""
    try:
        await client.ehlo()
    except SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
