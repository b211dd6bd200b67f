"""Keyword-only builders for what tests make again and again: settings, service contexts,
readers in each state, libraries, pending imports, transports built by hand.

Imported as `factories` (pytest puts tests/ on the path). Each builder writes through the
real code or the real schema; nothing here is a mock.
"""

from __future__ import annotations

from typing import Any

from clippost.config import Settings

# What a transport built by hand takes from Settings besides its own prefix.
_HTTP_TIMEOUT = ("ses_", "postmark_", "sendgrid_")


def transport_options(prefix: str, **overrides: Any) -> dict[str, Any]:
    """Settings' own defaults for one transport's constructor (`smtp_pool_size` becomes
    `pool_size`), with `overrides`: transports take no defaults of their own."""
    options: dict[str, Any] = {
        name.removeprefix(prefix): field.default
        for name, field in Settings.model_fields.items()
        if name.startswith(prefix)
    }
    if prefix in _HTTP_TIMEOUT:
        options["timeout"] = Settings.model_fields["http_timeout"].default
    options.update(overrides)
    return options
