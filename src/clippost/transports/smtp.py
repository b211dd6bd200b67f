"""SMTP over a pool of persistent aiosmtplib connections.

A batch is spread over the pool: each connection takes the next message as soon as it is
free, so a slow transaction never holds up the others. A connection is trusted only while
every reply has been clean: after a failed transaction it is reset with RSET, and on any
doubt (421, timeout, disconnect, RSET refused) it is dropped and the next message opens a
fresh one. Reusing a session in an unknown state is how one error becomes a cascade of
"503 sender already specified". Connections are also renewed every `reconnect_every`
messages, which spreads load across servers behind a balancer and bounds any leak.

Nothing here raises for a message: every outcome, including a server that is down, is a
result (Sent, Transient or Permanent).
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

from aiosmtplib import SMTP, SMTPException, SMTPResponseException

from clippost.rendering.mime import build_mime, refusal
from clippost.transports.base import Message, Permanent, SendResult, Sent, Transient
from clippost.transports.ratelimit import RateLimiter, Unlimited

Security = Literal["starttls", "tls", "none"]
_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})")
# Basic reply codes that name the recipient (RFC 5321 4.2.3) when no enhanced code says more.
_RECIPIENT_CODES = frozenset({550, 551, 553})
_NETWORK_ERRORS = (SMTPException, OSError, TimeoutError)


def classify_reply(code: int, text: str) -> SendResult:
    """An SMTP reply as a result: 2xx sent, 4xx try again, 5xx never (a bounce when it
    is about the recipient: 550, 551, 553 or an enhanced 5.1.x / 5.2.1)."""
    reason = f"{code} {text}".strip()
    if 200 <= code < 300:
        return Sent(provider_id=text or None)
    if code < 500:
        return Transient(reason)
    return Permanent(reason, bounce=_is_bounce(code, text))


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
        username: str | None = None,
        password: str | None = None,
        security: Security = "starttls",
        pool_size: int = 8,
        timeout: float = 30.0,
        reconnect_every: int = 1000,
        limiter: RateLimiter | None = None,
        tls_context: ssl.SSLContext | None = None,
        validate_certs: bool = True,
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
        self._limiter = limiter or Unlimited()
        self._pool: asyncio.Queue[_Session] | None = None

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        pool = self._sessions()
        results: list[SendResult | None] = [None] * len(messages)
        queue = deque(enumerate(messages))
        lanes = min(self.pool_size, len(messages))
        await asyncio.gather(*(self._lane(pool, queue, results) for _ in range(lanes)))
        # Whatever is left was never tried: every lane found the server unreachable.
        unreachable = Transient("not attempted: the SMTP server is unreachable")
        return [unreachable if result is None else result for result in results]

    async def close(self) -> None:
        if self._pool is None:
            return
        while not self._pool.empty():
            await self._pool.get_nowait().drop(polite=True)

    def _sessions(self) -> asyncio.Queue[_Session]:
        if self._pool is None:
            self._pool = asyncio.Queue()
            for _ in range(self.pool_size):
                self._pool.put_nowait(_Session(self._new_client, self.reconnect_every))
        return self._pool

    async def _lane(
        self,
        pool: asyncio.Queue[_Session],
        queue: deque[tuple[int, Message]],
        results: list[SendResult | None],
    ) -> None:
        """One connection working through the shared queue until it is empty, or until
        the server cannot be reached (then the others, or the next batch, try again)."""
        session = await pool.get()
        try:
            while queue:
                index, message = queue.popleft()
                results[index] = await self._send_one(session, message)
                if session.unreachable:
                    return
        finally:
            pool.put_nowait(session)

    async def _send_one(self, session: _Session, message: Message) -> SendResult:
        try:
            wire = build_mime(message)
        except ValueError as exc:
            return refusal(exc, message)
        await self._limiter.acquire()
        return await session.deliver(message.from_address, message.to, wire)


class _Session:
    """One connection, opened lazily, renewed when in doubt."""

    def __init__(self, new_client: Callable[[], SMTP], reconnect_every: int) -> None:
        self._new_client = new_client
        self._reconnect_every = reconnect_every
        self._client: SMTP | None = None
        self._used = 0
        self.unreachable = False
        self.last_error = ""

    async def deliver(self, sender: str, recipient: str, wire: bytes) -> SendResult:
        client = await self._ready()
        if client is None:
            return Transient(f"cannot connect to the SMTP server: {self.last_error}")
        self._used += 1
        try:
            await client.mail(sender)
            await client.rcpt(recipient)
            response = await client.data(wire)
        except SMTPResponseException as exc:
            await self._recover(exc.code)
            return classify_reply(exc.code, exc.message)
        except _NETWORK_ERRORS as exc:
            await self.drop()
            return Transient(f"SMTP connection failed: {_describe(exc)}")
        return classify_reply(response.code, response.message)

    async def _ready(self) -> SMTP | None:
        client = self._client
        if client is not None and client.is_connected and self._used < self._reconnect_every:
            return client
        await self.drop(polite=client is not None and client.is_connected)
        client = self._new_client()
        try:
            await client.connect()
        except _NETWORK_ERRORS as exc:
            # Auth and TLS refusals land here too: they are configuration, fixed by the
            # operator while the outbox retries, so they must not fail mail permanently.
            self.last_error = _describe(exc)
            self.unreachable = True
            client.close()
            return None
        self._client, self._used, self.unreachable = client, 0, False
        return client

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

    async def drop(self, *, polite: bool = False) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if polite:
            try:
                await client.quit()
                return
            except _NETWORK_ERRORS:
                pass
        client.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
