"""The app object: lifespan with the in-process worker, error pages, HEAD."""

from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path

import httpx

from clippost.app import create_app


class TestInProcessWorker:
    async def test_confirmation_email_reaches_the_maildir(self, web_app, web_settings):
        """With the worker on, the email a sign-up queued is delivered to the Maildir."""
        settings = web_settings.model_copy(update={"worker_poll_interval": 0.05})
        async with web_app(settings, with_worker=True) as web:
            response = await web.sign_up("reader@example.org")
            assert response.status_code == 303
            message = await _first_message(settings.resolved_maildir / "new")
        assert message["To"] == "reader@example.org"
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert f"{settings.base_url}/confirm/" in text

    async def test_without_worker_nothing_is_sent(self, web, web_settings):
        """The request itself never sends: without a worker the email stays queued."""
        await web.sign_up("reader@example.org")
        await asyncio.sleep(0.3)
        assert not (web_settings.resolved_maildir / "new").exists()
        assert [m.state for m in await web.outbox()] == ["pending"]

    async def test_the_web_process_holds_no_transport(self, web):
        """Without the in-process worker, the web app's runtime has no transport at all."""
        assert web.app.state.runtime.transport is None


async def _first_message(folder: Path) -> email.message.EmailMessage:
    for _ in range(100):
        files = list(folder.glob("*")) if folder.is_dir() else []
        if files:
            parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, email.message.EmailMessage)
            return parsed
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing arrived in {folder}")


class TestServerError:
    async def test_unexpected_errors_give_a_plain_500(self, web_settings):
        """An unexpected exception gives a 500 page without details, with the headers."""
        app = create_app(web_settings)

        async def boom() -> None:
            raise RuntimeError("secret internals")

        app.add_api_route("/boom", boom)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                response = await c.get("/boom")
        assert response.status_code == 500
        assert "secret internals" not in response.text
        assert "Something went wrong" in response.text
        assert response.headers["x-frame-options"] == "DENY"


class TestHead:
    async def test_head_answers_like_get_without_a_body(self, web):
        """HEAD on the home page and /healthz is 200 with GET's headers (uptime checks)."""
        for path in ("/", "/healthz"):
            got = await web.client.get(path)
            head = await web.client.head(path)
            assert head.status_code == 200 == got.status_code
            assert head.headers["content-type"] == got.headers["content-type"]
            assert head.content == b""
