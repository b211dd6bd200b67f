"""Mailbox messages: real shapes of DSNs, ARF reports, plain-text bounces and unsubscribes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from clippost import verp
from clippost.bounces.events import EventKind, Provider
from clippost.bounces.reports import Bounces, Unrecognised, Unsubscribe, read_report

from .conftest import ORIGINAL_ID, fixture_bytes

KEY = "verp-key-" + "x" * 32


def _bounces(name: str) -> Bounces:
    report = read_report(fixture_bytes(name))
    assert isinstance(report, Bounces), report
    return report


class TestDeliveryStatusNotifications:
    @pytest.mark.parametrize(
        ("name", "recipient", "kind", "status"),
        [
            ("postfix_dsn.eml", "gone@example.org", EventKind.HARD_BOUNCE, "5.1.1"),
            ("gmail_dsn.eml", "nobody.here@gmail.com", EventKind.HARD_BOUNCE, "5.1.1"),
            ("outlook_ndr.eml", "full.mailbox@outlook.example", EventKind.SOFT_BOUNCE, "5.2.2"),
        ],
    )
    def test_failed_recipients(
        self, name: str, recipient: str, kind: EventKind, status: str
    ) -> None:
        """Postfix, Gmail and Outlook DSNs give the failed recipient, its kind and the
        original's Message-ID (message/rfc822, text/rfc822-headers, base64 status part)."""
        (event,) = _bounces(name).events
        assert (event.recipient, event.kind) == (recipient, kind)
        assert event.detail.startswith(status)
        assert event.message_id == ORIGINAL_ID
        assert event.provider is Provider.MAILBOX
        assert event.trusted is False

    def test_the_report_names_the_event(self) -> None:
        """The event id is the report's Message-ID and the recipient; its time the Date."""
        (event,) = _bounces("postfix_dsn.eml").events
        assert event.event_id == (
            "<20261214070012.4Wq1kX2Z3Yz9sT@mail.clippost.test>:gone@example.org"
        )
        assert event.occurred_at == datetime(2026, 12, 14, 7, 0, 12, tzinfo=UTC)

    def test_a_delay_is_no_bounce(self) -> None:
        """An Exim delay warning (Action: delayed) is not a bounce."""
        report = read_report(fixture_bytes("exim_delay.eml"))
        assert isinstance(report, Unrecognised)
        assert "no failed recipient" in report.reason


class TestFeedbackReports:
    def test_an_abuse_report_is_a_complaint(self) -> None:
        """An ARF abuse report names the complainer (Original-Rcpt-To) and the original."""
        (event,) = _bounces("arf_abuse.eml").events
        assert (event.kind, event.recipient, event.message_id) == (
            EventKind.COMPLAINT,
            "annoyed@mail.example.net",
            ORIGINAL_ID,
        )

    def test_a_redacted_report_still_names_the_message(self) -> None:
        """A report with the recipient redacted still names the message by its Message-ID."""
        (event,) = _bounces("arf_redacted.eml").events
        assert (event.kind, event.recipient, event.message_id) == (
            EventKind.COMPLAINT,
            None,
            ORIGINAL_ID,
        )

    def test_not_spam_is_no_complaint(self) -> None:
        """A feedback report of type not-spam is not a complaint."""
        raw = fixture_bytes("arf_abuse.eml").replace(
            b"Feedback-Type: abuse", b"Feedback-Type: not-spam"
        )
        report = read_report(raw)
        assert isinstance(report, Unrecognised)


class TestPlainTextBounces:
    @pytest.mark.parametrize(
        ("name", "recipient", "detail"),
        [
            ("qmail.eml", "left.long.ago@oldhost.example", "(#5.1.1)"),
            ("exim_classic.eml", "no.such.user@example.com", "550 No such user here"),
        ],
    )
    def test_qmail_and_classic_exim(self, name: str, recipient: str, detail: str) -> None:
        """qmail's and Exim's plain-text bounces give a hard bounce and the original's id."""
        (event,) = _bounces(name).events
        assert (event.recipient, event.kind, event.message_id) == (
            recipient,
            EventKind.HARD_BOUNCE,
            ORIGINAL_ID,
        )
        assert detail in event.detail

    def test_a_plain_text_delay_is_no_bounce(self) -> None:
        """Exim's plain-text delay warning is not a bounce."""
        raw = fixture_bytes("exim_classic.eml").replace(
            b"could not be delivered", b"has not yet been delivered"
        )
        assert isinstance(read_report(raw), Unrecognised)

    def test_an_auto_reply_is_not_a_report(self) -> None:
        """An out-of-office reply is not understood as anything."""
        assert isinstance(read_report(fixture_bytes("autoreply.eml")), Unrecognised)

    def test_mail_not_from_a_mailer_daemon_is_not_a_bounce(self) -> None:
        """A plain-text message in a bounce's words from an ordinary sender is no bounce."""
        raw = fixture_bytes("qmail.eml").replace(b"From: MAILER-DAEMON@", b"From: joker@")
        assert isinstance(read_report(raw), Unrecognised)


class TestVerpAndUnsubscribe:
    def test_a_verp_address_names_the_row(self) -> None:
        """A bounce delivered to a VERP address names that outbox row, with or without
        anything else quoted."""
        address = verp.return_path(42, domain="clippost.test", key=KEY)
        raw = fixture_bytes("qmail.eml").replace(
            b"Delivered-To: news@clippost.test", f"Delivered-To: {address}".encode()
        )
        (event,) = _bounces_raw(raw, keys=[KEY]).events
        assert event.outbox_id == 42

    def test_a_forged_verp_address_names_nothing(self) -> None:
        """A VERP address with a wrong tag names no row."""
        raw = fixture_bytes("qmail.eml").replace(
            b"Delivered-To: news@clippost.test",
            b"Delivered-To: bounces+42-aaaaaaaaaa@clippost.test",
        )
        (event,) = _bounces_raw(raw, keys=[KEY]).events
        assert event.outbox_id is None

    @pytest.mark.parametrize(
        "subject", ["unsubscribe {t}", "Re: Unsubscribe {t}", "=?utf-8?b?{b}?="]
    )
    def test_an_unsubscribe_request(self, subject: str) -> None:
        """A mail with subject `unsubscribe <token>` (encoded, or as a reply) asks to leave."""
        token = "eyJhbGciOiJI.abcdefghijklmnop_-"
        encoded = base64.b64encode(f"unsubscribe {token}".encode()).decode()
        header = subject.format(t=token, b=encoded)
        raw = f"From: r@example.org\r\nSubject: {header}\r\n\r\n\r\n".encode()
        assert read_report(raw) == Unsubscribe(token)

    @pytest.mark.parametrize(
        "raw", [b"", b"\xff\xfe\x00garbage", b"Content-Type: multipart/report\r\n\r\n--"]
    )
    def test_garbage_is_unrecognised(self, raw: bytes) -> None:
        """Unreadable bytes are unrecognised, never an exception."""
        assert isinstance(read_report(raw), Unrecognised)


def _bounces_raw(raw: bytes, *, keys: list[str]) -> Bounces:
    report = read_report(raw, verp_keys=keys)
    assert isinstance(report, Bounces), report
    return report
