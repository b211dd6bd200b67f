"""Every table, imported here so that `Base.metadata` knows them all (Alembic, tests)."""

from clippost.models.book import BOOK_WEIGHTS, Book, BookFrequency
from clippost.models.delivery_event import DeliveryEvent
from clippost.models.highlight import Highlight
from clippost.models.import_progress import ImportProgress
from clippost.models.outbox import OutboxMessage, OutboxState
from clippost.models.pending_import import PendingImport
from clippost.models.rate_limit import RateLimitWindow, TokenBucket
from clippost.models.rotation import RotationEntry
from clippost.models.site_state import SiteState
from clippost.models.skipped_digest import SkippedDigest, SkipReason
from clippost.models.subscriber import Subscriber, SubscriberStatus
from clippost.models.suppression import BLOCKS_REQUESTED_MAIL, Suppression, SuppressionReason

__all__ = [
    "BLOCKS_REQUESTED_MAIL",
    "BOOK_WEIGHTS",
    "Book",
    "BookFrequency",
    "DeliveryEvent",
    "Highlight",
    "ImportProgress",
    "OutboxMessage",
    "OutboxState",
    "PendingImport",
    "RateLimitWindow",
    "RotationEntry",
    "SiteState",
    "SkipReason",
    "SkippedDigest",
    "Subscriber",
    "SubscriberStatus",
    "Suppression",
    "SuppressionReason",
    "TokenBucket",
]
