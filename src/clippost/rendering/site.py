"""What every email takes from the operator, not from its payload: read at send time.

A queued row keeps only what belongs to its reader; the site's name, postal address and
URL, and the passage length limit, come from the settings of the process that renders it,
so an operator's change applies to everything sent after it, rows already queued included.
"""

from __future__ import annotations

from dataclasses import dataclass

from clippost.config import Settings


@dataclass(frozen=True, slots=True)
class Site:
    name: str = "clippost"
    base_url: str | None = None  # the home page the masthead links to
    postal_address: str | None = None  # printed in the digest footer when set
    max_chars: int = 700  # longer passages are trimmed

    @classmethod
    def from_settings(cls, settings: Settings) -> Site:
        return cls(
            name=settings.site_name,
            base_url=settings.base_url,
            postal_address=(settings.postal_address or "").strip() or None,
            max_chars=settings.digest_max_chars,
        )


DEFAULT_SITE = Site()
