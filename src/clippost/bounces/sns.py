"""Amazon SNS messages: the envelope, its signature, and the one host it may send us to.

SNS signs every message it posts (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) with
the key of an X.509 certificate it names by URL. That URL comes inside the message, so it is
fetched only when it is an https URL on an SNS host (`sns.<region>.amazonaws.com`, `.cn` in
China) ending in `.pem`; the TLS connection to that host is what makes the certificate
Amazon's. Certificates are cached by URL (SNS changes the URL when it rotates one). The
SubscribeURL of a subscription confirmation is held to the same host rule before it is
fetched, so a forged message can never make clippost request anything else.

`SnsFetcher(base=...)` serves tests: the URL is still checked against the SNS pattern, then
its path is requested from `base` (a local HTTPS server with a test CA) instead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import ssl
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from clippost.bounces.posted import posted_json
from clippost.errors import BadInput, ClippostError

_NOT_SNS = "This is not an SNS notification or subscription message."
_SNS_HOST = re.compile(r"sns\.[a-z0-9-]{1,40}\.amazonaws\.com(\.cn)?")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
# The fields each message type signs, in the order SNS concatenates them.
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED["UnsubscribeConfirmation"] = _SIGNED["SubscriptionConfirmation"]
_REQUIRED = frozenset(
    {"Type", "TopicArn", "MessageId", "Message", "Timestamp"}
    | {"Signature", "SignatureVersion", "SigningCertURL"}
)
_MAX_CERTIFICATE = 64 * 1024
_CACHED = 32


class SnsRefused(ClippostError):
    """A message that is not provably from SNS for one of our topics: nothing is done."""

    status_code = 403


class SnsUnavailable(ClippostError):
    """SNS could not be reached to fetch a certificate or confirm: SNS will retry."""

    status_code = 502


@dataclass(frozen=True, slots=True)
class SnsMessage:
    fields: dict[str, str]

    @property
    def type(self) -> str:
        return self.fields["Type"]

    @property
    def topic_arn(self) -> str:
        return self.fields["TopicArn"]

    @property
    def message_id(self) -> str:
        return self.fields["MessageId"]

    @property
    def message(self) -> str:
        return self.fields["Message"]

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


def parse_message(body: bytes) -> SnsMessage:
    """The JSON envelope SNS posts; BadInput when it is not one (nothing else is read)."""
    data = posted_json(body, dict, refusal=_NOT_SNS)
    if data.get("Type") not in _SIGNED:
        raise BadInput(_NOT_SNS)
    fields = {key: value for key, value in data.items() if isinstance(value, str)}
    missing = sorted(_REQUIRED - fields.keys())
    if missing:
        raise BadInput(f"The SNS message lacks {', '.join(missing)}.")
    return SnsMessage(fields)


def string_to_sign(message: SnsMessage) -> bytes:
    """`name\\nvalue\\n` for each signed field present, in SNS's order."""
    parts = []
    for name in _SIGNED[message.type]:
        value = message.get(name)
        if value is not None:
            parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


def check_sns_url(url: str, *, certificate: bool) -> str:
    """`url` when it is an https URL on an SNS host (a `.pem` path for a certificate);
    SnsRefused otherwise, before anything is fetched."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if (
        parts.scheme != "https"
        or not _SNS_HOST.fullmatch(host)
        or parts.username is not None
        or parts.port not in (None, 443)
        or (certificate and (not parts.path.endswith(".pem") or parts.query))
    ):
        raise SnsRefused("The message points at a URL that is not Amazon SNS's.")
    return url


class SnsFetcher:
    """Fetches signing certificates (cached) and confirmation URLs, from SNS hosts only."""

    def __init__(
        self,
        *,
        base: str | None = None,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
    ) -> None:
        self._base = base.rstrip("/") if base else None
        self._client = httpx.AsyncClient(verify=verify, timeout=timeout, follow_redirects=False)
        self._keys: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._lock = asyncio.Lock()
        self.fetches = 0  # requests made: a cached certificate costs none

    async def public_key(self, url: str, *, now: datetime) -> rsa.RSAPublicKey:
        check_sns_url(url, certificate=True)
        async with self._lock:  # one fetch per new URL, however many messages wait on it
            key = self._keys.get(url)
            if key is None:
                key = _rsa_key(await self._get(url, limit=_MAX_CERTIFICATE), now=now)
                self._keys[url] = key
                while len(self._keys) > _CACHED:
                    self._keys.popitem(last=False)
            self._keys.move_to_end(url)
            return key

    async def confirm(self, subscribe_url: str) -> None:
        """Visit a subscription's SubscribeURL (an SNS host's), which confirms it."""
        check_sns_url(subscribe_url, certificate=False)
        await self._get(subscribe_url, limit=_MAX_CERTIFICATE)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get(self, url: str, *, limit: int) -> bytes:
        self.fetches += 1
        try:
            response = await self._client.get(self._target(url))
        except httpx.HTTPError as exc:
            raise SnsUnavailable(f"Amazon SNS could not be reached: {exc}") from exc
        if response.status_code != 200 or len(response.content) > limit:
            raise SnsUnavailable(f"Amazon SNS answered {response.status_code}.")
        return response.content

    def _target(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        return self._base + parts.path + (f"?{parts.query}" if parts.query else "")


def _rsa_key(pem: bytes, *, now: datetime) -> rsa.RSAPublicKey:
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise SnsRefused("The signing certificate cannot be read.") from exc
    if (
        not certificate.not_valid_before_utc
        <= now.astimezone(UTC)
        <= certificate.not_valid_after_utc
    ):
        raise SnsRefused("The signing certificate is not valid now.")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRefused("The signing certificate does not hold an RSA key.")
    return key


async def verify(
    message: SnsMessage, fetcher: SnsFetcher, *, topics: list[str], now: datetime
) -> None:
    """Raise SnsRefused unless the message is for one of `topics` and SNS signed it.

    The topic is checked first: a message for any other topic costs no fetch at all.
    """
    if message.topic_arn not in topics:
        raise SnsRefused("This SNS topic is not one clippost is configured to accept.")
    algorithm = _HASHES.get(message.fields["SignatureVersion"])
    if algorithm is None:
        raise SnsRefused("Unknown SNS SignatureVersion.")
    try:
        signature = base64.b64decode(message.fields["Signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnsRefused("The SNS signature is not base64.") from exc
    key = await fetcher.public_key(message.fields["SigningCertURL"], now=now)
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise SnsRefused("The SNS signature does not match the message.") from exc
