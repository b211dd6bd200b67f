"""The operator page's chart, laid out here (pure) and drawn as SVG by a template.

Four small bar charts side by side, one a series (sent, failed, bounces, complaints), each
with its own scale: sends are thousands a day and complaints a handful, and one shared
axis would flatten everything but the sends. Every bar carries its number in a <title>
(shown on hover, read by screen readers), and the page has the same figures as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clippost.stats.service import Day

WIDTH, HEIGHT = 170, 120  # one panel, in SVG units
TOP, BOTTOM = 22, 20  # room for the panel's title above and the day labels below
GAP = 3
SERIES = (
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("bounces", "Bounces"),
    ("complaints", "Complaints"),
)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str  # the day, e.g. "Tue 1 Dec"


@dataclass(frozen=True, slots=True)
class Panel:
    key: str  # the series, also its CSS class
    title: str
    x: float  # the panel's left edge in the whole chart
    width: float
    peak: int  # the largest value, printed as the scale
    bars: list[Bar]
    days: list[str]  # short labels under the first and last bars


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    axis_y: int  # where the bars stand
    panels: list[Panel]
    summary: str  # the chart in one sentence (its <desc>)


def daily_chart(days: Sequence[Day]) -> Chart:
    panels = [
        _panel(key, title, index * (WIDTH + 10), [getattr(day, key) for day in days], days)
        for index, (key, title) in enumerate(SERIES)
    ]
    total = {key: sum(getattr(day, key) for day in days) for key, _ in SERIES}
    summary = (
        f"Over the last {len(days)} days: {total['sent']} sent, {total['failed']} failed, "
        f"{total['bounces']} bounces, {total['complaints']} complaints."
    )
    return Chart(
        width=len(SERIES) * (WIDTH + 10) - 10,
        height=HEIGHT,
        axis_y=HEIGHT - BOTTOM,
        panels=panels,
        summary=summary,
    )


def _panel(key: str, title: str, left: float, values: list[int], days: Sequence[Day]) -> Panel:
    peak = max(values, default=0)
    room = HEIGHT - TOP - BOTTOM
    step = WIDTH / max(len(values), 1)
    bars = []
    for index, value in enumerate(values):
        height = room * value / peak if peak else 0.0
        bars.append(
            Bar(
                x=left + index * step + GAP / 2,
                y=TOP + room - height,
                width=max(step - GAP, 1.0),
                height=height,
                value=value,
                label=_day_label(days[index]),
            )
        )
    edges = [_day_label(days[0]), _day_label(days[-1])] if days else []
    return Panel(key=key, title=title, x=left, width=WIDTH, peak=peak, bars=bars, days=edges)


def _day_label(day: Day) -> str:
    return day.day.strftime("%a %-d %b")
