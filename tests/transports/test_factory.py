"""build_transport: the right transport for each kind, with the allowlist when set."""

from __future__ import annotations

from pathlib import Path

import pytest

from clippost.transports import TransportOptions, build_transport
from clippost.transports.allowlist import AllowlistTransport
from clippost.transports.console import ConsoleTransport
from clippost.transports.maildir import MaildirTransport
from clippost.transports.postmark import PostmarkTransport
from clippost.transports.sendgrid import SendgridTransport
from clippost.transports.ses import SesTransport
from clippost.transports.smtp import SmtpTransport

OPTIONS = TransportOptions(
    ses_access_key_id="id",
    ses_secret_access_key="secret",
    postmark_server_token="token",
    sendgrid_api_key="key",
)


class TestBuildTransport:
    @pytest.mark.parametrize(
        ("kind", "cls"),
        [
            ("maildir", MaildirTransport),
            ("console", ConsoleTransport),
            ("smtp", SmtpTransport),
            ("ses", SesTransport),
            ("postmark", PostmarkTransport),
            ("sendgrid", SendgridTransport),
        ],
    )
    def test_each_kind(self, kind: str, cls: type) -> None:
        """Every documented kind builds its transport."""
        transport = build_transport(kind, OPTIONS)
        assert isinstance(transport, cls)
        assert transport.name == kind

    def test_allowlist_wraps(self, tmp_path: Path) -> None:
        """A configured allowlist wraps the transport."""
        options = TransportOptions(maildir_path=tmp_path, allowlist=("@example.org",))
        transport = build_transport("maildir", options)
        assert isinstance(transport, AllowlistTransport)
        assert isinstance(transport.inner, MaildirTransport)

    def test_unknown_kind(self) -> None:
        """An unknown kind is refused with the list of known ones."""
        with pytest.raises(ValueError, match="maildir, smtp"):
            build_transport("pigeon", OPTIONS)

    def test_missing_credentials(self) -> None:
        """An API transport without its key is refused at start-up, not at send time."""
        with pytest.raises(ValueError, match="postmark_server_token"):
            build_transport("postmark", TransportOptions())
