"""CLIPPOST_* settings to a ready Transport: the one place settings meet transports.

With `send_rate_per_second` set and a database given, the rate limit is the database-held
bucket, shared by every worker on every machine; without a database (a one-off command),
the transport's own in-process bucket applies.
"""

from __future__ import annotations

from pydantic import SecretStr

from clippost.config import Settings
from clippost.db.engine import Database
from clippost.dkim.keys import configured_keys
from clippost.dkim.signer import DkimSigner
from clippost.errors import ConfigurationError
from clippost.outbox.ratelimit import DatabaseRateLimiter
from clippost.transports import TransportOptions, build_transport
from clippost.transports.base import Transport


def transport_options(settings: Settings) -> TransportOptions:
    return TransportOptions(
        maildir_path=settings.resolved_maildir,
        maildir_fsync=settings.maildir_fsync,
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_username=settings.smtp_username,
        smtp_password=_secret(settings.smtp_password),
        smtp_security=settings.smtp_security,
        smtp_validate_certs=settings.smtp_validate_certs,
        smtp_pool_size=settings.smtp_pool_size,
        smtp_timeout=settings.smtp_timeout,
        smtp_reconnect_every=settings.smtp_reconnect_every,
        ses_region=settings.ses_region,
        ses_access_key_id=settings.ses_access_key_id,
        ses_secret_access_key=_secret(settings.ses_secret_access_key),
        ses_endpoint=settings.ses_endpoint,
        ses_configuration_set=settings.ses_configuration_set,
        postmark_server_token=_secret(settings.postmark_server_token),
        postmark_endpoint=settings.postmark_endpoint,
        postmark_message_stream=settings.postmark_message_stream,
        sendgrid_api_key=_secret(settings.sendgrid_api_key),
        sendgrid_endpoint=settings.sendgrid_endpoint,
        http_timeout=settings.http_timeout,
        rate_per_second=settings.send_rate_per_second,
        allowlist=tuple(settings.staging_allowlist),
        dkim=dkim_signer(settings) if settings.mail_transport == "smtp" else None,
    )


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """The DKIM signer the settings configure, None without keys; ConfigurationError for
    a key that cannot be used (start-up stops: mail must not leave unsigned by mistake)."""
    keys = configured_keys(settings)
    if not keys:
        return None
    return DkimSigner(
        keys,
        domain=settings.resolved_dkim_domain,
        processes=settings.dkim_signing_processes,
    )


def transport_from_settings(settings: Settings, db: Database | None = None) -> Transport:
    """The configured transport; raises ConfigurationError when settings cannot work."""
    limiter = None
    if db is not None and settings.send_rate_per_second > 0:
        limiter = DatabaseRateLimiter(
            db, key=f"transport:{settings.mail_transport}", rate=settings.send_rate_per_second
        )
    try:
        return build_transport(
            settings.mail_transport, transport_options(settings), limiter=limiter
        )
    except ValueError as exc:
        raise ConfigurationError(f"Mail transport {settings.mail_transport}: {exc}") from exc


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
