"""Digest payloads as the planner stores them (v1 today, v2 as docs/email.md specifies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Factory = Callable[..., dict[str, Any]]

SLOT = "2026-11-23T06:00:00+00:00"  # a Monday, 07:00 in Paris


def make_highlight(number: int = 1, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "text": f"The obstacle is the way, number {number}.",
        "book_title": "Meditations",
        "book_author": "Aurelius, Marcus",
        "note": None,
        "page": None,
        "location_start": 100 + number,
        "location_end": 104 + number,
        "favourite": False,
        "favourite_url": f"https://clippost.test/favourite/F{number}",
        "discard_url": f"https://clippost.test/discard/D{number}",
    }
    item.update(overrides)
    return item


def make_v1(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "highlights": [make_highlight(1), make_highlight(2, book_title="Walden", book_author=None)],
        "round_status": {"position": 37, "total": 412},
        "manage_url": "https://clippost.test/manage/M",
        "unsubscribe_url": "https://clippost.test/unsubscribe/U",
    }
    payload.update(overrides)
    return payload


def make_v2(**overrides: Any) -> dict[str, Any]:
    items = [
        make_highlight(
            1,
            highlighted_on="2021-03-03",
            passage_url="https://clippost.test/passage/P1",
            note="Read again in spring",
        ),
        make_highlight(
            2,
            book_title="Walden",
            book_author="Thoreau, Henry David",
            highlighted_on="2019-07-14T21:05:00",
            passage_url="https://clippost.test/passage/P2",
        ),
    ]
    payload = make_v1(
        v=2,
        locale="en",
        timezone="Europe/Paris",
        slot=SLOT,
        schedule={"cadence": "weekly", "hour": 7, "weekday": 0, "timezone": "Europe/Paris"},
        highlights=items,
    )
    payload.update(overrides)
    return payload


@pytest.fixture(scope="session")
def v1() -> Factory:
    """A v1 digest payload factory (what planner/service.py stores before version 2)."""
    return make_v1


@pytest.fixture(scope="session")
def v2() -> Factory:
    """A v2 digest payload factory (docs/email.md)."""
    return make_v2


@pytest.fixture(scope="session")
def highlight() -> Callable[..., dict[str, Any]]:
    """A payload highlight factory."""
    return make_highlight
