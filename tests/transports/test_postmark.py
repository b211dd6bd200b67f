"""PostmarkTransport against a local /email/batch endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clippost.mail import Message, Permanent, Sent, Transient
from clippost.transports.postmark import PostmarkTransport, classify_error_code
from factories import transport_options

TOKEN = "server-token-123"


def postmark_app(batches: list[list[dict[str, Any]]], status: int = 200) -> Starlette:
    """Checks the token; answers each message by recipient local part."""

    async def batch(request: Request) -> Response:
        if request.headers.get("x-postmark-server-token") != TOKEN:
            return JSONResponse({"ErrorCode": 10, "Message": "Bad or missing API token"}, 401)
        if status != 200:
            return JSONResponse({"ErrorCode": 0, "Message": "busy"}, status, {"Retry-After": "3"})
        messages = await request.json()
        batches.append(messages)
        return JSONResponse([answer(n, m["To"]) for n, m in enumerate(messages)])

    return Starlette(routes=[Route("/email/batch", batch, methods=["POST"])])


def answer(number: int, to: str) -> dict[str, Any]:
    if to.startswith("inactive"):
        return {"ErrorCode": 406, "Message": "Recipient marked as inactive."}
    if to.startswith("invalid"):
        return {"ErrorCode": 300, "Message": "Invalid 'To' address: 'invalid@'."}
    return {"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{number}", "To": to}


class TestClassifyErrorCode:
    def test_codes(self) -> None:
        """0 is sent, 406 and a 300 about the recipient are bounces, account codes are
        transient, a 300 about the sender is permanent without a bounce."""
        assert classify_error_code(0, "OK") == Sent()
        assert classify_error_code(406, "inactive") == Permanent(
            "Postmark error 406: inactive", bounce=True
        )
        assert isinstance(classify_error_code(300, "Invalid 'To' address"), Permanent)
        assert classify_error_code(300, "Invalid 'To' address").bounce  # type: ignore[union-attr]
        sender = classify_error_code(300, "Invalid 'From' address: not a sender signature")
        assert sender == Permanent(
            "Postmark error 300: Invalid 'From' address: not a sender signature", bounce=False
        )
        assert isinstance(classify_error_code(405, "not allowed to send"), Transient)


class TestPostmarkTransport:
    async def test_batch_results_per_message(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """One request carries the batch; each message gets its own result."""
        batches: list[list[dict[str, Any]]] = []
        transport = PostmarkTransport(
            **transport_options(
                "postmark_", server_token=TOKEN, endpoint=serve_app(postmark_app(batches))
            )
        )
        recipients = ["ok@a.org", "inactive@a.org", "invalid@a.org", "ok2@a.org"]
        messages = [message_factory(n, to=to) for n, to in enumerate(recipients)]
        results = await transport.send_many(messages)
        await transport.close()
        assert len(batches) == 1
        assert results[0] == Sent(provider_id="pm-0")
        assert isinstance(results[1], Permanent)
        assert results[1].bounce
        assert isinstance(results[2], Permanent)
        assert results[2].bounce
        assert results[3] == Sent(provider_id="pm-3")

    async def test_message_id_and_headers_pass_through(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """The Message-ID, List-Unsubscribe headers, stream and both bodies are sent."""
        batches: list[list[dict[str, Any]]] = []
        transport = PostmarkTransport(
            **transport_options(
                "postmark_",
                server_token=TOKEN,
                endpoint=serve_app(postmark_app(batches)),
                message_stream="digest",
            )
        )
        message = message_factory(5, subject="Hi\r\nBcc: x@y.org")
        quoted = message_factory(6, from_name='Ann "The Reader", Ltd')
        await transport.send_many([message, quoted])
        await transport.close()
        assert batches[0][1]["From"] == '"Ann \\"The Reader\\", Ltd" <news@clippost.test>'
        sent = batches[0][0]
        headers = {h["Name"]: h["Value"] for h in sent["Headers"]}
        assert headers["Message-ID"] == message.message_id
        assert headers["List-Unsubscribe"] == message.headers["List-Unsubscribe"]
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert sent["Subject"] == "Hi Bcc: x@y.org"
        assert sent["MessageStream"] == "digest"
        assert (sent["TextBody"], sent["HtmlBody"]) == (message.text, message.html)
        assert sent["From"] == '"Clippost Ré" <news@clippost.test>'
        assert sent["To"] == "reader5@example.org"

    async def test_more_than_500_split_into_requests(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """1,001 messages go in three requests of at most 500."""
        batches: list[list[dict[str, Any]]] = []
        transport = PostmarkTransport(
            **transport_options(
                "postmark_", server_token=TOKEN, endpoint=serve_app(postmark_app(batches))
            )
        )
        results = await transport.send_many([message_factory(n) for n in range(1001)])
        await transport.close()
        assert [len(b) for b in batches] == [500, 500, 1]
        assert all(isinstance(result, Sent) for result in results)

    async def test_server_errors_are_transient_with_retry_after(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """HTTP 429 and 503 are transient for every message, keeping Retry-After."""
        for status in (429, 503):
            url = serve_app(postmark_app([], status=status))
            transport = PostmarkTransport(
                **transport_options("postmark_", server_token=TOKEN, endpoint=url)
            )
            results = await transport.send_many([message_factory(1), message_factory(2)])
            await transport.close()
            assert all(isinstance(r, Transient) and r.retry_after == 3 for r in results)

    async def test_bad_token_is_transient(
        self, serve_app: Callable[[Any], str], message_factory: Callable[..., Message]
    ) -> None:
        """A refused token (401) is retried: no reader is failed for the operator's key."""
        url = serve_app(postmark_app([]))
        transport = PostmarkTransport(
            **transport_options("postmark_", server_token="wrong", endpoint=url)
        )
        results = await transport.send_many([message_factory(1)])
        await transport.close()
        assert isinstance(results[0], Transient)
