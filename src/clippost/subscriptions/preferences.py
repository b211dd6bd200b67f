"""A reader's delivery preferences: parsed from a form, checked once, turned into a Schedule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

from clippost.errors import BadInput
from clippost.planner.slots import Cadence, Schedule
from clippost.selection import Bias

PER_EMAIL_MAX = 15
# The longest pause a reader can choose, from today: long enough for a sabbatical, short
# enough that a date typed by mistake (or by an attacker: 9999-12-31) never reaches slot
# arithmetic at the calendar's end.
MAX_PAUSE = timedelta(days=366)
# The languages the emails come in (the device languages the importer reads), by catalogue
# name; a reader's `locale` is one of these or None ("from my library").
LOCALES = ("en", "de", "fr", "es", "it", "pt_BR", "nl", "ja", "zh", "ru")
# What a form that leaves a field out gets: the landing page asks only for a few.
DEFAULTS: dict[str, str] = {
    "cadence": Cadence.WEEKLY.value,
    "hour": "7",
    "weekday": "0",
    "day_of_month": "1",
    "timezone": "UTC",
    "per_email": "5",
    "paused_until": "",
    "age_bias": Bias.NONE.value,
    "on_this_day": "",
}
# What a ticked "on this day" box (and `clippost import`'s stored value) may say.
_YES = frozenset({"yes", "on", "true", "1"})
_NO = frozenset({"", "no", "off", "false", "0"})


@dataclass(frozen=True, slots=True)
class Preferences:
    cadence: Cadence
    hour: int
    weekday: int
    day_of_month: int
    timezone: str
    per_email: int
    paused_until: date | None = None
    # Which passages come first (selection.rates: the age bias) and the on-this-day slot.
    age_bias: Bias = Bias.NONE
    on_this_day: bool = False

    def __post_init__(self) -> None:
        # Schedule validates cadence, hour, weekday, day and zone, each with its own message;
        # it also gives the canonical cadence and zone name, which we keep.
        schedule = self.schedule()
        object.__setattr__(self, "cadence", schedule.cadence)
        object.__setattr__(self, "timezone", schedule.timezone)
        if not 1 <= self.per_email <= PER_EMAIL_MAX:
            raise BadInput(
                f"Highlights per email must be a whole number from 1 to {PER_EMAIL_MAX}."
            )

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> Preferences:
        """Preferences from form fields (missing or empty ones take the defaults)."""
        value = {key: _field(form, key) for key in DEFAULTS}
        try:
            cadence = Cadence(value["cadence"].lower())
        except ValueError:
            choices = ", ".join(c.value for c in Cadence)
            raise BadInput(f"How often must be one of: {choices}.") from None
        return cls(
            cadence=cadence,
            hour=_whole(value["hour"], "The hour"),
            weekday=_whole(value["weekday"], "The weekday"),
            day_of_month=_whole(value["day_of_month"], "The day of the month"),
            timezone=value["timezone"],
            per_email=_whole(value["per_email"], "Highlights per email"),
            paused_until=_day(value["paused_until"]),
            age_bias=_bias(value["age_bias"]),
            on_this_day=_yes(value["on_this_day"]),
        )

    def check_pause(self, today: date) -> None:
        """BadInput when the pause ends more than MAX_PAUSE after `today`."""
        if self.paused_until is not None and self.paused_until > today + MAX_PAUSE:
            latest = (today + MAX_PAUSE).isoformat()
            raise BadInput(
                f"You can pause for at most a year: choose a date up to {latest}, or none."
            )

    def within_pause_limit(self, today: date) -> Preferences:
        """These preferences with a longer pause cut to MAX_PAUSE after `today` (for stored
        values chosen before the limit existed: confirming one must still work)."""
        if self.paused_until is None or self.paused_until <= today + MAX_PAUSE:
            return self
        return replace(self, paused_until=today + MAX_PAUSE)

    def schedule(self) -> Schedule:
        return Schedule(
            cadence=self.cadence,
            hour=self.hour,
            timezone=self.timezone,
            weekday=self.weekday,
            day_of_month=self.day_of_month,
            paused_until=self.paused_until,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cadence"] = self.cadence.value
        data["age_bias"] = self.age_bias.value
        data["paused_until"] = self.paused_until.isoformat() if self.paused_until else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Preferences:
        paused = data.get("paused_until")
        return cls(
            cadence=Cadence(data["cadence"]),
            hour=int(data["hour"]),
            weekday=int(data["weekday"]),
            day_of_month=int(data["day_of_month"]),
            timezone=str(data["timezone"]),
            per_email=int(data["per_email"]),
            paused_until=date.fromisoformat(paused) if paused else None,
            # Absent from what was stored before these preferences existed: the defaults.
            age_bias=Bias(data.get("age_bias") or Bias.NONE.value),
            on_this_day=bool(data.get("on_this_day", False)),
        )


def _field(form: Mapping[str, str], key: str) -> str:
    raw = form.get(key)
    text = raw.strip() if isinstance(raw, str) else ""
    return text or DEFAULTS[key]


def _whole(text: str, what: str) -> int:
    # ASCII digits only: int() would also take "١٢" or "1_0", which no form field means.
    if not (text.isascii() and text.isdigit()) or len(text) > 4:
        raise BadInput(f"{what} must be a whole number.")
    return int(text)


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_day()
    except ValueError:
        return _bad_day()


def _bad_day() -> date:
    raise BadInput("The pause date must be a date such as 2026-12-31.")


def _bias(text: str) -> Bias:
    try:
        return Bias(text.lower())
    except ValueError:
        raise BadInput(
            "Which passages first must be one of: any age, more recent ones, older ones."
        ) from None


def _yes(text: str) -> bool:
    if text.lower() in _YES:
        return True
    if text.lower() in _NO:
        return False
    raise BadInput("On this day must be ticked or not ticked.")
