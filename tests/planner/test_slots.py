"""Slots: the local hour in the reader's timezone, through DST gaps and folds, pauses, catch-up."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from clippost.errors import BadInput
from clippost.planner.slots import (
    MAX_CATCH_UP,
    Cadence,
    Schedule,
    due_slots,
    next_slot,
    slot_key,
    stored_columns,
    stored_schedule,
    to_local,
    validate_timezone,
)

ZONES = [
    "UTC",
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Havana",  # DST changes at midnight
    "Australia/Lord_Howe",  # 30-minute DST
    "Asia/Kolkata",
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Apia",
    "Antarctica/Troll",  # two-hour jumps
]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def schedule(
    cadence: str = "daily",
    *,
    hour: int = 7,
    timezone: str = "UTC",
    weekday: int = 0,
    day_of_month: int = 1,
    paused_until: date | None = None,
) -> Schedule:
    return Schedule(
        cadence=Cadence(cadence),
        hour=hour,
        timezone=timezone,
        weekday=weekday,
        day_of_month=day_of_month,
        paused_until=paused_until,
    )


def local(slot: datetime, zone: str) -> datetime:
    return slot.astimezone(ZoneInfo(zone))


class TestSchedule:
    def test_normalises_a_plain_string_cadence(self) -> None:
        """A cadence read from the database as a plain string becomes the enum."""
        made = Schedule(cadence="weekly", hour=7, timezone="UTC")  # type: ignore[arg-type]
        assert made.cadence is Cadence.WEEKLY

    def test_canonicalises_timezone_case(self) -> None:
        """A zone name in the wrong case is stored under its IANA spelling."""
        assert schedule(timezone="europe/paris").timezone == "Europe/Paris"

    @pytest.mark.parametrize(
        ("field", "value"),
        [("hour", 24), ("hour", -1), ("weekday", 7), ("day_of_month", 29), ("day_of_month", 0)],
    )
    def test_rejects_out_of_range_fields(self, field: str, value: int) -> None:
        """Hour, weekday and day of month outside their ranges are BadInput."""
        with pytest.raises(BadInput):
            schedule(**{field: value})  # type: ignore[arg-type]

    def test_rejects_unknown_cadence(self) -> None:
        """An unknown cadence is BadInput naming the choices."""
        with pytest.raises(BadInput, match="daily, weekdays, weekly, monthly"):
            Schedule(cadence="hourly", hour=7, timezone="UTC")  # type: ignore[arg-type]

    def test_describes_itself_in_words(self) -> None:
        """describe() says cadence, hour, zone and pause in plain words."""
        assert schedule("weekly", weekday=2, timezone="Europe/Paris").describe() == (
            "every Wednesday at 07:00 (Europe/Paris)"
        )
        assert schedule("monthly", day_of_month=22, paused_until=date(2027, 1, 3)).describe() == (
            "on the 22nd of every month at 07:00 (UTC), paused until 3 January 2027"
        )


class TestStoredSchedule:
    def test_a_rows_columns_become_its_schedule(self) -> None:
        """A stored row's columns, whatever object holds them, give the Schedule they
        describe, normalised as Schedule normalises (the planner and the sender's re-check
        both build it here)."""
        row = SimpleNamespace(
            cadence="weekly",
            hour=7,
            timezone="europe/paris",
            weekday=2,
            day_of_month=1,
            paused_until=date(2027, 1, 3),
        )
        columns = stored_columns(row)
        assert columns == ("weekly", 7, "europe/paris", 2, 1, date(2027, 1, 3))
        assert stored_schedule(columns) == Schedule(
            cadence=Cadence.WEEKLY,
            hour=7,
            timezone="Europe/Paris",
            weekday=2,
            paused_until=date(2027, 1, 3),
        )

    @pytest.mark.parametrize(
        "columns",
        [("hourly", 7, "UTC", 0, 1, None), ("daily", 7, "Mars/Olympus", 0, 1, None)],
    )
    def test_columns_that_no_longer_validate_are_bad_input(
        self, columns: tuple[str, int, str, int, int, None]
    ) -> None:
        """A cadence written by hand or a zone gone from the tz database is BadInput (which
        the planner logs and retries a day later), never another exception."""
        with pytest.raises(BadInput):
            stored_schedule(columns)

    def test_a_result_rows_columns_are_its_attributes(self) -> None:
        """A database row's schedule columns are the ones its attributes name, in the same
        order, whatever else the row holds around them."""
        engine = create_engine("sqlite://")
        query = text(
            "SELECT 7 AS id, 'weekly' AS cadence, 'x' AS email, 7 AS hour, NULL AS weekday, "
            "'Europe/Paris' AS timezone, 3 AS day_of_month, '2027-01-03' AS paused_until"
        )
        with engine.connect() as connection:
            row = connection.execute(query).one()
        namespace = SimpleNamespace(**row._asdict())
        assert stored_columns(row) == stored_columns(namespace)
        assert stored_columns(row) == ("weekly", 7, "Europe/Paris", None, 3, "2027-01-03")


class TestValidateTimezone:
    def test_accepts_iana_names(self) -> None:
        """A valid IANA name comes back unchanged."""
        assert validate_timezone("America/Argentina/Buenos_Aires") == (
            "America/Argentina/Buenos_Aires"
        )

    @pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "Europe/", " "])
    def test_rejects_unknown_zones_clearly(self, name: str) -> None:
        """Unknown or malformed zone names raise BadInput with an example of a good one."""
        with pytest.raises(BadInput, match=r"Unknown timezone.*Europe/Paris"):
            validate_timezone(name)


class TestNextSlot:
    def test_daily_at_local_hour(self) -> None:
        """A daily slot is the configured hour on the reader's clock, returned in UTC."""
        slot = next_slot(schedule(hour=7, timezone="Europe/Paris"), utc(2026, 11, 22, 12))
        assert slot == utc(2026, 11, 23, 6)
        assert slot.tzinfo is UTC

    def test_strictly_after(self) -> None:
        """A slot exactly at `after` is not returned: the next one is."""
        slot = next_slot(schedule(hour=7), utc(2026, 11, 23, 7))
        assert slot == utc(2026, 11, 24, 7)

    def test_weekdays_skip_the_weekend(self) -> None:
        """Weekday cadence goes from Friday to Monday."""
        friday = utc(2026, 11, 27, 8)
        assert next_slot(schedule("weekdays"), friday) == utc(2026, 11, 30, 7)

    def test_weekly_on_chosen_day(self) -> None:
        """Weekly cadence sends on the chosen weekday only."""
        slot = next_slot(schedule("weekly", weekday=3), utc(2026, 11, 22))
        assert slot == utc(2026, 11, 26, 7)
        assert slot.weekday() == 3

    def test_monthly_on_chosen_day(self) -> None:
        """Monthly cadence sends on the chosen day of the month, rolling into the next year."""
        assert next_slot(schedule("monthly", day_of_month=15), utc(2026, 12, 16)) == utc(
            2027, 1, 15, 7
        )

    def test_local_date_not_utc_date(self) -> None:
        """Ahead of UTC, the slot is on the reader's local date, the UTC day before."""
        slot = next_slot(
            schedule("weekly", weekday=0, hour=6, timezone="Pacific/Auckland"),
            utc(2026, 11, 20),
        )
        assert local(slot, "Pacific/Auckland") == datetime(
            2026, 11, 23, 6, tzinfo=ZoneInfo("Pacific/Auckland")
        )
        assert slot == utc(2026, 11, 22, 17)

    def test_spring_forward_gap_sends_when_clocks_jump(self) -> None:
        """02:00 on the night 02:00-03:00 does not exist is sent at 03:00 local (07:00 UTC)."""
        zone = "America/New_York"
        slot = next_slot(schedule(hour=2, timezone=zone), utc(2026, 3, 7, 12))
        assert slot == utc(2026, 3, 8, 7)
        assert local(slot, zone).hour == 3

    def test_half_hour_gap_sends_at_first_valid_instant(self) -> None:
        """Lord Howe's 02:00-02:30 gap sends 02:00 at 02:30, the instant clocks jump to."""
        zone = "Australia/Lord_Howe"
        slot = next_slot(schedule(hour=2, timezone=zone), utc(2026, 10, 3, 0))
        shown = local(slot, zone)
        assert (shown.date(), shown.hour, shown.minute) == (date(2026, 10, 4), 2, 30)

    def test_hour_inside_a_two_hour_gap_sends_at_its_end(self) -> None:
        """Troll's clocks jump 01:00 to 03:00: a 02:00 slot goes at 03:00, not 04:00."""
        zone = "Antarctica/Troll"
        slot = next_slot(schedule(hour=2, timezone=zone), utc(2026, 3, 28, 12))
        assert local(slot, zone) == datetime(2026, 3, 29, 3, tzinfo=ZoneInfo(zone))

    def test_fall_back_fold_sends_once_at_first_occurrence(self) -> None:
        """01:00 happening twice (fall back) is sent once, at the first, daylight-time 01:00."""
        zone = "America/New_York"
        slots = due_slots(
            schedule(hour=1, timezone=zone), utc(2026, 10, 31, 12), utc(2026, 11, 2, 12), limit=9
        )
        assert slots == [utc(2026, 11, 1, 5), utc(2026, 11, 2, 6)]
        assert local(slots[0], zone).utcoffset() == timedelta(hours=-4)

    def test_skipped_day_gives_no_second_slot_on_next_day(self) -> None:
        """Samoa skipped 2011-12-30: the daily slot of that date is dropped, not doubled."""
        zone = "Pacific/Apia"
        slots = due_slots(
            schedule(hour=5, timezone=zone), utc(2011, 12, 28), utc(2012, 1, 2), limit=9
        )
        days = [local(s, zone).date() for s in slots]
        assert date(2011, 12, 30) not in days
        assert len(days) == len(set(days))

    def test_skipped_day_still_sends_weekly(self) -> None:
        """A weekly Friday slot on Samoa's skipped Friday is sent when clocks land on Saturday."""
        zone = "Pacific/Apia"
        slot = next_slot(schedule("weekly", weekday=4, hour=5, timezone=zone), utc(2011, 12, 27))
        assert local(slot, zone) == datetime(2011, 12, 31, 0, tzinfo=ZoneInfo(zone))

    def test_paused_until_skips_through_that_local_day(self) -> None:
        """While paused, the first slot is on the local day after paused_until."""
        paused = schedule(hour=23, timezone="Europe/Paris", paused_until=date(2026, 12, 24))
        slot = next_slot(paused, utc(2026, 11, 22))
        assert local(slot, "Europe/Paris") == datetime(
            2026, 12, 25, 23, tzinfo=ZoneInfo("Europe/Paris")
        )

    def test_past_pause_changes_nothing(self) -> None:
        """A pause that ended before `after` does not move the next slot."""
        assert next_slot(schedule(paused_until=date(2026, 1, 1)), utc(2026, 11, 22, 12)) == utc(
            2026, 11, 23, 7
        )

    def test_rejects_naive_datetimes(self) -> None:
        """A naive `after` is a programming error, not a guess at a timezone."""
        with pytest.raises(ValueError, match="naive"):
            next_slot(schedule(), datetime(2026, 11, 22))


class TestDueSlots:
    def test_slots_in_half_open_interval(self) -> None:
        """Slots in (since, until]: one at `until` is in, one at `since` is out."""
        slots = due_slots(schedule(), utc(2026, 11, 22, 7), utc(2026, 11, 24, 7), limit=9)
        assert slots == [utc(2026, 11, 23, 7), utc(2026, 11, 24, 7)]

    def test_catch_up_keeps_only_the_latest(self) -> None:
        """After a long outage only the latest `limit` slots are due, oldest first."""
        slots = due_slots(schedule(), utc(2026, 1, 1), utc(2026, 11, 22, 8))
        assert len(slots) == MAX_CATCH_UP
        assert slots[-1] == utc(2026, 11, 22, 7)
        assert slots == sorted(slots)

    def test_empty_when_nothing_due(self) -> None:
        """An interval without a slot, or an empty one, gives no slots."""
        assert due_slots(schedule(), utc(2026, 11, 22, 8), utc(2026, 11, 23, 6)) == []
        assert due_slots(schedule(), utc(2026, 11, 23), utc(2026, 11, 22)) == []

    def test_paused_interval_has_no_slots(self) -> None:
        """Nothing is due inside a pause, however far back `since` goes."""
        paused = schedule(paused_until=date(2026, 11, 30))
        assert due_slots(paused, utc(2020, 1, 1), utc(2026, 11, 30, 23)) == []

    def test_agrees_with_next_slot(self) -> None:
        """Every slot due_slots returns is what next_slot gives from the previous one."""
        weekly = schedule("weekly", weekday=6, hour=2, timezone="Europe/London")
        slots = due_slots(weekly, utc(2026, 1, 1), utc(2026, 12, 31), limit=60)
        assert len(slots) == 52
        for earlier, later in itertools.pairwise(slots):
            assert next_slot(weekly, earlier) == later


class TestSlotKey:
    def test_canonical_utc_minutes(self) -> None:
        """A slot's key is its UTC minute, whatever zone the datetime is expressed in."""
        paris = datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Europe/Paris"))
        assert slot_key(paris) == "2026-11-23T08:00Z"
        assert slot_key(utc(2026, 11, 23, 8)) == "2026-11-23T08:00Z"

    def test_keeps_seconds_when_present(self) -> None:
        """Two slots differing by seconds never share a key."""
        assert slot_key(utc(1900, 1, 1, 0, 0, 30)) == "1900-01-01T00:00:30Z"

    def test_to_local_shows_the_reader_clock(self) -> None:
        """to_local gives the slot on the reader's clock."""
        shown = to_local(utc(2026, 11, 23, 6), "Europe/Paris")
        assert (shown.hour, shown.tzinfo) == (7, ZoneInfo("Europe/Paris"))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    pause = draw(st.none() | st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    return schedule(
        draw(st.sampled_from([c.value for c in Cadence])),
        hour=draw(st.integers(0, 23)),
        timezone=draw(st.sampled_from(ZONES)),
        weekday=draw(st.integers(0, 6)),
        day_of_month=draw(st.integers(1, 28)),
        paused_until=pause,
    )


starts = st.datetimes(datetime(2000, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC))


class TestSlotProperties:
    @given(sched=schedules(), start=starts)
    def test_slots_strictly_increase_at_the_local_hour(
        self, sched: Schedule, start: datetime
    ) -> None:
        """Consecutive slots increase; each is at the local hour unless it fell in a DST gap."""
        zone = ZoneInfo(sched.timezone)
        slot = start
        for _ in range(8):
            following = next_slot(sched, slot)
            assert following > slot
            shown = following.astimezone(zone)
            if (shown.hour, shown.minute) != (sched.hour, 0):
                # Only a DST gap moves a slot: the wall time asked for did not exist.
                asked = shown.replace(hour=sched.hour, minute=0, second=0)
                for candidate in (asked, asked - timedelta(days=1)):
                    wall = candidate.replace(tzinfo=None)
                    roundtrip = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
                    if roundtrip.replace(tzinfo=None) != wall:
                        break
                else:
                    pytest.fail(f"{shown} is not {sched.hour}:00 and no gap explains it")
            slot = following

    @given(sched=schedules(), start=starts)
    def test_never_two_slots_on_one_local_day(self, sched: Schedule, start: datetime) -> None:
        """No two slots ever fall on the same local date, for any cadence and zone."""
        zone = ZoneInfo(sched.timezone)
        slots = due_slots(sched, start, start + timedelta(days=120), limit=200)
        days = [s.astimezone(zone).date() for s in slots]
        assert len(days) == len(set(days))

    @given(sched=schedules(), start=starts)
    def test_respects_cadence_and_pause(self, sched: Schedule, start: datetime) -> None:
        """Every slot is after the pause, on a date the cadence names or the day after a gap."""
        zone = ZoneInfo(sched.timezone)
        for slot in due_slots(sched, start, start + timedelta(days=70), limit=100):
            day = slot.astimezone(zone).date()
            if sched.paused_until is not None:
                assert day > sched.paused_until
            assert sched.sends_on(day) or sched.sends_on(day - timedelta(days=1))

    @given(sched=schedules(), start=starts, days=st.integers(1, 60))
    def test_due_slots_match_walking_next_slot(
        self, sched: Schedule, start: datetime, days: int
    ) -> None:
        """due_slots with a large limit lists exactly what repeated next_slot reaches."""
        until = start + timedelta(days=days)
        walked: list[datetime] = []
        slot = next_slot(sched, start)
        while slot <= until:
            walked.append(slot)
            slot = next_slot(sched, slot)
        assert due_slots(sched, start, until, limit=1000) == walked
        assert due_slots(sched, start, until, limit=2) == walked[-2:]
