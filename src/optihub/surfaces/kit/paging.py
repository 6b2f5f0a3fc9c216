"""Paging every surface shares: bounded limit/offset parameters, strict ISO-8601
timestamps, opaque keyset cursors and ``since`` polling with a settle window.

Offsets are bounded (``MAX_OFFSET``) so a huge integer is a 400, never a database error.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator

from optihub.db.base import utcnow
from optihub.errors import BadRequest
from optihub.reads.order_views import Keyset

MAX_OFFSET = 2**31 - 1


def limit_param(maximum: int, minimum: int = 1, alias: str | None = None) -> Any:
    """``Annotated[int, Query(...)]`` for a page size of ``minimum``–``maximum``."""
    return Annotated[
        int, Query(ge=minimum, le=maximum, alias=alias, description=f"{minimum}–{maximum}")
    ]


Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"0–{MAX_OFFSET}")]


def _iso8601(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        raise ValueError("must be an ISO-8601 date-time, e.g. 2026-11-23T08:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise ValueError("must be an ISO-8601 date-time, e.g. 2026-11-23T08:00:00Z") from exc
    return _bounded(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


# Away from the calendar's ends, so offsets, settle windows and UTC conversion never overflow.
_EARLIEST = datetime(1, 1, 3, tzinfo=UTC)
_LATEST = datetime(9999, 12, 29, tzinfo=UTC)


def _bounded(moment: datetime) -> datetime:
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is outside the supported range (years 0001–9999)") from exc
    if not _EARLIEST <= in_utc <= _LATEST:
        raise ValueError("is outside the supported range (years 0001–9999)")
    return moment


# A date-time query parameter that accepts ISO-8601 only (no Unix numbers); naive = UTC.
Timestamp = Annotated[datetime, BeforeValidator(_iso8601)]


def offset_page(items_total: int, limit: int, offset: int, count: int) -> dict[str, Any]:
    """The ``{limit, offset, total, has_more}`` block of offset-paged lists."""
    return {
        "limit": limit,
        "offset": offset,
        "total": items_total,
        "has_more": offset + count < items_total,
    }


def encode_keyset(position: Keyset) -> str:
    raw = f"{position.at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_keyset(raw: str, field: str = "cursor") -> Keyset:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        moment, key = text.split("|")
        parsed = datetime.fromisoformat(moment)
        return Keyset(
            _bounded(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), uuid.UUID(key)
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"{field}: not a cursor from this API", field=field) from exc


_END = uuid.UUID(int=(1 << 128) - 1)


@dataclass(frozen=True)
class Poll:
    """A ``since`` poll or its continuation by cursor, oldest change first.

    Changes younger than ``settle`` are held back until they settle, so a transaction that
    commits a little after a later one is never paged past.
    """

    since: datetime | None
    position: Keyset | None
    cursor: str | None

    @classmethod
    def of(cls, since: datetime | None, cursor: str | None, offset: int) -> Poll:
        position = decode_keyset(cursor) if cursor is not None else None
        if position is not None and (since is not None or offset):
            raise BadRequest(
                "cursor: use it alone (without since or offset)",
                field="cursor",
            )
        return cls(since, position, cursor)

    @property
    def active(self) -> bool:
        return self.since is not None or self.position is not None

    def window(self, settle: timedelta) -> dict[str, Any]:
        """The ``OrderFilter`` fields of this poll."""
        if not self.active:
            return {}
        return {
            "updated_since": self.since,
            "after": self.position,
            "settled_before": utcnow() - settle,
        }

    def next_cursor(self, last: Keyset | None) -> str | None:
        """Where the next poll continues: after the last item, or where this one started."""
        if not self.active:
            return None
        if last is not None:
            return encode_keyset(last)
        if self.cursor is not None:
            return self.cursor
        assert self.since is not None
        return encode_keyset(Keyset(self.since - timedelta(microseconds=1), _END))
