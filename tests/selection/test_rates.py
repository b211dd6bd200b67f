"""Rates and strides: book weights, favourites, the age bias, all powers of two of a round."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.selection import ONE, Bias, Entry, Reader, rate, stride
from clippost.selection.rates import age_factor, period_start, round_end, round_of, strides

SPAN = Reader(bias=Bias.RECENT, oldest=date(2020, 1, 1), newest=date(2023, 1, 1))


def made(year: int, month: int = 6, day: int = 1) -> datetime:
    return datetime(year, month, day, 12, 0)


class TestStride:
    @pytest.mark.parametrize(
        ("weight", "favourite", "expected"),
        [
            (1.0, False, ONE),
            (0.5, False, 2 * ONE),
            (2.0, False, ONE // 2),
            (1.0, True, ONE // 2),
            (2.0, True, ONE // 4),
            (0.5, True, ONE),
        ],
    )
    def test_weight_and_favourite(self, weight: float, favourite: bool, expected: int) -> None:
        """Normal is one round; less two; more and a favourite half; the factors multiply."""
        assert stride(Reader(), weight=weight, favourite=favourite, highlighted_at=None) == expected

    def test_never_is_placed_as_normal(self) -> None:
        """A "never" book has no rate; its stride, used only to place it, is a round."""
        assert rate(Reader(), weight=0.0, favourite=False, highlighted_at=None) == 0
        assert stride(Reader(), weight=0.0, favourite=False, highlighted_at=None) == ONE


class TestAgeBias:
    def test_recent_favours_the_newest_third(self) -> None:
        """With "recent": newest third 2, middle 1, oldest 0.5."""
        assert age_factor(SPAN, made(2022, 12)) == 2.0
        assert age_factor(SPAN, made(2021, 7)) == 1.0
        assert age_factor(SPAN, made(2020, 2)) == 0.5

    def test_older_is_the_mirror(self) -> None:
        """With "older": oldest third 2, newest 0.5."""
        older = Reader(bias=Bias.OLDER, oldest=SPAN.oldest, newest=SPAN.newest)
        assert age_factor(older, made(2020, 2)) == 2.0
        assert age_factor(older, made(2022, 12)) == 0.5

    def test_no_bias_no_date_no_span_mean_one(self) -> None:
        """No bias, an undated highlight, or a library of one date: factor 1."""
        assert age_factor(Reader(oldest=SPAN.oldest, newest=SPAN.newest), made(2022, 12)) == 1.0
        assert age_factor(SPAN, None) == 1.0
        flat = Reader(bias=Bias.RECENT, oldest=date(2021, 1, 1), newest=date(2021, 1, 1))
        assert age_factor(flat, made(2021, 1, 1)) == 1.0

    def test_dates_outside_the_span_clamp(self) -> None:
        """A date beyond the stored span counts as its nearest end."""
        assert age_factor(SPAN, made(2030)) == 2.0
        assert age_factor(SPAN, made(2001)) == 0.5

    def test_bias_multiplies_into_the_stride(self) -> None:
        """A recent favourite of a "more" book comes eight times a round."""
        assert stride(SPAN, weight=2.0, favourite=True, highlighted_at=made(2022, 12)) == ONE // 8


class TestPeriods:
    def test_round_helpers(self) -> None:
        """Rounds are ONE long: round_of and round_end agree on the boundaries."""
        assert round_of(ONE - 1) == 0
        assert round_of(ONE) == 1
        assert round_end(0) == ONE
        assert round_end(ONE + 5) == 2 * ONE

    def test_period_start_aligns_on_the_stride(self) -> None:
        """A half-round stride has periods starting at every half round."""
        assert period_start(ONE + ONE // 2 + 7, ONE // 2) == ONE + ONE // 2
        assert period_start(3 * ONE, 2 * ONE) == 2 * ONE


DATES = st.none() | st.datetimes(datetime(2000, 1, 1), datetime(2030, 12, 31))
DAYS = st.none() | st.dates(date(2000, 1, 1), date(2030, 12, 31))


class TestStrides:
    @given(
        bias=st.sampled_from(Bias),
        oldest=DAYS,
        newest=DAYS,
        rows=st.lists(
            st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.booleans(), DATES), max_size=30
        ),
    )
    def test_each_is_the_stride(
        self,
        bias: Bias,
        oldest: date | None,
        newest: date | None,
        rows: list[tuple[float, bool, datetime | None]],
    ) -> None:
        """The one-pass strides of a digest's picks are `stride`'s, for every bias, span
        (none, empty, reversed), weight ("never" included), favourite and date."""
        reader = Reader(bias=bias, oldest=oldest, newest=newest)
        entries = [
            Entry(k, 1, 0, weight=w, favourite=f, highlighted_at=m)
            for k, (w, f, m) in enumerate(rows)
        ]
        expected = [stride(reader, weight=w, favourite=f, highlighted_at=m) for w, f, m in rows]
        assert strides(reader, entries) == expected
