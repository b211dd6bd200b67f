"""What every service call is given: settings, links, the mail domain, and the moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clippost.config import Settings
from clippost.links import Links


@dataclass(frozen=True, slots=True)
class ServiceContext:
    settings: Settings
    links: Links
    now: datetime  # aware UTC; services never read the clock
    mail_domain: str  # the domain of Message-IDs (the part of mail_from after the @)
