"""What the HTTP API transports share: one lazy httpx client, how a status reads, and the
sending of one message a request.

HTTP 429, 408 and 5xx, and every network error, are transient (the server's Retry-After is
kept); 401 and 403 are too, because bad credentials are the operator's to fix while the
outbox retries, not a reason to fail every queued message. Any other 4xx is permanent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from clippost.mail import Message, Permanent, SendResult, Transient

NETWORK_ERRORS = (httpx.TransportError,)
_CREDENTIALS = frozenset({401, 403})


class LazyClient:
    """One httpx.AsyncClient per transport, made on first use (inside the running loop)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def get(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds, from either of its forms (seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify_status(response: httpx.Response, detail: str) -> SendResult:
    """A non-success HTTP response as a result."""
    status = response.status_code
    reason = f"HTTP {status}: {detail}".strip()
    if status in (408, 429) or status >= 500:
        return Transient(reason, retry_after=retry_after(response.headers))
    if status in _CREDENTIALS:
        return Transient(f"{reason} (check the API credentials)")
    return Permanent(reason)


def network_failure(exc: Exception) -> Transient:
    return Transient(f"{type(exc).__name__}: {exc}".rstrip(": "))


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} when it is anything else."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def each_bounded(
    messages: Sequence[Message],
    send: Callable[[Message], Awaitable[SendResult]],
    concurrency: int,
) -> list[SendResult]:
    """Send messages one request each, at most `concurrency` requests in flight."""
    gate = asyncio.Semaphore(concurrency)

    async def one(message: Message) -> SendResult:
        async with gate:
            return await send(message)

    return list(await asyncio.gather(*(one(message) for message in messages)))


class OneRequestEach:
    """An HTTP API transport that sends each message in a request of its own, at most
    `_concurrency` in flight. The subclass makes `_http` and `_concurrency` and sends one."""

    _http: LazyClient
    _concurrency: int

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        return await each_bounded(messages, self._send_one, self._concurrency)

    async def close(self) -> None:
        await self._http.close()

    async def _send_one(self, message: Message) -> SendResult:
        raise NotImplementedError
