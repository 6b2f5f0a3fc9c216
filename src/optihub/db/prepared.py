"""Statements compiled once and sent straight to the session's DBAPI connection.

A statement run through SQLAlchemy costs 50–250 µs of Python before the database sees it
(the ORM's execution state, the compiled cache's key, the execution context, the result
object); the database then needs 2–20 µs for a one-row INSERT or an indexed SELECT. The
creates run a dozen such statements each, so that layer was most of their time.

``Prepared`` keeps a SQLAlchemy construct (written as usual, from the models' tables), compiles
it once per kind of database, and runs it on the DBAPI connection the session's transaction
holds: same transaction, same savepoints, nothing bypassed at the database. What SQLAlchemy's
execution layer did and this does too:

- each parameter goes through its column type's bind processing (UUIDs as SQLite's 32 hex
  characters, the UTC datetimes, JSON, booleans), in the driver's own parameter style;
- no text with NUL is sent (``session.refuse_nul``, as every statement through the engine);
- a SELECT's values go through their types' result processing (``rows``);
- a driver's error is raised as SQLAlchemy's (``IntegrityError`` for a unique key…).

What it does not do: no ORM (objects are not loaded, the unit of work does not see the rows:
the caller keeps its objects with ``db.rows.keep`` or does not need them), no autoflush before
a write (a SELECT does flush what is pending), no ``before_cursor_execute`` events.
The parameters a statement takes are exactly its bind parameters: an INSERT compiled for the
columns named (``columns``) takes all of them, and a column default is the caller's to apply.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

from optihub.db.session import refuse_nul

Processor = Callable[[Any], Any]


class _Plan:
    __slots__ = (
        "_dialect",
        "_result_types",
        "defaults",
        "names",
        "positional",
        "processors",
        "results",
        "sql",
    )

    def __init__(self, statement: ClauseElement, dialect: Dialect, columns: Sequence[str] | None):
        compiled: Any = statement.compile(dialect=dialect, column_keys=columns)
        if compiled.escaped_bind_names:
            raise ValueError(f"bind names that need escaping: {compiled.escaped_bind_names}")
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        binds = compiled.binds
        self.names: tuple[str, ...] = (
            tuple(compiled.positiontup) if self.positional else tuple(binds)
        )
        bind_processors = compiled._bind_processors
        self.processors: tuple[Processor | None, ...] = tuple(
            bind_processors.get(name) for name in self.names
        )
        # Literal values written into the construct (``column == 5``): their own bind
        # parameters, with the value the construct holds.
        self.defaults: dict[str, Any] = {
            name: binds[name].effective_value
            for name in self.names
            if not binds[name].required and binds[name].callable is None
        }
        self._dialect = dialect
        self._result_types = [column.type for column in compiled._result_columns or ()]
        # Built at the first run: a type's result processing may depend on the type the
        # driver reports for the column (PostgreSQL's numerics).
        self.results: tuple[Processor | None, ...] | None = None

    def result_processors(self, cursor: Any) -> tuple[Processor | None, ...]:
        if self.results is None:
            description = cursor.description or ()
            self.results = tuple(
                kind._cached_result_processor(self._dialect, column[1])
                for kind, column in zip(self._result_types, description, strict=True)
            )
        return self.results

    def values(self, params: Mapping[str, Any]) -> Any:
        if self.defaults:
            params = self.defaults | dict(params)
        if self.positional:
            return tuple(
                params[name] if process is None else process(params[name])
                for name, process in zip(self.names, self.processors, strict=True)
            )
        return {
            name: params[name] if process is None else process(params[name])
            for name, process in zip(self.names, self.processors, strict=True)
        }


def _driver(session: Session | Connection) -> tuple[Any, Dialect]:
    connection = session.connection() if isinstance(session, Session) else session
    driver = connection.connection.driver_connection
    assert driver is not None, "a checked-out connection has its driver connection"
    return driver, connection.dialect


def _sent(dialect: Dialect, driver: Any, sql: str, values: Any, many: bool) -> Any:
    """``send``, a driver's error raised as SQLAlchemy raises it (``IntegrityError``,
    ``OperationalError``…), so callers catch one family whichever way a statement went."""
    try:
        return send(driver, sql, values, many)
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            sql, values, error, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
        ) from error


def send(driver: Any, sql: str, values: Any, many: bool) -> Any:
    """One statement on a DBAPI connection (the one place raw statements go through: the
    tests' event-loop guard watches it). Its cursor, for the rows or ``RETURNING``."""
    refuse_nul(values if not many else [value for row in values for value in _row(row)])
    cursor = driver.cursor()
    if many:
        cursor.executemany(sql, values)
    else:
        cursor.execute(sql, values)
    return cursor


def _row(values: Any) -> Iterable[Any]:
    return values.values() if isinstance(values, dict) else values


_SAVEPOINTS = itertools.count(1)


@contextmanager
def savepoint(session: Session | Connection) -> Iterator[None]:
    """A savepoint for prepared statements: released when the block succeeds, rolled back to
    (and the error raised on) when it fails, so the transaction goes on without what the
    block wrote — as ``Connection.begin_nested``, sent as three plain statements. Only for
    blocks that run prepared statements (SQLAlchemy does not know of it)."""
    driver, dialect = _driver(session)
    name = f"optihub_sp_{next(_SAVEPOINTS)}"
    _sent(dialect, driver, f"SAVEPOINT {name}", (), False)
    try:
        yield
    except BaseException:
        _sent(dialect, driver, f"ROLLBACK TO SAVEPOINT {name}", (), False)
        raise
    _sent(dialect, driver, f"RELEASE SAVEPOINT {name}", (), False)


class Prepared:
    """One statement, compiled once per kind of database, run on a session's connection."""

    __slots__ = ("_plans", "columns", "statement")

    def __init__(self, statement: ClauseElement, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._plans: dict[str, _Plan] = {}

    @classmethod
    def insert(cls, table: Any, columns: Sequence[str]) -> Prepared:
        """``INSERT INTO table (columns…)``: every execution gives each of ``columns``."""
        target: Table = table if isinstance(table, Table) else table.__table__
        return cls(insert(target), columns)

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _Plan(self.statement, dialect, self.columns)
        return plan

    def execute(
        self, session: Session | Connection, params: Mapping[str, Any] | None = None
    ) -> Any:
        """Run once with ``params``; the DBAPI cursor (``fetchone`` for ``RETURNING``)."""
        driver, dialect = _driver(session)
        plan = self._plan(dialect)
        return _sent(dialect, driver, plan.sql, plan.values(params or {}), False)

    def execute_many(
        self, session: Session | Connection, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run once per row of ``rows`` (one ``executemany``)."""
        if not rows:
            return
        driver, dialect = _driver(session)
        plan = self._plan(dialect)
        _sent(dialect, driver, plan.sql, [plan.values(row) for row in rows], True)

    def rows(
        self, session: Session | Connection, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """A SELECT's rows, each value through its type's result processing. On a session
        with pending ORM changes, they are flushed first (as the session's own ``execute``
        would), so the statement sees them."""
        if isinstance(session, Session) and (session.new or session.dirty or session.deleted):
            session.flush()
        driver, dialect = _driver(session)
        plan = self._plan(dialect)
        cursor = _sent(dialect, driver, plan.sql, plan.values(params or {}), False)
        found = cursor.fetchall()
        processors = plan.result_processors(cursor)
        if not any(processors):
            return [tuple(row) for row in found]
        return [
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(row, processors, strict=True)
            )
            for row in found
        ]

    def first(
        self, session: Session | Connection, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        found = self.rows(session, params)
        return found[0] if found else None
