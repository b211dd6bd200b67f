"""Outbox rows to messages: the digest template, bulk headers, requested mail kept plain."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from typing import Any

from clippost.links import Links, Purpose
from clippost.outbox.claims import ClaimedMessage
from clippost.rendering.messages import MessageRenderer
from clippost.rendering.mime import build_mime

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
LINKS = Links(
    base_url="https://clippost.example.org",
    secret_key="render-test-secret-0123456789-abcdefghijklmnop",
    confirm_ttl=timedelta(days=3),
    manage_ttl=timedelta(hours=1),
    unsubscribe_mailbox="news@clippost.example.org",
)


def digest_row(*, subscriber_id: int | None = 42, title: str = "Middlemarch") -> ClaimedMessage:
    payload: dict[str, Any] = {
        "highlights": [
            {
                "text": "It is a narrow mind which cannot look at a subject from various points.",
                "book_title": title,
                "book_author": "George Eliot",
                "note": None,
                "page": None,
                "location_start": 120,
                "location_end": 124,
                "favourite": False,
                "favourite_url": LINKS.url(Purpose.FAVOURITE, 7, now=NOW),
                "discard_url": LINKS.url(Purpose.DISCARD, 7, now=NOW),
            }
        ],
        "round_status": {"position": 1, "total": 40},
        "manage_url": LINKS.url(Purpose.MANAGE, 42, now=NOW, extra="0"),
        "unsubscribe_url": LINKS.url(Purpose.UNSUBSCRIBE, 42, now=NOW),
    }
    return ClaimedMessage(
        id=1,
        message_id="<abc123@clippost.example.org>",
        kind="digest",
        requested=False,
        recipient="reader@example.org",
        recipient_hash="x",
        subscriber_id=subscriber_id,
        payload=payload,
        attempts=1,
        created_at=NOW,
        due_at=NOW,
    )


RENDER = MessageRenderer(
    links=LINKS, from_address="news@clippost.example.org", from_name="clippost"
)


def parsed(row: ClaimedMessage) -> email.message.EmailMessage:
    raw = build_mime(RENDER(row, NOW))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


class TestDigest:
    def test_digest_is_multipart_with_its_identity(self) -> None:
        """A digest renders to text + HTML with its Message-ID, recipient and subject."""
        message = parsed(digest_row())
        assert message.get_content_type() == "multipart/alternative"
        assert message["Message-ID"] == "<abc123@clippost.example.org>"
        assert message["To"] == "reader@example.org"
        assert "Middlemarch" in message["Subject"]
        text = message.get_body(("plain",))
        assert text is not None
        assert "narrow mind" in text.get_content()

    def test_digest_has_one_click_unsubscribe_headers(self) -> None:
        """List-Unsubscribe carries the https and mailto forms; the POST header is RFC 8058's."""
        message = parsed(digest_row())
        unsubscribe = message["List-Unsubscribe"]
        assert unsubscribe.startswith("<https://clippost.example.org/unsubscribe/")
        assert ", <mailto:news@clippost.example.org?subject=unsubscribe" in unsubscribe
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == "clippost digest <digest.clippost.example.org>"
        assert message["Precedence"] == "bulk"
        assert message["Auto-Submitted"] == "auto-generated"

    def test_https_link_is_the_payloads_unsubscribe_link(self) -> None:
        """The header's https URL is the one the email body shows."""
        row = digest_row()
        headers = RENDER(row, NOW).headers
        assert headers["List-Unsubscribe"].startswith(f"<{row.payload['unsubscribe_url']}>")

    def test_mailto_is_the_links_mailto_at_every_moment(self) -> None:
        """The mailto link, signed with a signer kept per moment, is Links.mailto_unsubscribe's
        at that moment, for each reader, when the moment changes and when it comes back."""
        renderer = MessageRenderer(
            links=LINKS, from_address="news@clippost.example.org", from_name="clippost"
        )
        later = NOW + timedelta(seconds=3)
        for moment, subscriber_id in ((NOW, 42), (NOW, 43), (later, 42), (NOW, 9_000_001)):
            row = digest_row(subscriber_id=subscriber_id)
            mailto = LINKS.mailto_unsubscribe(subscriber_id, now=moment)
            header = renderer(row, moment).headers["List-Unsubscribe"]
            assert header.endswith(f", <{mailto}>")

    def test_hostile_book_title_cannot_add_a_header(self) -> None:
        """A title with CRLF and a header after it stays inside the Subject."""
        message = parsed(digest_row(title="Evil\r\nBcc: victim@example.org"))
        assert message["Bcc"] is None
        assert "Bcc" in message["Subject"]


class TestRequestedMail:
    def test_magic_link_has_no_bulk_headers(self) -> None:
        """Mail the reader asked for carries no List-Unsubscribe and no Precedence: bulk."""
        row = ClaimedMessage(
            id=2,
            message_id="<def@clippost.example.org>",
            kind="magic_link",
            requested=True,
            recipient="reader@example.org",
            recipient_hash="x",
            subscriber_id=42,
            payload={"manage_url": "https://clippost.example.org/manage/t", "expires_in": 3600},
            attempts=1,
            created_at=NOW,
            due_at=NOW,
        )
        headers = RENDER(row, NOW).headers
        assert "List-Unsubscribe" not in headers
        assert "Precedence" not in headers
        assert headers["Auto-Submitted"] == "auto-generated"
