"""The webhook endpoints, through the app on a real database: proven requests are recorded
once, anything unproven is refused with a 4xx and changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from clippost.config import Settings
from clippost.models import DeliveryEvent, OutboxMessage, SkippedDigest, Suppression
from clippost.runtime import open_runtime
from clippost.worker import send_due

from .conftest import (
    CERT_PATH,
    TOPIC,
    CertServer,
    Pki,
    SendgridSigner,
    open_webhooks,
    ses_bounce,
    sns_envelope,
)

POSTMARK_AUTH = "Basic " + base64.b64encode(b"postmark:hook-secret-0123456789").decode()


async def _count(web: Any, model: type) -> int:
    async with web.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _post_sns(web: Any, fields: dict[str, str]) -> Any:
    return await web.client.post("/webhooks/ses", content=json.dumps(fields).encode())


def _postmark_body(**fields: object) -> bytes:
    record = {"RecordType": "Bounce", "ID": 42, "Type": "HardBounce", "Email": "gone@example.org"}
    return json.dumps({**record, **fields}).encode()


class TestOffUnlessConfigured:
    @pytest.mark.parametrize("path", ["/webhooks/ses", "/webhooks/postmark", "/webhooks/sendgrid"])
    async def test_404(self, web_settings: Settings, path: str) -> None:
        """With no webhook settings, each endpoint answers 404 and reads nothing."""
        async with open_webhooks(web_settings) as web:
            response = await web.client.post(path, content=b"{}")
        assert response.status_code == 404


class TestSes:
    async def test_a_subscription_is_confirmed(
        self, hooks: Any, pki: Pki, cert_server: CertServer
    ) -> None:
        """A signed SubscriptionConfirmation for our topic visits its SubscribeURL."""
        subscribe = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc123"
        fields = sns_envelope(
            pki.signing_key,
            kind="SubscriptionConfirmation",
            message="You have chosen to subscribe to the topic.",
            SubscribeURL=subscribe,
            Token="abc123",
        )
        response = await _post_sns(hooks, fields)
        assert response.status_code == 200, response.text
        assert cert_server.requests == [CERT_PATH, "/?Action=ConfirmSubscription&Token=abc123"]

    async def test_a_bounce_is_recorded_once(self, hooks: Any, pki: Pki) -> None:
        """A signed bounce notification is recorded and suppresses; a replay records nothing."""
        fields = sns_envelope(pki.signing_key, message=ses_bounce(message_id="<none@x>"))
        first = await _post_sns(hooks, fields)
        again = await _post_sns(hooks, fields)
        assert (first.status_code, again.status_code) == (200, 200)
        assert first.text == "recorded 1, replayed 0\n"
        assert again.text == "recorded 0, replayed 1\n"
        assert await _count(hooks, DeliveryEvent) == 1
        assert await _count(hooks, Suppression) == 1

    @pytest.mark.parametrize("forgery", ["altered", "other key", "other topic", "foreign cert"])
    async def test_forgeries_change_nothing(
        self, hooks: Any, pki: Pki, cert_server: CertServer, forgery: str
    ) -> None:
        """An altered message, another key, another topic or a non-SNS certificate URL is
        refused with 403 and nothing is stored."""
        key = pki.other_key if forgery == "other key" else pki.signing_key
        extra: dict[str, str] = {}
        if forgery == "other topic":
            extra["topic"] = TOPIC + "-2"
        if forgery == "foreign cert":
            extra["cert_url"] = cert_server.url + CERT_PATH
        fields = sns_envelope(key, message=ses_bounce(message_id="<none@x>"), **extra)
        if forgery == "altered":
            fields["Message"] = ses_bounce(message_id="<none@x>", recipient="victim@example.org")
        response = await _post_sns(hooks, fields)
        assert response.status_code == 403
        assert await _count(hooks, DeliveryEvent) == 0
        assert await _count(hooks, Suppression) == 0
        if forgery in ("other topic", "foreign cert"):
            assert cert_server.requests == []

    @pytest.mark.parametrize("body", [b"", b"not json", b'{"Type": "Notification"}'])
    async def test_malformed_bodies_are_400(self, hooks: Any, body: bytes) -> None:
        """A body that is not an SNS message is refused with 400."""
        response = await hooks.client.post("/webhooks/ses", content=body)
        assert response.status_code == 400


class TestPostmark:
    @pytest.mark.parametrize("header", [None, "Basic " + base64.b64encode(b"postmark:x").decode()])
    async def test_unauthenticated_posts_change_nothing(
        self, hooks: Any, header: str | None
    ) -> None:
        """Without the configured credentials the post is refused with 401."""
        headers = {"Authorization": header} if header else {}
        response = await hooks.client.post(
            "/webhooks/postmark", content=_postmark_body(), headers=headers
        )
        assert response.status_code == 401
        assert await _count(hooks, DeliveryEvent) == 0

    async def test_a_bounce_is_recorded_once(self, hooks: Any) -> None:
        """An authenticated bounce is recorded; Postmark retrying it records nothing new."""
        headers = {"Authorization": POSTMARK_AUTH}
        for _ in range(2):
            response = await hooks.client.post(
                "/webhooks/postmark", content=_postmark_body(), headers=headers
            )
            assert response.status_code == 200
        assert await _count(hooks, DeliveryEvent) == 1
        assert await _count(hooks, Suppression) == 1

    async def test_a_malformed_record_is_400(self, hooks: Any) -> None:
        """An authenticated post that is not a Postmark record is refused with 400."""
        response = await hooks.client.post(
            "/webhooks/postmark", content=b"[1, 2]", headers={"Authorization": POSTMARK_AUTH}
        )
        assert response.status_code == 400


class TestSendgrid:
    async def test_signed_events_are_recorded(
        self, hooks: Any, sendgrid_signer: SendgridSigner
    ) -> None:
        """A signed batch is recorded; the same batch again records nothing new."""
        body = json.dumps(
            [
                {"event": "bounce", "email": "gone@example.org", "sg_event_id": "ev-1"},
                {"event": "spamreport", "email": "angry@example.org", "sg_event_id": "ev-2"},
            ]
        ).encode()
        for expected in ("recorded 2, replayed 0\n", "recorded 0, replayed 2\n"):
            response = await hooks.client.post(
                "/webhooks/sendgrid", content=body, headers=sendgrid_signer.headers(body)
            )
            assert response.text == expected
        assert await _count(hooks, Suppression) == 2

    async def test_a_bad_signature_changes_nothing(
        self, hooks: Any, sendgrid_signer: SendgridSigner
    ) -> None:
        """A body altered after signing is refused with 403."""
        body = b'[{"event": "bounce", "email": "gone@example.org", "sg_event_id": "ev-1"}]'
        headers = sendgrid_signer.headers(body)
        forged = body.replace(b"gone@", b"victim@")
        response = await hooks.client.post("/webhooks/sendgrid", content=forged, headers=headers)
        assert response.status_code == 403
        assert await _count(hooks, DeliveryEvent) == 0

    async def test_an_oversized_body_is_413(self, hooks: Any) -> None:
        """A body over the webhook limit is refused with 413 before it is read."""
        response = await hooks.client.post(
            "/webhooks/sendgrid", content=b"[" + b" " * (4 * 1024 * 1024) + b"]"
        )
        assert response.status_code == 413


class TestEndToEnd:
    async def test_a_bounced_digest_stops_the_next(self, hooks: Any, pki: Pki) -> None:
        """A digest is sent, SES reports a hard bounce for it, and the next slot is skipped
        at planning (recorded with the reason), nothing queued; the event is kept with the
        first digest's row."""
        await hooks.confirmed_reader("reader@example.org")
        reader = await hooks.subscriber("reader@example.org")
        async with open_runtime(hooks.settings) as runtime:
            first = await send_due(runtime, at=reader.next_slot_at)
        assert (first.planned, first.sent) == (1, 2)  # the digest, and the confirmation
        (digest,) = await hooks.outbox("digest")
        assert digest.state == "sent"

        notification = ses_bounce(message_id=digest.message_id, recipient="reader@example.org")
        response = await _post_sns(hooks, sns_envelope(pki.signing_key, message=notification))
        assert response.status_code == 200, response.text

        reader = await hooks.subscriber("reader@example.org")
        async with open_runtime(hooks.settings) as runtime:
            second = await send_due(runtime, at=reader.next_slot_at)
        assert (second.planned, second.sent) == (0, 0)
        assert [row.id for row in await hooks.outbox("digest")] == [digest.id]
        async with hooks.db.transaction() as session:
            event = await session.scalar(select(DeliveryEvent))
            skipped = (await session.scalars(select(SkippedDigest))).all()
        assert event is not None
        assert (event.outbox_id, event.kind) == (digest.id, "hard_bounce")
        assert [(s.slot, s.reason) for s in skipped] == [
            (reader.next_slot_at, "suppressed (bounced)")
        ]
        assert isinstance(digest, OutboxMessage)
