"""SendgridTransport against a local /v3/mail/send endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clippost.mail import Message, Permanent, Sent, Transient
from clippost.transports.sendgrid import SendgridTransport
from factories import transport_options

KEY = "SG.test-key"


def sendgrid_app(received: list[dict[str, Any]]) -> Starlette:
    async def send(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"errors": [{"message": "unauthorized"}]}, 401)
        payload = await request.json()
        to = payload["personalizations"][0]["to"][0]["email"]
        if to.startswith("throttle"):
            return JSONResponse({"errors": []}, 429, {"Retry-After": "11"})
        if to.startswith("bad"):
            return JSONResponse({"errors": [{"message": "invalid"}]}, 400)
        if to.startswith("boom"):
            return Response("unavailable", status_code=503)
        received.append(payload)
        return Response(status_code=202, headers={"X-Message-Id": f"sg-{len(received)}"})

    return Starlette(routes=[Route("/v3/mail/send", send, methods=["POST"])])


class TestSendgridTransport:
    async def test_accepted_message_carries_ids_and_headers(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """202 is Sent with SendGrid's id; Message-ID and custom headers are passed."""
        received: list[dict[str, Any]] = []
        transport = SendgridTransport(
            **transport_options(
                "sendgrid_", api_key=KEY, endpoint=serve_app(sendgrid_app(received))
            )
        )
        message = message_factory(2)
        results = await transport.send_many([message])
        await transport.close()
        assert results == [Sent(provider_id="sg-1")]
        sent = received[0]
        assert sent["headers"]["Message-ID"] == message.message_id
        assert sent["headers"]["List-Unsubscribe"] == message.headers["List-Unsubscribe"]
        assert sent["from"] == {"email": "news@clippost.test", "name": "Clippost Ré"}
        assert [c["type"] for c in sent["content"]] == ["text/plain", "text/html"]

    async def test_errors_are_classified(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """429 and 503 are transient (Retry-After kept), 400 permanent, others still sent."""
        transport = SendgridTransport(
            **transport_options("sendgrid_", api_key=KEY, endpoint=serve_app(sendgrid_app([])))
        )
        recipients = ["throttle@a.org", "bad@a.org", "boom@a.org", "ok@a.org"]
        results = await transport.send_many(
            [message_factory(n, to=to) for n, to in enumerate(recipients)]
        )
        await transport.close()
        assert isinstance(results[0], Transient)
        assert results[0].retry_after == 11
        assert isinstance(results[1], Permanent)
        assert not results[1].bounce
        assert isinstance(results[2], Transient)
        assert isinstance(results[3], Sent)

    async def test_bad_key_is_transient(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """A refused key (401) is retried, not failed."""
        transport = SendgridTransport(
            **transport_options("sendgrid_", api_key="nope", endpoint=serve_app(sendgrid_app([])))
        )
        results = await transport.send_many([message_factory(1)])
        await transport.close()
        assert isinstance(results[0], Transient)

    async def test_network_error_is_transient(
        self, unused_port: int, message_factory: Callable[..., Message]
    ) -> None:
        """Nothing listening is Transient, never an exception."""
        transport = SendgridTransport(
            **transport_options(
                "sendgrid_", api_key=KEY, endpoint=f"http://127.0.0.1:{unused_port}"
            )
        )
        results = await transport.send_many([message_factory(1)])
        await transport.close()
        assert isinstance(results[0], Transient)


def counting_app(most: list[int]) -> Starlette:
    """Accepts every message after a pause, answering with its recipient as the id;
    `most[0]` is the most requests it ever held at once."""
    in_flight = [0]

    async def send(request: Request) -> Response:
        payload = await request.json()
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        await asyncio.sleep(0.05)
        in_flight[0] -= 1
        to = payload["personalizations"][0]["to"][0]["email"]
        return Response(status_code=202, headers={"X-Message-Id": to})

    return Starlette(routes=[Route("/v3/mail/send", send, methods=["POST"])])


class TestOneRequestEach:
    async def test_requests_in_flight_are_bounded_and_results_keep_order(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """At most `concurrency` requests are in flight at once, and the results come back
        in the order of the messages."""
        most = [0]
        transport = SendgridTransport(
            **transport_options(
                "sendgrid_",
                api_key=KEY,
                endpoint=serve_app(counting_app(most)),
                concurrency=2,
            )
        )
        recipients = [f"reader{n}@a.org" for n in range(6)]
        results = await transport.send_many(
            [message_factory(n, to=to) for n, to in enumerate(recipients)]
        )
        await transport.close()
        assert results == [Sent(provider_id=to) for to in recipients]
        assert most[0] == 2
