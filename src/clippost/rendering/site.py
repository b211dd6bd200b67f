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

    def __post_init__(self) -> None:
        # The operator's words are part of every email's frame (rendering/stencils.py), where
        # U+E000 and U+E001 mark the reader's values: they cannot be in the frame's own text.
        for field in ("name", "postal_address"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, value.translate(_STENCIL_MARKS))

    @classmethod
    def from_settings(cls, settings: Settings) -> Site:
        return cls(
            name=settings.site_name,
            base_url=settings.base_url,
            postal_address=(settings.postal_address or "").strip() or None,
            max_chars=settings.digest_max_chars,
        )


_STENCIL_MARKS = {0xE000: None, 0xE001: None}


DEFAULT_SITE = Site()
