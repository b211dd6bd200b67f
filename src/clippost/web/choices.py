"""The options of the preference forms (landing and manage pages), computed once."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from zoneinfo import available_timezones

from clippost.web.timefmt import WEEKDAYS

CADENCES = (
    ("daily", "Every day"),
    ("weekdays", "Every weekday (Monday to Friday)"),
    ("weekly", "Once a week"),
    ("monthly", "Once a month"),
)
FREQUENCIES = (
    ("never", "Never"),
    ("less", "Less often"),
    ("normal", "Normal"),
    ("more", "More often"),
)

# The languages the emails come in, by their own names; "" keeps the library's language.
LANGUAGES = (
    ("", "From my library (the language of my Kindle)"),
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("pt_BR", "Português (Brasil)"),
    ("nl", "Nederlands"),
    ("ja", "日本語"),
    ("zh", "中文"),
    ("ru", "Русский"),
)
SHOW = (
    ("all", "All highlights"),
    ("favourites", "Favourites"),
    ("discarded", "Discarded"),
    ("never_sent", "Never sent yet"),
)

# The age bias (selection.Bias), as the manage page offers it.
AGE_BIASES = (
    ("none", "Any age"),
    ("recent", "More recent ones"),
    ("older", "Older ones"),
)

_AREAS = {
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic",
    "Australia", "Europe", "Indian", "Pacific",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class FormChoices:
    cadences: tuple[tuple[str, str], ...]
    hours: tuple[int, ...]
    weekdays: tuple[tuple[int, str], ...]
    days_of_month: tuple[int, ...]
    per_email: tuple[int, ...]
    timezones: tuple[str, ...]
    frequencies: tuple[tuple[str, str], ...]
    languages: tuple[tuple[str, str], ...]
    show: tuple[tuple[str, str], ...]
    age_biases: tuple[tuple[str, str], ...]


@functools.cache
def form_choices() -> FormChoices:
    # Geographic names only: legacy aliases (US/Eastern, Canada/Yukon...) would double the list.
    zones = sorted(z for z in available_timezones() if z.split("/", 1)[0] in _AREAS and "/" in z)
    return FormChoices(
        cadences=CADENCES,
        hours=tuple(range(24)),
        weekdays=tuple(enumerate(WEEKDAYS)),
        days_of_month=tuple(range(1, 29)),
        per_email=tuple(range(1, 16)),
        timezones=("UTC", *zones),
        frequencies=FREQUENCIES,
        languages=LANGUAGES,
        show=SHOW,
        age_biases=AGE_BIASES,
    )
