"""FHIR search as the core's filters: date prefixes and partial dates, references, tokens,
and the result parameters (``_count``, ``_offset``, ``_sort``, ``_summary``, ``_elements``),
plus the searchset Bundle with its ``self``/``next``/``previous`` links.

Paging is by offset over a total order (the sort key, then the id), so a page's neighbours
are the same rows however often it is asked while nothing changes.
"""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from optihub.errors import BadRequest
from optihub.surfaces.fhir.mapping import DEFAULT_COUNT, MAX_COUNT
from optihub.surfaces.kit import MAX_OFFSET

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
# Always allowed, whatever the resource: how the answer is shaped, not what matches.
RESULT = ("_count", "_offset", "_summary", "_elements", "_format")


def refuse(parameter: str, message: str, code: str = "invalid") -> BadRequest:
    return BadRequest(f"{parameter}: {message}", code=code, field=parameter)


@dataclass(frozen=True)
class DateRange:
    """A date search value: its prefix and the days it covers (``2026-03`` covers March)."""

    prefix: str
    start: date
    end: date


def parse_date(parameter: str, raw: str) -> DateRange:
    prefix, value = "eq", raw
    if raw[:2].isalpha():
        prefix, value = raw[:2], raw[2:]
        if prefix not in PREFIXES:
            raise refuse(parameter, f"the prefix {prefix} is not supported", "not-supported")
    match = _DATE.match(value)
    if match is None:
        raise refuse(parameter, f"{raw!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)", "value")
    year, month, day = (int(part) if part else None for part in match.groups())
    assert year is not None
    try:
        if month is None:
            start, end = date(year, 1, 1), date(year, 12, 31)
        elif day is None:
            start = date(year, month, 1)
            end = date(year, month, calendar.monthrange(year, month)[1])
        else:
            start = end = date(year, month, day)
    except ValueError as exc:
        raise refuse(parameter, f"{raw!r} is not a date", "value") from exc
    return DateRange(prefix, start, end)


@dataclass
class DateBounds:
    """Every value of a date parameter ANDed: ``low``..``high`` inclusive, and at most one
    range excluded (``ne``)."""

    low: date | None = None
    high: date | None = None
    outside: tuple[date, date] | None = None
    empty: bool = False

    def add(self, parameter: str, value: DateRange) -> None:
        low, high = value.start, value.end
        if value.prefix == "ne":
            if self.outside is not None:
                raise refuse(parameter, "ne may be given once", "not-supported")
            self.outside = (low, high)
            return
        if value.prefix == "eq":
            self._raise_low(low)
            self._lower_high(high)
        elif value.prefix == "gt":
            self._raise_low(high + timedelta(days=1))
        elif value.prefix == "ge":
            self._raise_low(low)
        elif value.prefix == "lt":
            self._lower_high(low - timedelta(days=1))
        elif value.prefix == "le":
            self._lower_high(high)
        if self.low is not None and self.high is not None and self.low > self.high:
            self.empty = True

    def _raise_low(self, day: date) -> None:
        self.low = day if self.low is None else max(self.low, day)

    def _lower_high(self, day: date) -> None:
        self.high = day if self.high is None else min(self.high, day)


def reference_id(parameter: str, raw: str, resource_type: str) -> uuid.UUID | None:
    """The id a reference search value names (``Patient/{id}``, a full URL ending so, or the
    bare id); None when it cannot name one of ours (so nothing matches)."""
    value = raw.rstrip("/")
    if "/" in value:
        kind, _, value = value.rpartition("/")
        if kind.rsplit("/", 1)[-1] != resource_type:
            raise refuse(parameter, f"a reference to a {resource_type} is expected", "value")
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def token(raw: str) -> tuple[str | None, str]:
    """``system|value`` → (system, value); a bare value has no system (None)."""
    if "|" in raw:
        system, _, value = raw.partition("|")
        return system, value
    return None, raw


@dataclass(frozen=True)
class Paging:
    count: int
    offset: int
    summary_count: bool
    elements: tuple[str, ...] | None


def _one(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name, ())
    if len(values) > 1:
        raise refuse(name, "may be given once")
    return values[0] if values else None


def paging(query: Mapping[str, Sequence[str]]) -> Paging:
    count, offset = DEFAULT_COUNT, 0
    raw = _one(query, "_count")
    if raw is not None:
        if not raw.isdigit() or int(raw) > MAX_COUNT:
            raise refuse("_count", f"must be a whole number from 0 to {MAX_COUNT}", "value")
        count = int(raw)
    raw = _one(query, "_offset")
    if raw is not None:
        if not raw.isdigit() or int(raw) > MAX_OFFSET:
            raise refuse("_offset", f"must be a whole number from 0 to {MAX_OFFSET}", "value")
        offset = int(raw)
    summary = _one(query, "_summary")
    if summary not in (None, "count", "false"):
        raise refuse("_summary", "only count (or false) is supported", "not-supported")
    elements = None
    raw = _one(query, "_elements")
    if raw is not None:
        elements = tuple(part.strip() for part in raw.split(",") if part.strip())
    return Paging(count, offset, summary == "count" or count == 0, elements)


def strict(headers: Mapping[str, str]) -> bool:
    """``Prefer: handling=strict`` asks for unknown parameters to be refused."""
    prefer = headers.get("prefer", "")
    return any(part.strip() == "handling=strict" for part in prefer.replace(";", ",").split(","))


def query_of(
    pairs: Iterable[tuple[str, str]], allowed: Iterable[str], *, refuse_unknown: bool = False
) -> dict[str, list[str]]:
    """The query string by name, with only the parameters the resource takes. Others are
    left out, as FHIR's default (lenient) handling asks, so the ``self`` link shows what was
    applied; with ``refuse_unknown`` (``Prefer: handling=strict``) they are a 400."""
    known = set(allowed) | set(RESULT)
    query: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in known:
            if refuse_unknown:
                raise refuse(
                    name,
                    "is not a search parameter of this resource; known: "
                    + ", ".join(sorted(known)),
                )
            continue
        query.setdefault(name, []).append(value)
    return query


@dataclass
class Searchset:
    """A searchset Bundle under construction."""

    url: str  # the resource type's URL: {base}/{type}
    query: Mapping[str, Sequence[str]]
    page: Paging
    total: int
    entries: list[dict[str, Any]] = field(default_factory=list)

    def link(self, offset: int) -> str:
        pairs = [
            (name, value)
            for name, values in self.query.items()
            if name != "_offset"
            for value in values
        ]
        if offset:
            pairs.append(("_offset", str(offset)))
        return f"{self.url}?{urlencode(pairs)}" if pairs else self.url

    def bundle(self) -> dict[str, Any]:
        links = [{"relation": "self", "url": self.link(self.page.offset)}]
        page = self.page
        if not page.summary_count:
            if page.offset + page.count < self.total:
                links.append({"relation": "next", "url": self.link(page.offset + page.count)})
            if page.offset > 0:
                previous = max(0, page.offset - page.count)
                links.append({"relation": "previous", "url": self.link(previous)})
        body: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": self.total,
            "link": links,
        }
        if self.entries:
            body["entry"] = self.entries
        return body
