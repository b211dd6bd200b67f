"""transport_from_settings: the right transport for each kind, built from Settings alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from clippost.config import Settings
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.errors import ConfigurationError
from clippost.transports.allowlist import AllowlistTransport
from clippost.transports.console import ConsoleTransport
from clippost.transports.factory import transport_from_settings
from clippost.transports.maildir import MaildirTransport
from clippost.transports.postmark import PostmarkTransport
from clippost.transports.ratelimit import DatabaseRateLimiter, TokenBucket
from clippost.transports.sendgrid import SendgridTransport
from clippost.transports.ses import SesTransport
from clippost.transports.smtp import SmtpTransport
from factories import make_settings

CREDENTIALS = {
    "ses_access_key_id": "id",
    "ses_secret_access_key": "secret",
    "postmark_server_token": "token",
    "sendgrid_api_key": "key",
}


def settings_for(tmp_path: Path, **values: object) -> Settings:
    return make_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/db", **values)


class TestTransportFromSettings:
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
    def test_each_kind(self, tmp_path: Path, kind: str, cls: type) -> None:
        """Every documented kind builds its transport."""
        transport = transport_from_settings(
            settings_for(tmp_path, mail_transport=kind, **CREDENTIALS)
        )
        assert isinstance(transport, cls)
        assert transport.name == kind

    def test_allowlist_wraps(self, tmp_path: Path) -> None:
        """A configured allowlist wraps the transport."""
        settings = settings_for(tmp_path, staging_allowlist="@example.org")
        transport = transport_from_settings(settings)
        assert isinstance(transport, AllowlistTransport)
        assert isinstance(transport.inner, MaildirTransport)
        assert transport.inner.path == tmp_path / "mail"

    def test_unknown_kind(self, tmp_path: Path) -> None:
        """An unknown kind is refused with the list of known ones."""
        settings = settings_for(tmp_path).model_copy(update={"mail_transport": "pigeon"})
        with pytest.raises(ConfigurationError, match="maildir, smtp"):
            transport_from_settings(settings)

    def test_missing_credentials(self, tmp_path: Path) -> None:
        """An API transport without its key is refused at start-up, not at send time."""
        with pytest.raises(ConfigurationError, match="postmark_server_token"):
            transport_from_settings(settings_for(tmp_path, mail_transport="postmark"))

    def test_smtp_takes_the_settings_defaults(self, tmp_path: Path) -> None:
        """With nothing configured, SMTP uses Settings' defaults: no TLS, as documented."""
        transport = transport_from_settings(settings_for(tmp_path, mail_transport="smtp"))
        assert isinstance(transport, SmtpTransport)
        client = transport._new_client()
        assert (client.hostname, client.port) == ("127.0.0.1", 25)
        assert (client.use_tls, client._start_tls_on_connect) == (False, False)
        assert transport.pool_size == Settings.model_fields["smtp_pool_size"].default

    def test_rate_limit_without_a_database_is_in_process(self, tmp_path: Path) -> None:
        """A send rate with no database at hand paces the transport in this process."""
        settings = settings_for(tmp_path, mail_transport="smtp", send_rate_per_second=5)
        transport = transport_from_settings(settings)
        assert isinstance(transport, SmtpTransport)
        assert isinstance(transport._limiter, TokenBucket)

    async def test_rate_limit_with_a_database_is_shared(
        self, tmp_path: Path, sqlite_url: str
    ) -> None:
        """With a database, the send rate is the bucket every worker shares."""
        settings = settings_for(tmp_path, mail_transport="smtp", send_rate_per_second=5)
        db = Database(normalise_database_url(sqlite_url))
        try:
            transport = transport_from_settings(settings, db)
        finally:
            await db.dispose()
        assert isinstance(transport, SmtpTransport)
        assert isinstance(transport._limiter, DatabaseRateLimiter)
        assert transport._limiter.key == "transport:smtp"
