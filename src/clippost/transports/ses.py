"""Amazon SES v2: the raw MIME from build_mime, signed with AWS Signature Version 4.

Sending raw MIME passes our Message-ID, List-Unsubscribe and every other header as built.
(SES documents that it may replace the Message-ID with one of its own; the id it returns is
kept as provider_id.) SES has no batch endpoint for raw messages, so a batch is sent as
concurrent requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from clippost.mail import Message, SendResult, Sent, Transient
from clippost.rendering.mime import build_mime, refusal
from clippost.transports.http import (
    NETWORK_ERRORS,
    LazyClient,
    OneRequestEach,
    classify_status,
    json_object,
    network_failure,
    retry_after,
)
from clippost.transports.ratelimit import RateLimiter, Unlimited

PATH = "/v2/email/outbound-emails"
# 400s that are about the account or its sending rate, not the message: retry later.
_ACCOUNT_ERRORS = (
    "TooManyRequestsException",
    "LimitExceededException",
    "SendingPausedException",
    "AccountSuspendedException",
)


def sign_v4(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The request headers plus Host, X-Amz-Date and Authorization (SigV4, every given
    header signed). Query strings are not used by SES v2 and are not supported here."""
    parts = urlsplit(url)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed |= {"host": parts.netloc, "x-amz-date": stamp}
    names = ";".join(sorted(signed))
    canonical = "\n".join(
        [
            method,
            quote(parts.path or "/", safe="/-_.~"),
            "",
            "".join(f"{name}:{signed[name]}\n" for name in sorted(signed)),
            names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{_sha256(canonical)}"
    key = _signing_key(secret_key, stamp[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return {**headers, "Host": parts.netloc, "X-Amz-Date": stamp, "Authorization": authorization}


def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SesTransport(OneRequestEach):
    name = "ses"

    def __init__(
        self,
        *,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        endpoint: str | None,
        configuration_set: str | None,
        timeout: float,
        concurrency: int = 16,
        limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.region = region
        self._keys = (access_key_id, secret_access_key)
        self._http = LazyClient(endpoint or f"https://email.{region}.amazonaws.com", timeout)
        self._configuration_set = configuration_set
        self._concurrency = concurrency
        self._limiter = limiter or Unlimited()
        self._clock = clock

    async def _send_one(self, message: Message) -> SendResult:
        try:
            raw = build_mime(message)
        except ValueError as exc:
            return refusal(exc, message)
        body = json.dumps(self._payload(message, raw)).encode()
        url = self._http.base_url + PATH
        headers = sign_v4(
            method="POST",
            url=url,
            headers={"Content-Type": "application/json"},
            body=body,
            access_key=self._keys[0],
            secret_key=self._keys[1],
            region=self.region,
            service="ses",
            now=self._clock(),
        )
        await self._limiter.acquire()
        try:
            response = await self._http.get().post(PATH, content=body, headers=headers)
        except NETWORK_ERRORS as exc:
            return network_failure(exc)
        if response.status_code == 200:
            return Sent(provider_id=json_object(response).get("MessageId"))
        error_type = response.headers.get("x-amzn-errortype", "")
        detail = f"{error_type} {response.text[:300]}".strip()
        if response.status_code == 400 and error_type.startswith(_ACCOUNT_ERRORS):
            return Transient(detail, retry_after=retry_after(response.headers))
        return classify_status(response, detail)

    def _payload(self, message: Message, raw: bytes) -> dict[str, object]:
        payload: dict[str, object] = {
            "FromEmailAddress": message.from_address,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Raw": {"Data": base64.b64encode(raw).decode("ascii")}},
        }
        if self._configuration_set:
            payload["ConfigurationSetName"] = self._configuration_set
        return payload
