"""VERP on the wire: the renderer gives each row its own return path (CLIPPOST_VERP), and
the SMTP transport sends it as MAIL FROM, pipelined or not; the From header is unchanged."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clippost import verp
from clippost.links import Links
from clippost.mail import Message, Transient
from clippost.outbox.claims import ClaimedMessage
from clippost.rendering.messages import MessageRenderer
from clippost.transports.smtp import SmtpTransport
from factories import transport_options

from .conftest import Pipelining

NOW = datetime(2026, 12, 14, 7, 0, tzinfo=UTC)
LINKS = Links(
    base_url="https://clippost.test",
    secret_key="verp-test-secret-0123456789-abcdefghijklmnop",
    confirm_ttl=timedelta(days=3),
    manage_ttl=timedelta(hours=1),
)


def _row(row_id: int) -> ClaimedMessage:
    return ClaimedMessage(
        id=row_id,
        message_id=f"<m{row_id}@clippost.test>",
        kind="magic_link",
        requested=True,
        recipient="reader@example.org",
        recipient_hash="x",
        subscriber_id=1,
        payload={"manage_url": "https://clippost.test/manage/t", "expires_in": 3600},
        attempts=1,
        created_at=NOW,
        due_at=NOW,
    )


class TestRenderer:
    def test_verp_gives_each_row_its_return_path(self) -> None:
        """With VERP on, a row's message carries the signed return path for its id."""
        render = MessageRenderer(
            links=LINKS, from_address="news@clippost.test", from_name="clippost", verp=True
        )
        message = render(_row(31), NOW)
        assert message.return_path.startswith("bounces+31-")
        assert message.return_path.endswith("@clippost.test")
        assert verp.outbox_id_of(message.return_path, keys=[LINKS.secret_key]) == 31

    def test_off_by_default(self) -> None:
        """Without VERP the envelope sender is the From address."""
        render = MessageRenderer(links=LINKS, from_address="news@clippost.test", from_name="c")
        assert render(_row(31), NOW).return_path == ""


def _message(message_factory: Callable[..., Message], number: int, path: str) -> Message:
    return replace(message_factory(number), return_path=path)


class TestSmtpEnvelope:
    @pytest.mark.parametrize("pipelining", [False, True])
    async def test_mail_from_is_the_return_path(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        pipelining: bool,
    ) -> None:
        """MAIL FROM carries each message's own return path; From stays the site's."""
        server = start_smtp(handler=Pipelining() if pipelining else None)
        transport = SmtpTransport(
            **transport_options("smtp_", host="127.0.0.1", port=server.port, security="none")
        )
        paths = [verp.return_path(n, domain="clippost.test", key="k" * 32) for n in (1, 2)]
        await transport.send_many(
            [_message(message_factory, n, path) for n, path in zip((1, 2), paths, strict=True)]
        )
        await transport.close()
        received = server.handler.received
        assert sorted(envelope.mail_from for envelope in received) == sorted(paths)
        parsed = email.message_from_bytes(received[0].original_content, policy=email.policy.default)
        assert parsed["From"].addresses[0].addr_spec == "news@clippost.test"

    async def test_an_unusable_return_path_is_never_sent(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A return path that is not a plain address waits for the operator (transient)."""
        server = start_smtp()
        transport = SmtpTransport(
            **transport_options("smtp_", host="127.0.0.1", port=server.port, security="none")
        )
        message = _message(message_factory, 1, "bounces+1@x.test>\r\nRCPT TO:<victim@x.test")
        (result,) = await transport.send_many([message])
        await transport.close()
        assert isinstance(result, Transient)
        assert server.handler.received == []
