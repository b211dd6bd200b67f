"""Transports: how a rendered Message reaches a mailbox. `build_transport` picks one.

The settings module maps CLIPPOST_* settings onto TransportOptions; nothing here reads the
environment. Each transport module is imported only when it is built: `rendering.mime`
imports `transports.base`, which runs this file first, and the transports import
`rendering.mime` in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from clippost.transports.allowlist import Allowlist, AllowlistTransport
from clippost.transports.base import Transport
from clippost.transports.ratelimit import RateLimiter, TokenBucket

if TYPE_CHECKING:
    from clippost.dkim.signer import DkimSigner

KINDS = ("maildir", "smtp", "ses", "postmark", "sendgrid", "console")


@dataclass(frozen=True, slots=True)
class TransportOptions:
    maildir_path: Path = Path("data/mail")
    maildir_fsync: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_validate_certs: bool = True
    smtp_pool_size: int = 8
    smtp_timeout: float = 30.0
    smtp_reconnect_every: int = 1000
    ses_region: str = "us-east-1"
    ses_access_key_id: str | None = None
    ses_secret_access_key: str | None = None
    ses_endpoint: str | None = None
    ses_configuration_set: str | None = None
    postmark_server_token: str | None = None
    postmark_endpoint: str = "https://api.postmarkapp.com"
    postmark_message_stream: str = "outbound"
    sendgrid_api_key: str | None = None
    sendgrid_endpoint: str = "https://api.sendgrid.com"
    http_timeout: float = 30.0
    rate_per_second: float = 0.0  # 0: unlimited
    allowlist: tuple[str, ...] = ()
    dkim: DkimSigner | None = None  # signs what the smtp transport sends


def build_transport(
    kind: str, options: TransportOptions, *, limiter: RateLimiter | None = None
) -> Transport:
    """The transport named `kind`, behind the staging allowlist when one is configured.

    `limiter` is the rate limit to use (a limiter shared by all workers); without one, a
    positive `rate_per_second` gets an in-process token bucket."""
    if limiter is None and options.rate_per_second > 0:
        limiter = TokenBucket(options.rate_per_second)
    transport = _inner(kind, options, limiter)
    if options.allowlist:
        return AllowlistTransport(transport, Allowlist(options.allowlist))
    return transport


def _inner(kind: str, o: TransportOptions, limiter: RateLimiter | None) -> Transport:
    builders = {
        "maildir": _maildir,
        "console": _console,
        "smtp": _smtp,
        "ses": _ses,
        "postmark": _postmark,
        "sendgrid": _sendgrid,
    }
    if kind not in builders:
        raise ValueError(f"unknown mail transport {kind!r}; one of: {', '.join(KINDS)}")
    return builders[kind](o, limiter)


def _maildir(o: TransportOptions, limiter: RateLimiter | None) -> Transport:
    from clippost.transports.maildir import MaildirTransport

    return MaildirTransport(o.maildir_path, fsync=o.maildir_fsync)


def _console(o: TransportOptions, limiter: RateLimiter | None) -> Transport:
    from clippost.transports.console import ConsoleTransport

    return ConsoleTransport()


def _smtp(o: TransportOptions, limiter: RateLimiter | None) -> Transport:
    from clippost.transports.smtp import SmtpTransport

    return SmtpTransport(
        host=o.smtp_host,
        port=o.smtp_port,
        username=o.smtp_username,
        password=o.smtp_password,
        security=o.smtp_security,
        pool_size=o.smtp_pool_size,
        timeout=o.smtp_timeout,
        reconnect_every=o.smtp_reconnect_every,
        validate_certs=o.smtp_validate_certs,
        limiter=limiter,
        signer=o.dkim,
    )


def _ses(o: TransportOptions, limiter: RateLimiter | None) -> Transport:
    from clippost.transports.ses import SesTransport

    return SesTransport(
        region=o.ses_region,
        access_key_id=_required(o.ses_access_key_id, "ses_access_key_id"),
        secret_access_key=_required(o.ses_secret_access_key, "ses_secret_access_key"),
        endpoint=o.ses_endpoint,
        configuration_set=o.ses_configuration_set,
        timeout=o.http_timeout,
        limiter=limiter,
    )


def _postmark(o: TransportOptions, limiter: RateLimiter | None) -> Transport:
    from clippost.transports.postmark import PostmarkTransport

    return PostmarkTransport(
        server_token=_required(o.postmark_server_token, "postmark_server_token"),
        endpoint=o.postmark_endpoint,
        message_stream=o.postmark_message_stream,
        timeout=o.http_timeout,
        limiter=limiter,
    )


def _sendgrid(o: TransportOptions, limiter: RateLimiter | None) -> Transport:
    from clippost.transports.sendgrid import SendgridTransport

    return SendgridTransport(
        api_key=_required(o.sendgrid_api_key, "sendgrid_api_key"),
        endpoint=o.sendgrid_endpoint,
        timeout=o.http_timeout,
        limiter=limiter,
    )


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"the {name} option is required for this transport")
    return value
