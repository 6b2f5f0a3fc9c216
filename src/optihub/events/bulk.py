"""Many rows in one statement whose text does not depend on how many there are.

The worker writes a batch's deliveries, attempts and outcomes at once. On PostgreSQL a
row per statement (``executemany``) costs a server round of work per row, a multi-row
``VALUES`` list is a new statement text for every count (SQLAlchemy compiles it and
psycopg parses it again each time), and arrays per column are escaped element by element
by psycopg (all three showed in the worker's profile). Here the rows go as one JSON
parameter (orjson: UUIDs and datetimes included) that ``json_to_recordset`` reads on the
server: one statement text, one parameter. SQLite runs ``executemany`` in C, in one
transaction, and keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Table, TextClause, bindparam, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (each with the same keys, column names) into ``table``."""
    if not rows:
        return
    names = tuple(rows[0])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_insert_json(table, names), {"rows": _json(rows)})
    else:
        session.execute(table.insert(), list(rows))


def update_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Update the rows of ``table`` named by each row's ``id`` with its other values (each
    row with the same keys, column names)."""
    if not rows:
        return
    names = tuple(rows[0])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_update_json(table, names), {"rows": _json(rows)})
        return
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in names if name != "id"}),
        [{f"b_{name}": value for name, value in row.items()} for row in rows],
    )


def _json(rows: Sequence[dict[str, Any]]) -> str:
    return orjson.dumps(list(rows)).decode()


def _record(table: Table, names: tuple[str, ...]) -> str:
    """``given(name type, ...)``: the JSON rows' columns, typed as the table's."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    typed = ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in names)
    return f"json_to_recordset(CAST(:rows AS json)) AS given({typed})"


# Statement texts made of the table's own column names and types, never of input.
@cache
def _insert_json(table: Table, names: tuple[str, ...]) -> TextClause:
    columns = ", ".join(names)
    source = _record(table, names)
    return text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {source}")  # noqa: S608


@cache
def _update_json(table: Table, names: tuple[str, ...]) -> TextClause:
    assigned = ", ".join(f"{name} = given.{name}" for name in names if name != "id")
    return text(
        f"UPDATE {table.name} SET {assigned} FROM {_record(table, names)} "  # noqa: S608
        f"WHERE {table.name}.id = given.id"
    )
