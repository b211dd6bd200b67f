"""SesTransport against a local SES v2 endpoint that checks the SigV4 signature."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clippost.mail import Message, Permanent, Sent, Transient
from clippost.transports.ses import SesTransport, sign_v4
from factories import transport_options

KEY_ID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


class TestSignV4:
    def sign(self, method: str) -> str:
        headers = sign_v4(
            method=method,
            url="https://example.amazonaws.com/",
            headers={},
            body=b"",
            access_key=KEY_ID,
            secret_key=SECRET,
            region="us-east-1",
            service="service",
            now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
        )
        return headers["Authorization"]

    def test_get_vanilla_vector(self) -> None:
        """The AWS SigV4 test suite's get-vanilla request signs to its published value."""
        assert self.sign("GET") == (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )

    def test_post_vanilla_vector(self) -> None:
        """The AWS SigV4 test suite's post-vanilla request signs to its published value."""
        assert self.sign("POST").endswith(
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        )


def ses_app(received: list[dict[str, Any]]) -> Starlette:
    """SES v2 SendEmail: verifies the signature, answers by recipient local part."""

    async def send(request: Request) -> Response:
        body = await request.body()
        stamp = request.headers["x-amz-date"]
        expected = sign_v4(
            method="POST",
            url=str(request.url),
            headers={"Content-Type": request.headers["content-type"]},
            body=body,
            access_key=KEY_ID,
            secret_key=SECRET,
            region="eu-west-1",
            service="ses",
            now=datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
        )["Authorization"]
        if request.headers.get("authorization") != expected:
            return JSONResponse({"message": "bad signature"}, status_code=403)
        payload = await request.json()
        to = payload["Destination"]["ToAddresses"][0]
        if to.startswith("throttle"):
            return JSONResponse({"message": "slow down"}, 429, {"Retry-After": "7"})
        if to.startswith("reject"):
            headers = {"x-amzn-ErrorType": "MessageRejected"}
            return JSONResponse({"message": "Email address is not verified."}, 400, headers)
        if to.startswith("paused"):
            headers = {"x-amzn-ErrorType": "SendingPausedException"}
            return JSONResponse({"message": "sending paused"}, 400, headers)
        if to.startswith("boom"):
            return Response("internal", status_code=500)
        received.append(payload)
        return JSONResponse({"MessageId": f"ses-{len(received)}"})

    return Starlette(routes=[Route("/v2/email/outbound-emails", send, methods=["POST"])])


def transport(url: str, secret: str = SECRET) -> SesTransport:
    return SesTransport(
        **transport_options(
            "ses_", region="eu-west-1", access_key_id=KEY_ID, secret_access_key=secret, endpoint=url
        )
    )


class TestSesTransport:
    async def test_raw_message_arrives_intact(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """A signed request carries the raw MIME: Message-ID and headers arrive intact."""
        received: list[dict[str, Any]] = []
        ses = transport(serve_app(ses_app(received)))
        message = message_factory(3)
        results = await ses.send_many([message])
        await ses.close()
        assert results == [Sent(provider_id="ses-1")]
        raw = base64.b64decode(received[0]["Content"]["Raw"]["Data"])
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["Message-ID"] == message.message_id
        assert parsed["List-Unsubscribe"] == message.headers["List-Unsubscribe"]
        assert parsed["Subject"] == message.subject
        assert received[0]["FromEmailAddress"] == "news@clippost.test"

    async def test_errors_are_classified(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """429 and 5xx and paused sending are transient (Retry-After kept); a rejected
        message is permanent."""
        ses = transport(serve_app(ses_app([])))
        recipients = ["throttle@a.org", "reject@a.org", "paused@a.org", "boom@a.org"]
        results = await ses.send_many([message_factory(n, to=t) for n, t in enumerate(recipients)])
        await ses.close()
        assert isinstance(results[0], Transient)
        assert results[0].retry_after == 7
        assert isinstance(results[1], Permanent)
        assert not results[1].bounce
        assert isinstance(results[2], Transient)
        assert isinstance(results[3], Transient)

    async def test_bad_credentials_are_transient(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """A refused signature (403) is retried, not failed: the operator fixes the key."""
        ses = transport(serve_app(ses_app([])), secret="wrong")
        results = await ses.send_many([message_factory(1)])
        await ses.close()
        assert isinstance(results[0], Transient)
        assert "403" in results[0].reason

    async def test_unreachable_endpoint_is_transient(
        self, unused_port: int, message_factory: Callable[..., Message]
    ) -> None:
        """Nothing listening means Transient, never an exception."""
        ses = transport(f"http://127.0.0.1:{unused_port}")
        results = await ses.send_many([message_factory(1), message_factory(2)])
        await ses.close()
        assert all(isinstance(result, Transient) for result in results)
