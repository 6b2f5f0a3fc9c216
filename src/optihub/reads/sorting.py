"""Caller-chosen orderings for the record lists (appointments, invoices, pricebooks,
locations): an ordered list of ``(field, descending)`` pairs over a module's allow-list,
always ending on the primary key so that offset pages are stable.

NULLs sort as PostgreSQL sorts them by default (last when ascending, first when
descending) on both backends, so a page is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from optihub.db.models import Practice
from optihub.errors import BadRequest
from optihub.reads.order_views import Reader

# (allow-list key, descending?) pairs, most significant first.
Sort = Sequence[tuple[str, bool]]


def _nullable(expression: Any) -> bool:
    column = getattr(expression, "expression", expression)
    return bool(getattr(column, "nullable", True))


def order_by(sort: Sort, fields: Mapping[str, Any], primary_key: Any) -> list[Any]:
    """ORDER BY clauses for ``sort``; a key repeated later, or allowed but mapped to None
    (a field every row lacks), orders nothing. Raises ``BadRequest`` (field ``sort``, the
    allowed keys) for a key not in ``fields``."""
    clauses: list[Any] = []
    seen: set[str] = set()
    for key, descending in sort:
        if key not in fields:
            raise BadRequest(f"Cannot sort by {key!r}", field="sort", allowed=sorted(fields.keys()))
        if key in seen:
            continue
        seen.add(key)
        expression = fields[key]
        if expression is None:  # the same for every row of this list: orders nothing
            continue
        clause = expression.desc() if descending else expression.asc()
        if _nullable(expression):
            clause = clause.nulls_first() if descending else clause.nulls_last()
        clauses.append(clause)
    clauses.append(primary_key.asc())
    return clauses


def day_bounds(
    reader: Reader, practice_id: int, first: date | None, last: date | None
) -> tuple[datetime | None, datetime | None]:
    """``[start of first, start of the day after last)`` in UTC, days being the practice's
    own (its time zone), so a 7 pm appointment in Boston is on that Boston day."""
    if first is None and last is None:
        return None, None
    zone_name = reader.scalar(select(Practice.timezone).where(Practice.id == practice_id))
    zone = ZoneInfo(zone_name or "UTC")

    def start(day: date | None) -> datetime | None:
        try:
            return None if day is None else datetime.combine(day, time(0), zone).astimezone(UTC)
        except OverflowError:  # a day at the calendar's ends: no bound on that side
            return None

    after_last = last + timedelta(days=1) if last is not None and last < date.max else None
    return start(first), start(after_last)
