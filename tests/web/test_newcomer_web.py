"""The web side of a newcomer's first run: the local inbox (only on a loopback server
with the Maildir transport), one redacted log line per request, one per email written."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest

import factories
from clippost.config import Settings
from clippost.links import Purpose
from clippost.site_state import base_url_warning, server_base_url
from clippost.transports.maildir import MaildirTransport
from clippost.web.access_log import redact_path
from clippost.web.inbox import inbox_enabled

LOCAL = {"base_url": "http://127.0.0.1:8000"}


def _client(web, host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=web.app, client=(host, 5000))
    return httpx.AsyncClient(transport=transport, base_url=web.settings.base_url)


async def _deliver_confirmation(web) -> None:
    """Sign up, then write the queued confirmation to the Maildir as the worker would."""
    await web.sign_up("new@example.org")
    [row] = await web.outbox("confirm")
    message = web.app.state.runtime.renderer(row, datetime.now(UTC))
    transport = MaildirTransport(web.settings.resolved_maildir, fsync=False)
    await transport.send_many([message])


class TestLocalInbox:
    @pytest.fixture
    def local_settings(self, sqlite_url, tmp_path):
        """A developer's settings: SQLite (the inbox is not about the database), loopback."""
        return factories.make_settings(data_dir=tmp_path / "data", database_url=sqlite_url, **LOCAL)

    async def test_lists_shows_and_frames_the_emails(self, web_app, local_settings):
        """On loopback with the Maildir: the list, a message with its links, headers and
        text, and its HTML under a CSP of its own that runs nothing."""
        async with web_app(local_settings, bound_host="127.0.0.1") as web, _client(web) as local:
            await _deliver_confirmation(web)
            listing = await local.get("/dev/inbox")
            assert listing.status_code == 200
            assert "Confirm" in listing.text or "confirm" in listing.text
            name = listing.text.split('href="/dev/inbox/', 1)[1].split('"', 1)[0]
            shown = await local.get(f"/dev/inbox/{name}")
            assert "/confirm/" in shown.text
            assert "Message-ID" in shown.text or "Message-Id" in shown.text
            assert 'sandbox src="/dev/inbox/' in shown.text
            html = await local.get(f"/dev/inbox/{name}/html")
            assert html.headers["content-security-policy"].startswith("default-src 'none'")
            assert "script-src" not in html.headers["content-security-policy"]
            assert html.headers["x-frame-options"] == "SAMEORIGIN"
            check = await local.get("/check-inbox")
            assert 'href="/dev/inbox"' in check.text

    async def test_names_outside_the_folder_are_refused(self, web_app, local_settings):
        """A path that tries to leave the Maildir: 404."""
        async with web_app(local_settings, bound_host="127.0.0.1") as web, _client(web) as local:
            for name in ("..", "..%2Fsecret_key", "%2E%2E", "x%00"):
                assert (await local.get(f"/dev/inbox/{name}")).status_code == 404

    @pytest.mark.parametrize(
        ("bound", "changes", "client", "headers"),
        [
            ("0.0.0.0", {}, "127.0.0.1", {}),  # bound to every interface
            ("127.0.0.1", {"mail_transport": "console"}, "127.0.0.1", {}),  # not the Maildir
            ("127.0.0.1", {"base_url": "https://clippost.example"}, "127.0.0.1", {}),  # proxied
            ("127.0.0.1", {}, "203.0.113.9", {}),  # a request from elsewhere
            ("127.0.0.1", {}, "127.0.0.1", {"x-forwarded-for": "203.0.113.9"}),  # via a proxy
        ],
    )
    async def test_404_everywhere_else(
        self, web_app, local_settings, bound, changes, client, headers
    ):
        """Not loopback, not the Maildir, a public URL, or a forwarded request: 404."""
        settings = local_settings.model_copy(update=changes)
        async with web_app(settings, bound_host=bound) as web, _client(web, client) as other:
            response = await other.get("/dev/inbox", headers=headers)
            assert response.status_code == 404
            check = await other.get("/check-inbox", headers=headers)
            assert 'href="/dev/inbox"' not in check.text

    def test_the_decision_itself(self, local_settings):
        """Only Maildir + loopback server + loopback public URL turns it on."""
        local = local_settings
        assert inbox_enabled(local, "127.0.0.1")
        assert inbox_enabled(local, "::1")
        assert inbox_enabled(local, "localhost")
        assert not inbox_enabled(local, "0.0.0.0")
        assert not inbox_enabled(local, None)
        public = local.model_copy(update={"base_url": "http://testserver"})
        assert not inbox_enabled(public, "127.0.0.1")


class TestServerBaseUrl:
    async def test_the_server_records_its_url(self, web) -> None:
        """Starting the app stores the base URL it serves (the latest start wins)."""
        assert await server_base_url(web.db) == web.settings.base_url
        default = Settings(_env_file=None, data_dir=web.settings.data_dir)
        assert await base_url_warning(web.db, default) is not None


class TestLogs:
    @pytest.fixture
    def web(self, sqlite_web):
        """A page's behaviour, not the database's: SQLite alone."""
        return sqlite_web

    def test_every_token_is_redacted(self):
        """Paths keep their shape; tokens, wherever they are, become [token]."""
        token = "MTc5NjE2ODQyMnwwfDF8.xcjLAtUTR01odXyfjVU0uslA"
        assert redact_path(f"/manage/{token}/books") == "/manage/[token]/books"
        assert redact_path(f"/favourite/{token}/undo") == "/favourite/[token]/undo"
        assert redact_path("/confirm/garbage") == "/confirm/[token]"
        assert redact_path(f"/somewhere/{token}") == "/somewhere/[token]"
        assert redact_path("/static/style.css") == "/static/style.css"
        assert redact_path("/manage") == "/manage"

    async def test_one_line_per_request_without_the_token(self, web, caplog):
        """A request logs method, redacted path, status and time at info level; no token,
        no query string."""
        await web.confirmed_reader()
        link = web.link(Purpose.MANAGE, await web.subscriber_id("reader@example.org"), extra="0")
        with caplog.at_level(logging.INFO, logger="clippost.web.access"):
            await web.client.get(link, params={"q": "private words"})
        # This request's line (a sign-up's background work may log its own lines meanwhile).
        [line] = [
            r.getMessage()
            for r in caplog.records
            if r.name == "clippost.web.access" and r.getMessage().startswith("GET /manage/")
        ]
        assert line.startswith("GET /manage/[token] 200 ")
        assert line.endswith(" ms")
        assert link.rsplit("/", 1)[1] not in line
        assert "private" not in line

    async def test_one_line_per_email_written(self, web, caplog):
        """The Maildir transport says where each email went."""
        with caplog.at_level(logging.INFO, logger="clippost.transports.maildir"):
            await _deliver_confirmation(web)
        [line] = [r.getMessage() for r in caplog.records if r.name.endswith("maildir")]
        assert line.startswith("mail to new@example.org written to ")
        assert "/new/" in line
