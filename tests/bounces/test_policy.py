"""The bounce policy is pure: a verdict per event kind, and a kind per status code."""

from __future__ import annotations

import pytest

from clippost.bounces.events import EventKind
from clippost.bounces.policy import NOTHING, Verdict, bounce_kind, verdict
from clippost.models import SuppressionReason


class TestVerdict:
    def test_hard_bounce_suppresses_at_once(self) -> None:
        """A hard bounce suppresses the address as bounced, without unsubscribing."""
        assert verdict(EventKind.HARD_BOUNCE, soft_bounces=0, soft_limit=3) == Verdict(
            SuppressionReason.BOUNCED
        )

    def test_complaint_suppresses_and_unsubscribes(self) -> None:
        """A complaint suppresses as complained and unsubscribes the reader."""
        assert verdict(EventKind.COMPLAINT, soft_bounces=0, soft_limit=3) == Verdict(
            SuppressionReason.COMPLAINED, unsubscribe=True
        )

    @pytest.mark.parametrize("count", [1, 2])
    def test_soft_bounces_below_the_limit_do_nothing(self, count: int) -> None:
        """Soft bounces under the limit leave the address alone."""
        assert verdict(EventKind.SOFT_BOUNCE, soft_bounces=count, soft_limit=3) is NOTHING

    @pytest.mark.parametrize("count", [3, 7])
    def test_soft_bounces_at_the_limit_suppress(self, count: int) -> None:
        """The soft bounce that reaches the limit suppresses the address as bounced."""
        assert verdict(EventKind.SOFT_BOUNCE, soft_bounces=count, soft_limit=3) == Verdict(
            SuppressionReason.BOUNCED
        )

    def test_a_delivery_does_nothing(self) -> None:
        """A delivery report is kept and acted on by nothing."""
        assert verdict(EventKind.DELIVERY, soft_bounces=99, soft_limit=1) is NOTHING


class TestBounceKind:
    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            ("5.1.1", EventKind.HARD_BOUNCE),
            ("smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound", EventKind.HARD_BOUNCE),
            ("5.2.1", EventKind.HARD_BOUNCE),
            ("5.2.2", EventKind.SOFT_BOUNCE),
            ("5.7.1", EventKind.SOFT_BOUNCE),
            ("4.4.7", EventKind.SOFT_BOUNCE),
        ],
    )
    def test_status_codes(self, status: str, kind: EventKind) -> None:
        """Bad-address codes are hard; mailbox full, policy and temporary codes are soft."""
        assert bounce_kind(status) is kind

    @pytest.mark.parametrize("status", ["", "2.0.0", "550 user unknown", "5.x.y"])
    def test_no_failure_code_is_no_kind(self, status: str) -> None:
        """Without an RFC 3463 failure code there is no kind to give."""
        assert bounce_kind(status) is None
