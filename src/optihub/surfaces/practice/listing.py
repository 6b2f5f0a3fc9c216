"""The list grammar every practice list shares, written once: ``page`` (≥ 1, default 1),
``page_size`` (5–250, default 10), ``sort=field1,-field2`` from a per-resource allow-list,
and the resource's filters.

Query parameters are read from the request and checked here (not by FastAPI) so the
messages are the vendor's; ``ListSpec.openapi`` documents the same parameters on the route.
Violations are reported all at once, filters first (in their declared order), then
``page``, ``page_size``, ``sort`` and unknown parameters: the same query always gives the
same message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from optihub.surfaces.kit import MAX_OFFSET
from optihub.surfaces.practice.rules import Invalid, Rule, check, json_schema, quoted, refuse

PAGE = Rule("integer", minimum=1)
PAGE_SIZE = Rule("integer", minimum=5, maximum=250)
DEFAULT_PAGE_SIZE = 10
PAGING = ("page", "page_size", "sort")


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


@dataclass(frozen=True)
class ListSpec:
    """One resource's list: its filters (name → rule), sortable fields and default sort."""

    filters: Mapping[str, Rule]
    sort_fields: tuple[str, ...]
    default_sort: str
    filter_descriptions: Mapping[str, str] = field(default_factory=dict)

    @property
    def sort_pattern(self) -> str:
        names = "|".join(self.sort_fields)
        return f"/^(-?({names})(,-?({names}))*$)/"

    def sort_keys(self, text: str) -> list[SortKey] | None:
        """The keys of a ``sort`` value, or None when it breaks the grammar."""
        keys = []
        for part in text.split(","):
            name = part.removeprefix("-")
            if name not in self.sort_fields:
                return None
            keys.append(SortKey(name, part.startswith("-")))
        return keys

    def openapi(self) -> dict[str, Any]:
        """The route's ``openapi_extra``: every parameter this list reads."""
        parameters = [
            _parameter(name, json_schema(rule), self.filter_descriptions.get(name, rule.describe()))
            for name, rule in self.filters.items()
        ]
        parameters += [
            _parameter("page", {"type": "integer", "minimum": 1, "default": 1}, "Page, from 1."),
            _parameter(
                "page_size",
                {"type": "integer", "minimum": 5, "maximum": 250, "default": DEFAULT_PAGE_SIZE},
                "Items per page (5–250).",
            ),
            _parameter(
                "sort",
                {
                    "type": "string",
                    "pattern": self.sort_pattern[1:-1],
                    "default": self.default_sort,
                },
                "Comma-separated fields, `-` for descending: "
                + ", ".join(f"`{name}`" for name in self.sort_fields),
            ),
        ]
        return {"parameters": parameters}


@dataclass(frozen=True)
class ListQuery:
    page: int
    page_size: int
    sort: list[SortKey]
    sort_text: str
    filters: dict[str, Any]

    @property
    def offset(self) -> int:
        # Past the last row anyway: bounded so the database never sees an overflowing offset.
        return min((self.page - 1) * self.page_size, MAX_OFFSET)

    def sort_by(self, names: Mapping[str, str]) -> list[tuple[str, bool]]:
        """The sort in the read layer's keys (``reads.sorting``): ``names`` maps each of
        the dialect's sort fields to its read key."""
        return [(names[key.field], key.descending) for key in self.sort]

    def pagination(self, total_count: int) -> dict[str, Any]:
        return {
            "page": self.page,
            "page_size": self.page_size,
            "total_pages": math.ceil(total_count / self.page_size),
            "total_count": total_count,
            "sort": self.sort_text,
        }


def parse(spec: ListSpec, params: QueryParams) -> ListQuery:
    """The list query ``params`` ask for, or the vendor's 400 naming every violation."""
    errors: list[str] = []
    filters: dict[str, Any] = {}
    for name, rule in spec.filters.items():
        value = _value(params, name)
        if value is None:
            continue
        try:
            filters[name] = check(rule, value, name, text=True)
        except Invalid as exc:
            errors.append(exc.message)
    page = _paging(params, "page", PAGE, 1, errors)
    page_size = _paging(params, "page_size", PAGE_SIZE, DEFAULT_PAGE_SIZE, errors)
    sort_text = spec.default_sort
    keys = spec.sort_keys(sort_text)
    raw_sort = _value(params, "sort")
    if raw_sort is not None:
        if not isinstance(raw_sort, str):
            errors.append('"sort" must be a string')
        elif raw_sort == "":
            errors.append('"sort" is not allowed to be empty')
        else:
            keys = spec.sort_keys(raw_sort)
            sort_text = raw_sort
            if keys is None:
                errors.append(
                    f'"sort" with value {quoted(raw_sort)} fails to match the required pattern: '
                    f"{spec.sort_pattern}"
                )
    for name in dict.fromkeys(params.keys()):
        if name not in spec.filters and name not in PAGING:
            errors.append(f"{quoted(name)} is not allowed")
    refuse(errors)
    assert keys is not None
    return ListQuery(page, page_size, keys, sort_text, filters)


def _value(params: QueryParams, name: str) -> str | list[str] | None:
    """A parameter's text; a repeated parameter is a list (refused by its rule)."""
    values = params.getlist(name)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _paging(params: QueryParams, name: str, rule: Rule, default: int, errors: list[str]) -> int:
    value = _value(params, name)
    if value is None:
        return default
    try:
        return int(check(rule, value, name, text=True))
    except Invalid as exc:
        errors.append(exc.message)
        return default


def _parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }
