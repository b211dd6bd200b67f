"""Counting rows per period (a day of the operator's chart) in one statement.

One `SUM(CASE WHEN t >= start AND t < end THEN 1 ELSE 0 END)` per period, over the rows
after the first boundary: no date function, so no dialect difference (SQLite keeps naive
UTC text, PostgreSQL timestamptz, and both compare bound instants alike), and an index on
the time column serves the range.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Label, case, func, literal


def period_sums(column: Any, boundaries: Sequence[datetime]) -> list[Label[Any]]:
    """A labelled count per period [boundaries[i], boundaries[i + 1]), `p0`, `p1`, ...;
    `column` must be typed like the boundaries (a UTCDateTime column)."""
    sums = []
    for index, (start, end) in enumerate(itertools.pairwise(boundaries)):
        inside = (column >= _bound(column, start)) & (column < _bound(column, end))
        sums.append(func.sum(case((inside, 1), else_=0)).label(f"p{index}"))
    return sums


def in_range(column: Any, boundaries: Sequence[datetime]) -> ColumnElement[bool]:
    """The rows any period counts: the WHERE clause that lets an index serve the query."""
    after: ColumnElement[bool] = column >= _bound(column, boundaries[0])
    before: ColumnElement[bool] = column < _bound(column, boundaries[-1])
    return after & before


def _bound(column: Any, moment: datetime) -> Any:
    # Typed like the column, so both drivers bind it as the UTC timestamp it is.
    return literal(moment, type_=column.type)
