"""next_attempt: exponential backoff with full jitter, a Retry-After floor, a deadline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.mail import Transient
from clippost.outbox.retry import next_attempt

QUEUED = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def delay(
    attempts: int, *, now: datetime | None = None, retry_after: float | None = None, seed: int = 1
) -> timedelta | None:
    moment = now or QUEUED + timedelta(minutes=5)
    at = next_attempt(
        attempts=attempts,
        first_queued_at=QUEUED,
        now=moment,
        result=Transient("451 later", retry_after=retry_after),
        rng=random.Random(seed),
    )
    return None if at is None else at - moment


class TestNextAttempt:
    @given(attempts=st.integers(1, 200), seed=st.integers(0, 2**32))
    def test_delay_within_exponential_ceiling(self, attempts: int, seed: int) -> None:
        """The delay lies in [0, min(3600, 30 * 2**(attempts-1))] seconds."""
        got = delay(attempts, seed=seed)
        assert got is not None
        ceiling = min(3600.0, 30.0 * 2 ** min(attempts - 1, 60))
        assert timedelta(0) <= got <= timedelta(seconds=ceiling)

    def test_delays_grow_with_attempts(self) -> None:
        """On average, later attempts wait longer (up to the cap)."""
        means = [
            sum(delay(a, seed=s).total_seconds() for s in range(300)) / 300  # type: ignore[union-attr]
            for a in (1, 3, 5, 8)
        ]
        assert means == sorted(means)
        assert 10 < means[0] < 20
        assert 1500 < means[-1] < 2100

    def test_jitter_spreads_a_batch(self) -> None:
        """Messages that failed together are not all retried at the same moment."""
        assert len({delay(4, seed=s) for s in range(50)}) > 40

    def test_same_seed_same_answer(self) -> None:
        """The policy is pure: the same inputs give the same time."""
        assert delay(3, seed=7) == delay(3, seed=7)

    def test_retry_after_is_a_floor(self) -> None:
        """A server's Retry-After is never undercut."""
        for seed in range(50):
            got = delay(1, retry_after=600, seed=seed)
            assert got is not None
            assert got >= timedelta(seconds=600)

    def test_gives_up_after_the_deadline(self) -> None:
        """At or past 48 hours since queueing, the answer is None."""
        assert delay(10, now=QUEUED + timedelta(hours=48)) is None
        assert delay(10, now=QUEUED + timedelta(hours=50)) is None

    def test_last_attempt_lands_on_the_deadline(self) -> None:
        """Close to the deadline, the next attempt is at the deadline, not dropped."""
        now = QUEUED + timedelta(hours=47, minutes=59, seconds=50)
        at = next_attempt(
            attempts=20,
            first_queued_at=QUEUED,
            now=now,
            result=Transient("busy"),
            rng=random.Random(3),
        )
        assert at is not None
        assert now <= at <= QUEUED + timedelta(hours=48)

    def test_retry_after_past_the_deadline_gives_up(self) -> None:
        """A Retry-After reaching past the deadline means failing now."""
        now = QUEUED + timedelta(hours=47, minutes=30)
        assert delay(2, now=now, retry_after=3600) is None

    def test_custom_deadline_base_and_cap(self) -> None:
        """deadline, base and cap are honoured."""
        now = QUEUED + timedelta(minutes=1)
        at = next_attempt(
            attempts=10,
            first_queued_at=QUEUED,
            now=now,
            result=Transient("x"),
            rng=random.Random(0),
            deadline=timedelta(hours=1),
            base=1,
            cap=5,
        )
        assert at is not None
        assert timedelta(0) <= at - now <= timedelta(seconds=5)

    def test_attempts_must_be_positive(self) -> None:
        """Zero attempts is a caller error."""
        with pytest.raises(ValueError, match="at least 1"):
            delay(0)
