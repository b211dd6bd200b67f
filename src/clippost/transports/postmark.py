"""Postmark: `POST /email/batch`, up to 500 messages a request, a result for each.

Postmark builds the MIME itself from the parts given here; our Message-ID and custom
headers travel in `Headers`, with values made safe by the same code build_mime uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from clippost.mail import Message, Permanent, SendResult, Sent, Transient
from clippost.rendering.headers import (
    check_address,
    check_field_name,
    check_message_id,
    clean,
    quoted_mailbox,
)
from clippost.rendering.mime import refusal
from clippost.transports.http import (
    NETWORK_ERRORS,
    LazyClient,
    classify_status,
    json_object,
    network_failure,
)
from clippost.transports.ratelimit import RateLimiter, Unlimited

BATCH_LIMIT = 500
# ErrorCode values (postmarkapp.com/developer/api/overview#error-codes).
INACTIVE_RECIPIENT, INVALID_REQUEST = 406, 300
# About the account or server, not the message: retry while the operator fixes it.
_ACCOUNT = frozenset({10, 100, 400, 401, 405, 412, 413, 429})


def classify_error_code(code: int, text: str) -> SendResult:
    """A Postmark ErrorCode as a result. 300 ("invalid email request") is a bounce only
    when it names the recipient: the same code for an unverified From address would
    otherwise suppress every reader in the batch."""
    if code == 0:
        return Sent()
    reason = f"Postmark error {code}: {text}"
    if code == INACTIVE_RECIPIENT:
        return Permanent(reason, bounce=True)
    if code == INVALID_REQUEST:
        return Permanent(reason, bounce=_names_recipient(text))
    if code in _ACCOUNT:
        return Transient(reason)
    return Permanent(reason)


def _names_recipient(text: str) -> bool:
    lowered = text.lower()
    return "'to'" in lowered or "recipient" in lowered


class PostmarkTransport:
    name = "postmark"

    def __init__(
        self,
        *,
        server_token: str,
        endpoint: str,
        message_stream: str,
        timeout: float,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._token = server_token
        self._stream = message_stream
        self._http = LazyClient(endpoint, timeout)
        self._limiter = limiter or Unlimited()

    async def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        results: list[SendResult] = []
        for start in range(0, len(messages), BATCH_LIMIT):
            results.extend(await self._send_batch(messages[start : start + BATCH_LIMIT]))
        return results

    async def close(self) -> None:
        await self._http.close()

    async def _send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        payload: list[dict[str, Any]] = []
        positions: list[int] = []
        for index, message in enumerate(messages):
            try:
                payload.append(self._payload(message))
                positions.append(index)
            except ValueError as exc:
                results[index] = refusal(exc, message)
        if payload:
            for index, result in zip(positions, await self._post(payload), strict=True):
                results[index] = result
        return [r if r is not None else Transient("no result from Postmark") for r in results]

    async def _post(self, payload: list[dict[str, Any]]) -> list[SendResult]:
        await self._limiter.acquire(len(payload))
        headers = {"X-Postmark-Server-Token": self._token, "Accept": "application/json"}
        try:
            response = await self._http.get().post("/email/batch", json=payload, headers=headers)
        except NETWORK_ERRORS as exc:
            return [network_failure(exc)] * len(payload)
        if response.status_code == 200:
            return self._per_message(_json_list(response), len(payload))
        body = json_object(response)
        if response.status_code == 422 and "ErrorCode" in body:
            # The whole request was refused for one reason: about the request, so never a
            # bounce of every reader in it.
            result = classify_error_code(int(body["ErrorCode"]), str(body.get("Message", "")))
            if isinstance(result, Permanent):
                result = Permanent(result.reason, bounce=False)
            return [result] * len(payload)
        return [classify_status(response, str(body.get("Message", "")))] * len(payload)

    def _per_message(self, answers: list[Any], expected: int) -> list[SendResult]:
        if len(answers) != expected or not all(isinstance(a, dict) for a in answers):
            return [Transient("Postmark answered a batch with the wrong number of results")] * (
                expected
            )
        results: list[SendResult] = []
        for answer in answers:
            result = classify_error_code(
                int(answer.get("ErrorCode", -1)), answer.get("Message", "")
            )
            results.append(Sent(answer.get("MessageID")) if isinstance(result, Sent) else result)
        return results

    def _payload(self, message: Message) -> dict[str, Any]:
        headers = [{"Name": "Message-ID", "Value": check_message_id(message.message_id)}]
        headers += [
            {"Name": check_field_name(name), "Value": clean(value)}
            for name, value in message.headers.items()
        ]
        return {
            "From": quoted_mailbox(message.from_name, message.from_address),
            "To": check_address(message.to),
            "Subject": clean(message.subject),
            "TextBody": message.text,
            "HtmlBody": message.html,
            "Headers": headers,
            "MessageStream": self._stream,
        }


def _json_list(response: httpx.Response) -> list[Any]:
    try:
        body = response.json()
    except ValueError:
        return []
    return body if isinstance(body, list) else []
