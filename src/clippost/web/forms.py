"""Forms that answer in place: which field each error belongs to, and what was typed.

A refused form is the same page again, with the message beside the field it is about and
every value the reader typed (not the stored one) back in its field. Each preference field
is checked on its own (the others at their defaults), so that every wrong field is named at
once rather than the first one only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from starlette.datastructures import FormData

from clippost.addresses import normalise_email
from clippost.errors import BadInput, ClippostError
from clippost.subscriptions.preferences import DEFAULTS, LOCALES, Preferences

# The field an error not tied to one field (a rate limit, a refused request) is shown by.
FORM = "form"
PREFERENCE_FIELDS = tuple(DEFAULTS)
# The typed values a refused form may give back (never a file, never the CSRF token).
_MAX_TYPED = 320


@dataclass(slots=True)
class FormState:
    """What a refused form shows: the typed values, the errors by field, the status."""

    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 400
    retry_after: int | None = None  # seconds, when the refusal was the server's load

    def add(self, name: str, error: ClippostError) -> None:
        self.errors.setdefault(name, error.message)
        if len(self.errors) == 1:
            self.status = error.status_code
            self.retry_after = getattr(error, "retry_after", None)

    def __bool__(self) -> bool:
        return bool(self.errors)


def typed_values(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """The text the reader sent for `names` (a file in a text field counts as empty)."""
    values = {}
    for name in names:
        value = form.get(name, "")
        values[name] = value[:_MAX_TYPED] if isinstance(value, str) else ""
    return values


def preference_errors(
    typed: Mapping[str, str], state: FormState, *, today: date
) -> Preferences | None:
    """The preferences in `typed`, or None with every wrong field's message in `state`
    (a pause is measured from `today`, the reader's request's date)."""
    try:
        preferences = Preferences.from_form(typed)
    except BadInput:
        pass
    else:
        try:
            preferences.check_pause(today)
        except BadInput as error:
            state.add("paused_until", error)
            return None
        return preferences
    for name in PREFERENCE_FIELDS:
        try:
            Preferences.from_form({name: typed.get(name, "")})
        except BadInput as error:
            state.add(name, error)
    if not state:  # wrong only together (cannot happen today): name the form
        state.add(FORM, BadInput("These preferences do not work together."))
    return None


def email_error(typed: Mapping[str, str], state: FormState, name: str = "email") -> str | None:
    """The normalised address in `typed[name]`, or None with its message in `state`."""
    try:
        return normalise_email(typed.get(name, ""))
    except BadInput as error:
        state.add(name, error)
        return None


def locale_error(typed: Mapping[str, str], state: FormState) -> str | None:
    """The chosen email language ("" is "from my library": None), its message if unknown."""
    locale = typed.get("locale", "")
    if locale and locale not in LOCALES:
        state.add("locale", BadInput("Choose one of the languages in the list."))
    return locale or None


def stored_values(preferences: Preferences) -> dict[str, str]:
    """Stored preferences as the form shows them (every value a string, as typed ones are)."""
    data = preferences.to_json()
    data["on_this_day"] = "yes" if preferences.on_this_day else None
    return {name: "" if data[name] is None else str(data[name]) for name in PREFERENCE_FIELDS}


# What the sign-up form shows before anything is typed (the landing page's defaults).
DEFAULTS_SHOWN: dict[str, str] = {**DEFAULTS, "cadence": "weekly", "per_email": "5"}
