"""Real keys, certificates and servers for the bounce tests.

- A test CA (made here with `cryptography`) issues an SNS-like signing certificate and the
  TLS certificate of a local HTTPS server that serves it (and answers SubscribeURLs), so
  SNS messages are signed and verified for real, end to end over TLS.
- SendGrid's signed event webhook: an ECDSA P-256 key pair of the tests' own.
- The web app on a real database, with the SNS fetcher pointed at the local server: the web
  tests' fixtures are loaded by path (a conftest cannot import another under importlib).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import ssl
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from clippost.app import create_app
from clippost.bounces.sns import SnsFetcher, SnsMessage, string_to_sign
from clippost.config import Settings

_path = Path(__file__).resolve().parent.parent / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("_clippost_web_fixtures", _path)
assert _spec is not None
assert _spec.loader is not None
_web = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _web  # its dataclasses look their module up there
_spec.loader.exec_module(_web)

web_settings = _web.web_settings
Web = _web.Web

FIXTURES = Path(__file__).parent / "fixtures"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:clippost-ses"
CERT_PATH = "/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
CERT_URL = f"https://sns.eu-west-1.amazonaws.com{CERT_PATH}"
ORIGINAL_ID = "<0f3c9a1e5b7d4c2a8e6f1b3d5a7c9e0f@clippost.test>"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    ca: bool = False,
    ip: str | None = None,
    days: int = 30,
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name = issuer[0].subject if issuer else _name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip is not None:
        names = [x509.IPAddress(IPv4Address(ip)), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    signer = issuer[1] if issuer else key
    return builder.sign(signer, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class Pki:
    """A test CA, an SNS signing certificate it issued, and a TLS server certificate."""

    folder: Path
    signing_key: rsa.RSAPrivateKey
    signing_pem: bytes
    other_key: rsa.RSAPrivateKey  # a key SNS never used: signatures by it must fail
    ca_file: Path
    server_cert: Path
    server_key: Path
    expired_pem: bytes

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, signing_key, server_key = _rsa(), _rsa(), _rsa()
    ca = _certificate("clippost test CA", ca_key, None, ca=True)
    signing = _certificate("sns.amazonaws.com", signing_key, (ca, ca_key))
    expired = _certificate("sns.amazonaws.com", signing_key, (ca, ca_key), days=-1)
    server = _certificate("127.0.0.1", server_key, (ca, ca_key), ip="127.0.0.1")
    (folder / "ca.pem").write_bytes(_pem(ca))
    (folder / "server.pem").write_bytes(_pem(server))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return Pki(
        folder=folder,
        signing_key=signing_key,
        signing_pem=_pem(signing),
        other_key=_rsa(),
        ca_file=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        expired_pem=_pem(expired),
    )


@dataclass
class CertServer:
    """A local HTTPS server: serves `files` by path and records every request."""

    url: str
    files: dict[str, bytes]
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def cert_server(pki: Pki) -> Iterator[CertServer]:
    served = CertServer(url="", files={CERT_PATH: pki.signing_pem})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            path = self.path.split("?", 1)[0]
            body = served.files.get(path)
            if path == "/" and "Action=ConfirmSubscription" in self.path:
                body = b"<ConfirmSubscriptionResponse/>"
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = pki.server_context().wrap_socket(server.socket, server_side=True)
    # shutdown() waits for the serving loop to look at its flag, every poll_interval (0.5 s
    # by default: half a second of every test's teardown).
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    served.url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def fetcher(pki: Pki, cert_server: CertServer) -> AsyncIterator[SnsFetcher]:
    """An SNS fetcher whose requests go to the local HTTPS server (the test CA trusted)."""
    fetcher = SnsFetcher(base=cert_server.url, verify=pki.client_context())
    yield fetcher
    await fetcher.aclose()


def sns_envelope(
    key: rsa.RSAPrivateKey,
    *,
    message: str,
    kind: str = "Notification",
    topic: str = TOPIC,
    version: str = "1",
    cert_url: str = CERT_URL,
    message_id: str = "7a5d3c1e-0000-4000-8000-000000000001",
    **extra: str,
) -> dict[str, str]:
    """An SNS message as SNS posts it, signed with `key` (SHA1 for version 1, SHA256 for 2)."""
    fields = {
        "Type": kind,
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": message,
        "Timestamp": "2026-12-14T07:00:30.123Z",
        "SignatureVersion": version,
        "SigningCertURL": cert_url,
        **extra,
    }
    # SignatureVersion 1 is SHA1withRSA: SNS's definition, not a choice made here.
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    signed = key.sign(string_to_sign(SnsMessage(fields)), padding.PKCS1v15(), algorithm)
    fields["Signature"] = base64.b64encode(signed).decode()
    return fields


def ses_bounce(
    *,
    message_id: str,
    recipient: str = "gone@example.org",
    bounce_type: str = "Permanent",
    feedback_id: str = "0102017f-bounce-0001",
    provider_id: str = "0102017f-ses-message-0001",
) -> str:
    """An SES bounce notification, as SES publishes it to SNS (the `Message` string)."""
    return json.dumps(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": "2026-12-14T07:00:29.000Z",
                "feedbackId": feedback_id,
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            },
            "mail": {
                "timestamp": "2026-12-14T07:00:28.000Z",
                "source": "news@clippost.test",
                "messageId": provider_id,
                "destination": [recipient],
                "headersTruncated": False,
                "commonHeaders": {"messageId": message_id, "subject": "Your highlights"},
            },
        }
    )


@dataclass
class SendgridSigner:
    key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> str:
        """As SendGrid's settings page shows it: base64 of the DER SubjectPublicKeyInfo."""
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, *, at: datetime | None = None) -> dict[str, str]:
        timestamp = str(int((at or datetime.now(UTC)).timestamp()))
        signature = self.key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            "Content-Type": "application/json",
        }


@pytest.fixture(scope="session")
def sendgrid_signer() -> SendgridSigner:
    return SendgridSigner(ec.generate_private_key(ec.SECP256R1()))


class open_webhooks(_web.open_web):  # type: ignore[name-defined,misc]
    """The web tests' app opener, with the SNS fetcher given to create_app."""

    def __init__(self, settings: Settings, *, fetcher: SnsFetcher | None = None) -> None:
        self.settings = settings
        self.app = create_app(settings, sns_fetcher=fetcher)


@pytest.fixture
async def hooks(
    web_settings: Settings, fetcher: SnsFetcher, sendgrid_signer: SendgridSigner
) -> AsyncIterator[Any]:
    """The app with all three webhooks configured, on SQLite and on PostgreSQL."""
    settings = web_settings.model_copy(
        update={
            "ses_sns_topic_arns": [TOPIC],
            "postmark_webhook_username": "postmark",
            "postmark_webhook_password": SecretStr("hook-secret-0123456789"),
            "sendgrid_webhook_public_key": sendgrid_signer.public_key,
            "parse_processes": 0,  # no process pool per test: uploads parse in a thread
        }
    )
    async with open_webhooks(settings, fetcher=fetcher) as web:
        yield web
