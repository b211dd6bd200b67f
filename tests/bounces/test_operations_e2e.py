"""End to end, as an operator lives it: digests go out over SMTP, a hard bounce arrives by
the SES webhook, the next planning sends nothing to that address, `clippost stats` and the
operator page show the bounce and a failure, and the failed message, retried from the
operator page, is delivered (same Message-ID) once the relay accepts it again."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from pydantic import SecretStr

from clippost.bounces.sns import SnsFetcher
from clippost.cli import stats
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.runtime import open_runtime
from clippost.worker import send_due

from .conftest import TOPIC, Pki, open_webhooks, ses_bounce, sns_envelope

PASSWORD = "operator-password-0123"
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(<[^>\r\n]+>)")


class Relay:
    """An SMTP relay that accepts, or refuses every message for its content (554 5.6.0:
    permanent, not a bounce) while `refusing` is set; it keeps what it accepted."""

    def __init__(self) -> None:
        self.refusing = False
        self.accepted: list[tuple[str, str]] = []  # (recipient, Message-ID)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.refusing:
            return "554 5.6.0 message content refused"
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        found = _MESSAGE_ID.search(content)
        with self._lock:
            self.accepted.append((envelope.rcpt_tos[0], found.group(1).decode() if found else ""))
        return "250 2.0.0 OK"

    def to(self, recipient: str) -> list[str]:
        return [message_id for rcpt, message_id in self.accepted if rcpt == recipient]


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    handler = Relay()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _settings(web_settings: Settings, port: int) -> Settings:
    return web_settings.model_copy(
        update={
            "ses_sns_topic_arns": [TOPIC],
            "admin_password": SecretStr(PASSWORD),
            "mail_transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_pool_size": 1,
            "parse_processes": 0,
        }
    )


async def _send_due(settings: Settings, at: Any) -> Any:
    async with open_runtime(settings) as runtime:
        return await send_due(runtime, at=at)


async def _stats_json(settings: Settings) -> dict[str, Any]:
    out = io.StringIO()
    await stats.stats(settings, out=out, as_json=True)
    found: dict[str, Any] = json.loads(out.getvalue())
    return found


class TestOperatorEndToEnd:
    async def test_bounce_skip_stats_page_retry(
        self,
        web_settings: Settings,
        fetcher: SnsFetcher,
        pki: Pki,
        relay: tuple[Relay, int],
    ) -> None:
        """Sent, bounced by webhook, skipped, shown, retried from /admin, delivered."""
        server, port = relay
        async with open_webhooks(_settings(web_settings, port), fetcher=fetcher) as web:
            for email in ("gone@example.org", "kept@example.org"):
                await web.confirmed_reader(email)
            slot = (await web.subscriber("gone@example.org")).next_slot_at
            first = await _send_due(web.settings, slot)
            assert (first.planned, first.sent) == (2, 4)  # two digests, two confirmations
            bounced = next(d for d in await web.outbox("digest") if d.recipient.startswith("gone"))
            reached = server.to("gone@example.org")  # its confirmation, and the first digest
            assert bounced.message_id in reached

            notice = ses_bounce(message_id=bounced.message_id, recipient="gone@example.org")
            # The bounce happens now (the fixture's notice is dated): today's figures count it.
            now = utcnow().strftime("%Y-%m-%dT%H:%M:%S.000Z")
            notice = notice.replace("2026-12-14T07:00:29.000Z", now)
            hook = await web.client.post(
                "/webhooks/ses",
                content=json.dumps(sns_envelope(pki.signing_key, message=notice)).encode(),
            )
            assert hook.status_code == 200, hook.text

            server.refusing = True
            second = await _send_due(web.settings, slot + timedelta(days=7))
            # The suppressed address's slot is skipped at planning: no row is queued for it.
            assert (second.planned, second.sent, second.failed) == (1, 0, 1)
            latest = {d.recipient: d for d in await web.outbox("digest")}
            failed = latest["kept@example.org"]
            assert latest["gone@example.org"].id == bounced.id
            assert failed.state == "failed"
            assert server.to("gone@example.org") == reached  # nothing more went there

            figures = await _stats_json(web.settings)
            today = figures["days"][-1]
            assert (today["bounces"], today["failed"]) == (1, 1)
            assert figures["gauges"]["events"] == {"hard_bounce": 1}
            assert figures["skipped"] == 1
            assert figures["rates"]["bounce"] > 0

            login = await web.post_form("/admin/login", {"password": PASSWORD}, csrf_from="/admin")
            assert login.status_code == 303
            page = await web.client.get("/admin")
            assert "554 5.6.0 message content refused" in page.text
            assert f"/admin/outbox/{failed.id}/retry" in page.text
            assert "<dt>Bounce rate</dt>" in page.text

            server.refusing = False
            retried = await web.post_form(f"/admin/outbox/{failed.id}/retry", csrf_from="/admin")
            assert retried.status_code == 303
            third = await _send_due(web.settings, utcnow())
            assert third.sent == 1
            (delivered,) = [d for d in await web.outbox("digest") if d.id == failed.id]
            assert (delivered.state, delivered.message_id) == ("sent", failed.message_id)
            assert failed.message_id in server.to("kept@example.org")
