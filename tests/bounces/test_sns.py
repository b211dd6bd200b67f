"""SNS messages are verified for real: test CA, signing certificate, local HTTPS server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from clippost.bounces.sns import (
    SnsFetcher,
    SnsRefused,
    SnsUnavailable,
    check_sns_url,
    parse_message,
    verify,
)
from clippost.errors import BadInput

from .conftest import CERT_PATH, CERT_URL, TOPIC, CertServer, Pki, sns_envelope

NOW = datetime.now(UTC)


def _parsed(fields: dict[str, str]) -> Any:
    return parse_message(json.dumps(fields).encode())


class TestSnsUrls:
    @pytest.mark.parametrize(
        "url",
        [
            CERT_URL,
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
        ],
    )
    def test_sns_certificate_urls_pass(self, url: str) -> None:
        """https URLs on an SNS host, ending in .pem, are accepted."""
        assert check_sns_url(url, certificate=True) == url

    @pytest.mark.parametrize(
        "url",
        [
            "http://sns.eu-west-1.amazonaws.com/cert.pem",
            "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
            "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
            "https://s3.amazonaws.com/cert.pem",
            "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
            "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
            "https://sns.eu-west-1.amazonaws.com/cert.txt",
            "https://sns.eu-west-1.amazonaws.com/cert.pem?redirect=evil",
            "https://127.0.0.1/cert.pem",
            "",
        ],
    )
    def test_anything_else_is_refused(self, url: str) -> None:
        """Other schemes, hosts, ports, credentials and paths are refused."""
        with pytest.raises(SnsRefused):
            check_sns_url(url, certificate=True)


class TestParse:
    @pytest.mark.parametrize(
        "body", [b"not json", b"[]", b'{"Type": "Other"}', b'{"Type": "Notification"}']
    )
    def test_not_an_sns_message(self, body: bytes) -> None:
        """Bodies that are not SNS messages are bad input (400), read no further."""
        with pytest.raises(BadInput):
            parse_message(body)


class TestSignature:
    @pytest.mark.parametrize("version", ["1", "2"])
    async def test_a_signed_message_verifies(
        self, pki: Pki, fetcher: SnsFetcher, cert_server: CertServer, version: str
    ) -> None:
        """SignatureVersion 1 (SHA1) and 2 (SHA256) verify against the fetched certificate."""
        message = _parsed(sns_envelope(pki.signing_key, message="{}", version=version))
        await verify(message, fetcher, topics=[TOPIC], now=NOW)
        assert cert_server.requests == [CERT_PATH]

    @pytest.mark.parametrize("field", ["Message", "MessageId", "Timestamp", "Subject"])
    async def test_an_altered_message_is_refused(
        self, pki: Pki, fetcher: SnsFetcher, field: str
    ) -> None:
        """Changing (or adding) any signed field after signing breaks the signature."""
        fields = sns_envelope(pki.signing_key, message='{"a": 1}')
        fields[field] = fields.get(field, "") + "x"
        with pytest.raises(SnsRefused, match="signature"):
            await verify(_parsed(fields), fetcher, topics=[TOPIC], now=NOW)

    async def test_another_key_is_refused(self, pki: Pki, fetcher: SnsFetcher) -> None:
        """A message signed by any key but the certificate's is refused."""
        message = _parsed(sns_envelope(pki.other_key, message="{}"))
        with pytest.raises(SnsRefused, match="signature"):
            await verify(message, fetcher, topics=[TOPIC], now=NOW)

    async def test_an_unknown_topic_costs_no_fetch(
        self, pki: Pki, fetcher: SnsFetcher, cert_server: CertServer
    ) -> None:
        """A message for a topic not configured is refused before any certificate fetch."""
        message = _parsed(sns_envelope(pki.signing_key, message="{}", topic=TOPIC + "-other"))
        with pytest.raises(SnsRefused, match="topic"):
            await verify(message, fetcher, topics=[TOPIC], now=NOW)
        assert cert_server.requests == []

    async def test_a_foreign_certificate_url_is_never_fetched(
        self, pki: Pki, fetcher: SnsFetcher, cert_server: CertServer
    ) -> None:
        """A SigningCertURL off the SNS pattern (even the test server's own) is refused
        without any request."""
        for url in (cert_server.url + CERT_PATH, "https://evil.example/cert.pem"):
            message = _parsed(sns_envelope(pki.signing_key, message="{}", cert_url=url))
            with pytest.raises(SnsRefused, match="not Amazon SNS"):
                await verify(message, fetcher, topics=[TOPIC], now=NOW)
        assert cert_server.requests == []
        assert fetcher.fetches == 0

    @pytest.mark.parametrize(("version", "signature"), [("3", "AAAA"), ("1", "not base64!")])
    async def test_malformed_signatures_are_refused(
        self, pki: Pki, fetcher: SnsFetcher, version: str, signature: str
    ) -> None:
        """An unknown SignatureVersion or a signature that is not base64 is refused."""
        fields = sns_envelope(pki.signing_key, message="{}")
        fields.update(SignatureVersion=version, Signature=signature)
        with pytest.raises(SnsRefused):
            await verify(_parsed(fields), fetcher, topics=[TOPIC], now=NOW)

    async def test_an_expired_certificate_is_refused(
        self, pki: Pki, fetcher: SnsFetcher, cert_server: CertServer
    ) -> None:
        """A certificate outside its validity dates verifies nothing."""
        cert_server.files[CERT_PATH] = pki.expired_pem
        message = _parsed(sns_envelope(pki.signing_key, message="{}"))
        with pytest.raises(SnsRefused, match="not valid now"):
            await verify(message, fetcher, topics=[TOPIC], now=NOW)

    async def test_an_unreachable_certificate_is_a_retry(
        self, pki: Pki, fetcher: SnsFetcher, cert_server: CertServer
    ) -> None:
        """A certificate the host does not serve is 502 (SNS retries), not a verdict."""
        del cert_server.files[CERT_PATH]
        message = _parsed(sns_envelope(pki.signing_key, message="{}"))
        with pytest.raises(SnsUnavailable):
            await verify(message, fetcher, topics=[TOPIC], now=NOW)


class TestCertificateCache:
    async def test_a_certificate_is_fetched_once(
        self, pki: Pki, fetcher: SnsFetcher, cert_server: CertServer
    ) -> None:
        """Many messages naming one certificate URL cost one request."""
        for number in range(5):
            fields = sns_envelope(pki.signing_key, message="{}", message_id=f"id-{number}")
            await verify(_parsed(fields), fetcher, topics=[TOPIC], now=NOW)
        assert cert_server.requests == [CERT_PATH]


class TestConfirm:
    async def test_the_subscribe_url_is_visited(
        self, fetcher: SnsFetcher, cert_server: CertServer
    ) -> None:
        """Confirming requests the SubscribeURL (path and query) from the SNS host."""
        url = (
            "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e2425c464de"
        )
        await fetcher.confirm(url)
        assert cert_server.requests == [url.removeprefix("https://sns.eu-west-1.amazonaws.com")]

    async def test_a_foreign_subscribe_url_is_never_visited(
        self, fetcher: SnsFetcher, cert_server: CertServer
    ) -> None:
        """A SubscribeURL off the SNS pattern is refused without a request."""
        with pytest.raises(SnsRefused):
            await fetcher.confirm("https://evil.example/?Action=ConfirmSubscription")
        assert cert_server.requests == []
