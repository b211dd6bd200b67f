"""What every request-scoped service call is given: settings, links, and the moment."""

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
