"""The settings of the email APIs (SES, Postmark, SendGrid) and of bounce handling.

A base of `config.Settings`, which every process reads: kept apart only so that each
module stays short. Every field is a `CLIPPOST_*` variable like the others.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIPPOST_", env_file=".env", extra="ignore")

    ses_region: str = Field("us-east-1", description="Amazon SES region.")
    ses_access_key_id: str | None = Field(None, description="Amazon SES access key id.")
    ses_secret_access_key: SecretStr | None = Field(
        None, description="Amazon SES secret access key."
    )
    ses_endpoint: str | None = Field(
        None, description="Override the SES API URL (testing, VPC endpoints)."
    )
    ses_configuration_set: str | None = Field(
        None, description="Amazon SES configuration set (event publishing, IP pools)."
    )

    postmark_server_token: SecretStr | None = Field(None, description="Postmark server token.")
    postmark_message_stream: str = Field(
        "outbound", description="Postmark message stream for digests."
    )
    postmark_endpoint: str = Field("https://api.postmarkapp.com", description="Postmark API URL.")

    sendgrid_api_key: SecretStr | None = Field(None, description="SendGrid API key.")
    sendgrid_endpoint: str = Field("https://api.sendgrid.com", description="SendGrid API URL.")
    http_timeout: float = Field(
        30.0, gt=0, description="Seconds before an email API request counts as a transient failure."
    )

    # Bounces and complaints
    verp: bool = Field(
        False,
        description=(
            "SMTP: send each message with the envelope sender bounces+<outbox id>-<tag>@<mail "
            "domain>, so that a bounce names the message it is about (see docs/operating.md)."
        ),
    )
    soft_bounce_limit: int = Field(
        3,
        ge=1,
        description=(
            "Soft bounces (mailbox full, greylisted to death...) of distinct messages within "
            "CLIPPOST_SOFT_BOUNCE_DAYS that suppress an address."
        ),
    )
    soft_bounce_days: float = Field(
        14.0, gt=0, description="The window, in days, in which soft bounces are counted."
    )
    ses_sns_topic_arns: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated SNS topic ARNs whose SES notifications /webhooks/ses accepts "
            "(unset: the endpoint is off)."
        ),
    )
    postmark_webhook_username: str | None = Field(
        None,
        description="Basic-auth user name Postmark's bounce and spam webhooks must send.",
    )
    postmark_webhook_password: SecretStr | None = Field(
        None,
        description=("Basic-auth password for /webhooks/postmark (both set: the endpoint is on)."),
    )
    sendgrid_webhook_public_key: str | None = Field(
        None,
        description=(
            "The signed event webhook's verification key from SendGrid (base64 or PEM; "
            "set: /webhooks/sendgrid is on)."
        ),
    )
    sendgrid_webhook_tolerance_seconds: int = Field(
        600,
        ge=1,
        description="How far a SendGrid webhook's signed timestamp may be from now, in seconds.",
    )
    bounce_imap_password: SecretStr | None = Field(
        None,
        description=(
            "Password for `clippost bounces --imap` when the URL carries none (keeps it out "
            "of the process list)."
        ),
    )

    @field_validator("ses_sns_topic_arns", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        return split_commas(value)


def split_commas(value: object) -> object:
    """A comma-separated environment value as a list (a list is kept as it is)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
