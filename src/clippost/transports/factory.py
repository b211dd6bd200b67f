"""CLIPPOST_* settings to a ready Transport: the one place settings meet transports.

Each transport is built from `Settings` directly, so a setting's default is the one in
`config.py` and nowhere else. With `send_rate_per_second` set and a database given, the
rate limit is the database-held bucket, shared by every worker on every machine; without a
database (a one-off command), an in-process token bucket applies. A configured staging
allowlist wraps whichever transport is built.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from clippost.config import Settings
from clippost.db.engine import Database
from clippost.dkim.keys import configured_keys
from clippost.dkim.signer import DkimSigner
from clippost.errors import ConfigurationError
from clippost.transports.allowlist import Allowlist, AllowlistTransport
from clippost.transports.base import Transport
from clippost.transports.console import ConsoleTransport
from clippost.transports.maildir import MaildirTransport
from clippost.transports.postmark import PostmarkTransport
from clippost.transports.ratelimit import DatabaseRateLimiter, RateLimiter, TokenBucket
from clippost.transports.sendgrid import SendgridTransport
from clippost.transports.ses import SesTransport
from clippost.transports.smtp import SmtpTransport

Builder = Callable[[Settings, RateLimiter | None], Transport]


def transport_from_settings(settings: Settings, db: Database | None = None) -> Transport:
    """The configured transport; raises ConfigurationError when settings cannot work."""
    builder = _BUILDERS.get(settings.mail_transport)
    if builder is None:
        raise ConfigurationError(
            f"Mail transport {settings.mail_transport}: unknown; one of: {', '.join(KINDS)}"
        )
    transport = builder(settings, _limiter(settings, db))
    if settings.staging_allowlist:
        return AllowlistTransport(transport, Allowlist(settings.staging_allowlist))
    return transport


def _limiter(settings: Settings, db: Database | None) -> RateLimiter | None:
    rate = settings.send_rate_per_second
    if rate <= 0:
        return None
    if db is None:
        return TokenBucket(rate)
    return DatabaseRateLimiter(db, key=f"transport:{settings.mail_transport}", rate=rate)


def _maildir(settings: Settings, limiter: RateLimiter | None) -> Transport:
    return MaildirTransport(settings.resolved_maildir, fsync=settings.maildir_fsync)


def _console(settings: Settings, limiter: RateLimiter | None) -> Transport:
    return ConsoleTransport()


def _smtp(settings: Settings, limiter: RateLimiter | None) -> Transport:
    return SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=_secret(settings.smtp_password),
        security=settings.smtp_security,
        pool_size=settings.smtp_pool_size,
        timeout=settings.smtp_timeout,
        reconnect_every=settings.smtp_reconnect_every,
        validate_certs=settings.smtp_validate_certs,
        limiter=limiter,
        signer=dkim_signer(settings),
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


def _ses(settings: Settings, limiter: RateLimiter | None) -> Transport:
    return SesTransport(
        region=settings.ses_region,
        access_key_id=_required(settings, settings.ses_access_key_id, "ses_access_key_id"),
        secret_access_key=_required(
            settings, _secret(settings.ses_secret_access_key), "ses_secret_access_key"
        ),
        endpoint=settings.ses_endpoint,
        configuration_set=settings.ses_configuration_set,
        timeout=settings.http_timeout,
        limiter=limiter,
    )


def _postmark(settings: Settings, limiter: RateLimiter | None) -> Transport:
    return PostmarkTransport(
        server_token=_required(
            settings, _secret(settings.postmark_server_token), "postmark_server_token"
        ),
        endpoint=settings.postmark_endpoint,
        message_stream=settings.postmark_message_stream,
        timeout=settings.http_timeout,
        limiter=limiter,
    )


def _sendgrid(settings: Settings, limiter: RateLimiter | None) -> Transport:
    return SendgridTransport(
        api_key=_required(settings, _secret(settings.sendgrid_api_key), "sendgrid_api_key"),
        endpoint=settings.sendgrid_endpoint,
        timeout=settings.http_timeout,
        limiter=limiter,
    )


_BUILDERS: dict[str, Builder] = {
    "maildir": _maildir,
    "smtp": _smtp,
    "ses": _ses,
    "postmark": _postmark,
    "sendgrid": _sendgrid,
    "console": _console,
}
KINDS = tuple(_BUILDERS)


def _required(settings: Settings, value: str | None, name: str) -> str:
    if not value:
        raise ConfigurationError(
            f"Mail transport {settings.mail_transport}: the {name} option is required for "
            f"this transport (CLIPPOST_{name.upper()})"
        )
    return value


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
