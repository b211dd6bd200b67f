"""SendGrid: `POST /v3/mail/send`, one request per message (202 means accepted).

One request per message keeps every result separate: a personalizations batch is accepted
or refused as a whole. Our Message-ID and custom headers travel in `headers`.
"""

from __future__ import annotations

from typing import Any

from clippost.mail import Message, SendResult, Sent
from clippost.rendering.headers import check_address, check_field_name, check_message_id, clean
from clippost.rendering.mime import refusal
from clippost.transports.http import (
    NETWORK_ERRORS,
    LazyClient,
    OneRequestEach,
    classify_status,
    network_failure,
)
from clippost.transports.ratelimit import RateLimiter, Unlimited


class SendgridTransport(OneRequestEach):
    name = "sendgrid"

    def __init__(
        self,
        *,
        api_key: str,
        endpoint: str,
        timeout: float,
        concurrency: int = 16,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._key = api_key
        self._http = LazyClient(endpoint, timeout)
        self._concurrency = concurrency
        self._limiter = limiter or Unlimited()

    async def _send_one(self, message: Message) -> SendResult:
        try:
            payload = _payload(message)
        except ValueError as exc:
            return refusal(exc, message)
        await self._limiter.acquire()
        headers = {"Authorization": f"Bearer {self._key}"}
        try:
            response = await self._http.get().post("/v3/mail/send", json=payload, headers=headers)
        except NETWORK_ERRORS as exc:
            return network_failure(exc)
        if response.status_code in (200, 202):
            return Sent(provider_id=response.headers.get("x-message-id"))
        return classify_status(response, response.text[:300])


def _payload(message: Message) -> dict[str, Any]:
    sender: dict[str, str] = {"email": check_address(message.from_address)}
    if clean(message.from_name):
        sender["name"] = clean(message.from_name)
    headers = {"Message-ID": check_message_id(message.message_id)}
    headers |= {check_field_name(k): clean(v) for k, v in message.headers.items()}
    return {
        "personalizations": [{"to": [{"email": check_address(message.to)}]}],
        "from": sender,
        "subject": clean(message.subject),
        "content": [
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": message.html},
        ],
        "headers": headers,
    }
