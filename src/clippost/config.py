"""Typed settings, read from `CLIPPOST_*` environment variables (and a `.env` file).

Nothing here runs at import: `Settings()` is built by the CLI (or a test) and passed in.
With no configuration at all, clippost runs embedded: a SQLite file, a generated secret key
and a Maildir, all inside `CLIPPOST_DATA_DIR`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from clippost.config_providers import ProviderSettings, split_commas
from clippost.db.dialect import normalise_database_url
from clippost.errors import ConfigurationError

TransportName = Literal["maildir", "smtp", "ses", "postmark", "sendgrid", "console"]

_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "please-change", "xxx"}
# A random key of 32 URL-safe characters has about 26 distinct ones; 12 refuses repeats.
_MIN_DISTINCT = 12


class Settings(ProviderSettings):
    """Every setting, its default and what it does; the README lists them all (by test).

    The email providers' and the bounce handling's settings are in `config_providers`."""

    model_config = SettingsConfigDict(env_prefix="CLIPPOST_", env_file=".env", extra="ignore")

    # Storage and identity
    data_dir: Path = Field(
        Path("data"), description="Folder for the SQLite file, the secret key and the Maildir."
    )
    database_url: str | None = Field(
        None,
        description="sqlite:///path or postgresql://user@host/db (default: SQLite in data_dir).",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000", description="Public URL of the site, used in every link."
    )
    secret_key: SecretStr | None = Field(
        None,
        description=(
            "Signs links and CSRF tokens (at least 32 varied random characters); generated "
            "once into the data folder when unset."
        ),
    )
    old_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated previous keys still accepted for links (rotation); each must "
            "pass the checks the current key does."
        ),
    )
    site_name: str = Field(
        "clippost", description="Name shown on pages and in the From display name."
    )
    postal_address: str | None = Field(
        None,
        description=(
            "The operator's postal address, printed in every digest's footer when set "
            "(bulk-mail laws such as CAN-SPAM require one)."
        ),
    )

    # Mail
    mail_from: str = Field(
        "clippost@localhost", description="Sender address (envelope and From header)."
    )
    mail_transport: TransportName = Field(
        "maildir", description="maildir, smtp, ses, postmark, sendgrid or console."
    )
    maildir_path: Path | None = Field(
        None, description="Maildir folder for the maildir transport; default: <data_dir>/mail."
    )
    maildir_fsync: bool = Field(
        False, description="fsync each Maildir message before counting it delivered (slower)."
    )
    staging_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated addresses or @domains: when set, mail to anyone else "
            "is recorded as suppressed, never sent."
        ),
    )
    send_rate_per_second: float = Field(
        0.0,
        description="Messages per second for the transport, shared by all workers (0: unlimited).",
    )

    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(25, description="SMTP server port.")
    smtp_username: str | None = Field(
        None, description="SMTP AUTH user name (AUTH is used when set)."
    )
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "none", description="starttls, tls (implicit, port 465) or none."
    )
    smtp_pool_size: int = Field(
        8, ge=1, le=256, description="Persistent SMTP connections per worker process."
    )
    smtp_timeout: float = Field(
        30.0, gt=0, description="Seconds before an SMTP command counts as a transient failure."
    )
    smtp_reconnect_every: int = Field(
        1000, ge=1, description="Open a fresh SMTP connection after this many messages."
    )
    smtp_validate_certs: bool = Field(
        True, description="Verify the SMTP server's TLS certificate (turn off only for testing)."
    )

    # DKIM: the smtp transport signs; SES, Postmark and SendGrid sign with their own keys.
    dkim_domain: str | None = Field(
        None, description="DKIM signing domain (d=); default: the domain of CLIPPOST_MAIL_FROM."
    )
    dkim_rsa_selector: str | None = Field(
        None, description="Selector of the RSA DKIM key (published at <selector>._domainkey)."
    )
    dkim_rsa_key_file: Path | None = Field(
        None, description="PEM file of the RSA DKIM private key (at least 2048 bits)."
    )
    dkim_ed25519_selector: str | None = Field(
        None, description="Selector of the Ed25519 DKIM key (RFC 8463), signed beside RSA."
    )
    dkim_ed25519_key_file: Path | None = Field(
        None, description="PEM file of the Ed25519 DKIM private key."
    )
    dkim_signing_processes: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=0,
        le=64,
        description=(
            "Processes that make DKIM signatures for each sending process (default: one per "
            "CPU); 0 signs in the sending process itself."
        ),
    )

    # Operations: logs, metrics, the operator page
    log_format: Literal["text", "json"] = Field(
        "text",
        description="text (for people) or json (one JSON object a line, for log collectors).",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, /metrics answers only requests with `Authorization: Bearer <it>`.",
    )
    metrics_cache_seconds: float = Field(
        15.0,
        ge=0,
        description="How long a web process reuses the database figures /metrics reports.",
    )
    worker_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="`clippost worker` serves its send-loop metrics on this port (unset: off).",
    )
    admin_password: SecretStr | None = Field(
        None,
        description=(
            "Turns the operator page /admin on: a password, or its $scrypt$ or $argon2id$ hash "
            "(`clippost admin-password` makes one). Unset: /admin does not exist."
        ),
    )
    admin_login_failures_per_hour: int = Field(
        10,
        ge=1,
        description="Wrong /admin passwords one client address may try per hour.",
    )

    # Worker
    worker_batch_size: int = Field(200, ge=1, le=5000, description="Outbox rows claimed per batch.")
    worker_poll_interval: float = Field(
        0.5, gt=0, description="Seconds between looks for new due rows when idle."
    )
    lease_seconds: int = Field(
        300,
        ge=10,
        description="How long a claimed row stays reserved before another worker may take it.",
    )
    retry_deadline_hours: float = Field(
        48.0, gt=0, description="Transient failures are retried until this long after queueing."
    )
    retry_base_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "Longest first retry delay after a transient failure; doubles with each attempt "
            "(random jitter below it, capped at an hour)."
        ),
    )

    # Digests
    plan_ahead_minutes: float = Field(
        30.0,
        ge=0,
        le=24 * 60,
        description=(
            "Digests are planned this long before their slot (due at the slot), so that a "
            "spike of readers at one hour is planned before it comes."
        ),
    )
    digest_max_lateness_hours: float = Field(
        12.0,
        gt=0,
        description=(
            "After downtime only the latest missed digest is sent, and only if its slot is "
            "less than this late; every other missed slot is recorded as skipped."
        ),
    )
    digest_max_chars: int = Field(
        700,
        ge=100,
        le=100_000,
        description=(
            "Passages longer than this many characters are trimmed in digests, at a sentence "
            "or word boundary, with a link to the whole passage."
        ),
    )

    # Reader side
    max_upload_mb: float = Field(20.0, gt=0, description="Largest accepted upload, in megabytes.")
    confirm_link_hours: float = Field(
        72.0, gt=0, description="Lifetime of confirmation and add-highlights links."
    )
    manage_link_minutes: float = Field(
        60.0, gt=0, description="Lifetime of the manage (magic) links asked for on the site."
    )
    email_manage_link_days: float = Field(
        30.0,
        gt=0,
        description=(
            "Lifetime of the manage links in digests and on the subscribed page (erasing or "
            "signing out every link revokes them sooner)."
        ),
    )
    max_pending_mb: float = Field(
        10.0,
        gt=0,
        description=(
            "Largest parsed upload kept while it waits for its confirmation link, in "
            "megabytes (compressed); a sign-up past it is refused with 413."
        ),
    )
    merge_in_worker_over: int = Field(
        2000,
        ge=0,
        description=(
            "Imports of more highlights than this are merged by the worker, not by the "
            "confirm or add click: the page says they are importing and updates until they "
            "are done (0: every import goes to the worker)."
        ),
    )
    merge_lease_seconds: int = Field(
        30,
        ge=5,
        description=(
            "How long a worker's hold on a big import lasts without news from it; the worker "
            "renews it every third of that while it merges, so another worker resumes the "
            "import this long after the first one died."
        ),
    )
    unconfirmed_retention_hours: float = Field(
        24.0,
        ge=0,
        description=(
            "How long after its link expired an unconfirmed upload, and a reader who never "
            "confirmed, are kept before the worker's sweeper deletes them."
        ),
    )
    rate_limit_retention_hours: float = Field(
        24.0,
        ge=1,
        description=(
            "How long the worker's sweeper keeps a rate-limit window after it opened (at "
            "least the hour every window counts)."
        ),
    )
    emails_per_address_per_hour: int = Field(
        3,
        ge=1,
        description=(
            "Confirmation and magic-link emails one mailbox (sub-address and case ignored) "
            "may receive per hour; a browser its reader has opened their own link in has an "
            "allowance of its own."
        ),
    )
    signups_per_client_per_hour: int = Field(
        30,
        ge=1,
        description=(
            "Sign-ups (and site uploads) one client network may make per hour: an IPv4 address, "
            "an IPv6 /64; counted before the upload is read."
        ),
    )
    page_loads_per_client_per_minute: int = Field(
        120,
        ge=1,
        description=(
            "Loads of a reader's library pages (the manage page, its searches and exports) "
            "one client network may make per minute, in bursts of a quarter of it; counted "
            "in each web process's memory."
        ),
    )
    trust_forwarded_for: bool = Field(
        False,
        description="Take the client address from X-Forwarded-For (behind a trusted proxy only).",
    )
    parse_processes: int = Field(
        default_factory=lambda: min(2, os.cpu_count() or 1),
        ge=0,
        le=64,
        description=(
            "Worker processes that parse uploads beside each web process (default: 2, or 1 "
            "on a one-core machine); 0 parses in a thread of the web process."
        ),
    )
    parse_queue: int = Field(
        8,
        ge=1,
        le=1000,
        description=(
            "Uploads one web process parses or holds waiting for a parse process at most; "
            "the next is refused at once with 503 and Retry-After."
        ),
    )
    max_books_per_import: int = Field(
        3000, ge=1, description="Books one upload may hold (413 past it)."
    )
    max_highlights_per_import: int = Field(
        150_000, ge=1, description="Highlights one upload may hold (413 past it)."
    )
    max_books_per_reader: int = Field(
        5000, ge=1, description="Books one reader's library may hold (413 for an import past it)."
    )
    max_highlights_per_reader: int = Field(
        300_000,
        ge=1,
        description="Highlights one reader's library may hold (413 for an import past it).",
    )

    @field_validator("old_secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("staging_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    # Derived values: computed from the fields, never stored twice.
    @property
    def resolved_database_url(self) -> str:
        return normalise_database_url(
            self.database_url or f"sqlite:///{self.data_dir / 'clippost.db'}"
        )

    @property
    def resolved_maildir(self) -> Path:
        return self.maildir_path or self.data_dir / "mail"

    @property
    def mail_domain(self) -> str:
        """The domain Message-IDs are made under: `mail_from`'s, or localhost."""
        return self.mail_from.rpartition("@")[2] or "localhost"

    @property
    def resolved_dkim_domain(self) -> str:
        return (self.dkim_domain or self.mail_from.rpartition("@")[2]).lower().rstrip(".")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_pending_bytes(self) -> int:
        return int(self.max_pending_mb * 1024 * 1024)

    def ensure_secret_key(self) -> str:
        """The signing key: the configured one, or one generated once into the data folder.

        The old keys still accepted for links (CLIPPOST_OLD_SECRET_KEYS) pass the same
        checks: a link signed with a weak retired key is as forgeable as with a weak
        current one.
        """
        for number, old in enumerate(self.old_secret_keys, start=1):
            _check_key(old.get_secret_value(), f"Key {number} of CLIPPOST_OLD_SECRET_KEYS")
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value()
            _check_key(key, "CLIPPOST_SECRET_KEY")
            return key
        return _load_or_create_key(self.data_dir / "secret_key")


def _check_key(key: str, name: str) -> None:
    """ConfigurationError unless `key` is long and varied enough to be random: 32
    characters, not a placeholder, and at least `_MIN_DISTINCT` different characters
    ("a" * 32 and "0123" * 8 are long, but a guess away)."""
    if key.lower() in _PLACEHOLDER_SECRETS or len(key) < 32 or len(set(key)) < _MIN_DISTINCT:
        raise ConfigurationError(
            f"{name} must be at least 32 random characters (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
        )


def _load_or_create_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes start at once, exactly one key wins and both use it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
