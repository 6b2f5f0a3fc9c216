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
- no text with NUL is sent (``db.nul.refuse_nul``, as every statement through the engine);
- a SELECT's values go through their types' result processing (``rows``);
- a driver's error is raised as SQLAlchemy's (``IntegrityError`` for a unique key…).

What it does not do: no ORM (objects are not loaded, the unit of work does not see the rows:
the caller keeps its objects with ``db.rows.keep`` or does not need them), no autoflush before
a write (a SELECT does flush what is pending), no ``before_cursor_execute`` events.
On PostgreSQL a write whose answer nobody reads may be deferred (``Prepared.defer``): sent
with the transaction's next statement or its COMMIT, in one round trip
(``send_deferred_on``).
The parameters a statement takes are exactly its bind parameters: an INSERT compiled for the
columns named (``columns``) takes all of them, and a column default is the caller's to apply.
"""

from __future__ import annotations

import contextlib
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.adapt import PyFormat
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Engine, Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

from optihub.db.nul import refuse_nul

Processor = Callable[[Any], Any]


class _Plan:
    __slots__ = (
        "_dialect",
        "_result_types",
        "defaults",
        "names",
        "parts",
        "positional",
        "processors",
        "results",
        "sql",
        "values",
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
        # The parameters in the driver's shape, each through its processing: one generated
        # function a statement (a tuple or dict display), not a loop over names per call.
        self.values: Callable[[Mapping[str, Any]], Any] = _values_function(
            self.names, self.processors, self.defaults, self.positional
        )
        # PostgreSQL: the statement's text around its parameters and their names in order,
        # to write a deferred execution's values into it (``_literal_sql``).
        self.parts: tuple[tuple[str, ...], tuple[str, ...]] | None = (
            _split(self.sql) if dialect.name == "postgresql" and not self.positional else None
        )
        # Built at the first run: a type's result processing may depend on the type the
        # driver reports for the column (PostgreSQL's numerics).
        self.results: Callable[[list[Any]], list[tuple[Any, ...]]] | None = None

    def converted(self, cursor: Any, found: list[Any]) -> list[tuple[Any, ...]]:
        """The rows, each value through its type's result processing."""
        if self.results is None:
            description = cursor.description or ()
            self.results = _results_function(
                [
                    kind._cached_result_processor(self._dialect, column[1])
                    for kind, column in zip(self._result_types, description, strict=True)
                ]
            )
        return self.results(found)


def _values_function(
    names: Sequence[str],
    processors: Sequence[Processor | None],
    defaults: Mapping[str, Any],
    positional: bool,
) -> Callable[[Mapping[str, Any]], Any]:
    """``params`` → the driver's parameters: a tuple in the statement's order (positional
    styles) or a dict; a literal the construct holds unless ``params`` gives the name."""
    scope: dict[str, Any] = {}
    parts = []
    for index, (name, process) in enumerate(zip(names, processors, strict=True)):
        value = f"params[{name!r}]"
        if name in defaults:
            scope[f"d{index}"] = defaults[name]
            value = f"params.get({name!r}, d{index})"
        if process is not None:
            scope[f"p{index}"] = process
            value = f"p{index}({value})"
        parts.append(value if positional else f"{name!r}: {value}")
    shown = (
        "(" + "".join(f"{part}, " for part in parts) + ")"
        if positional
        else ("{" + ", ".join(parts) + "}")
    )
    exec(f"def values(params):\n    return {shown}\n", scope)  # noqa: S102 (names: repr)
    return scope["values"]  # type: ignore[no-any-return]


def _results_function(
    processors: Sequence[Processor | None],
) -> Callable[[list[Any]], list[tuple[Any, ...]]]:
    """The driver's rows → rows of processed values (a NULL stays None)."""
    if not any(processors):
        return lambda found: found  # the drivers' rows are tuples already
    scope: dict[str, Any] = {}
    parts = []
    for index, process in enumerate(processors):
        if process is None:
            parts.append(f"row[{index}]")
        else:
            scope[f"p{index}"] = process
            parts.append(f"None if row[{index}] is None else p{index}(row[{index}])")
    shown = "(" + "".join(f"{part}, " for part in parts) + ")"
    exec(f"def rows(found):\n    return [{shown} for row in found]\n", scope)  # noqa: S102
    return scope["rows"]  # type: ignore[no-any-return]


_DRIVER = "optihub.prepared.driver"
# Per DBAPI connection (its pool record's ``info``): the statements of its transaction
# deferred so far (``Prepared.defer``; PostgreSQL only), as SQL with their values quoted in;
# the client-side cursor that quotes them.
_DEFERRED = "optihub.prepared.deferred"
_QUOTING = "optihub.prepared.quoting"
# What the transaction's deferred statements breaking an integrity rule (a unique key a
# concurrent transaction took) is raised as, instead of the driver's error (``refuse_as``).
_REFUSAL = "optihub.prepared.refusal"


def _driver(session: Session | Connection) -> tuple[Any, Dialect, dict[Any, Any]]:
    """The DBAPI connection a session's transaction holds, its dialect, and its pool
    record's ``info``. A session's is kept in its ``info`` from the transaction's start to
    its end (``_kept``, ``_dropped``): ``Session.connection()`` costs ~10 µs of Python a
    call, a statement."""
    if isinstance(session, Session):
        kept = session.info.get(_DRIVER)
        if kept is not None:
            return kept  # type: ignore[no-any-return]
        connection = session.connection()
    else:
        connection = session
    driver = connection.connection.driver_connection
    assert driver is not None, "a checked-out connection has its driver connection"
    return driver, connection.dialect, connection.info


@event.listens_for(Session, "after_begin")
def _kept(session: Session, _transaction: Any, connection: Connection) -> None:
    driver = connection.connection.driver_connection
    if driver is not None:
        session.info[_DRIVER] = (driver, connection.dialect, connection.info)


@event.listens_for(Session, "after_transaction_end")
def _dropped(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the session's own transaction, not a savepoint's
        session.info.pop(_DRIVER, None)


def _sent(
    dialect: Dialect, driver: Any, info: dict[Any, Any], sql: str, values: Any, many: bool
) -> Any:
    """``send``, after the transaction's deferred statements (in the same round trip: one
    query of them all, ``_joined``), a driver's error raised as SQLAlchemy raises it
    (``IntegrityError``, ``OperationalError``…), so callers catch one family whichever way
    a statement went."""
    try:
        deferred = info.get(_DEFERRED)
        if not deferred:
            return send(driver, sql, values, many)
        refuse_nul(values if not many else [value for row in values for value in _row(row)])
        quoting = _quoting(driver, info)
        rows = values if many else (values,)
        deferred.extend(quoting.mogrify(sql, row) for row in rows)
        return _joined(driver, info, "")
    except dialect.loaded_dbapi.Error as error:
        raise _as_sqlalchemy_error(dialect, sql, values, error) from error


def _as_sqlalchemy_error(dialect: Dialect, sql: str, values: Any, error: Exception) -> Exception:
    """A driver's error as SQLAlchemy raises it (``IntegrityError`` for a unique key…)."""
    return DBAPIError.instance(
        sql, values, error, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
    )


def _joined(driver: Any, info: dict[Any, Any], then: str) -> Any:
    """Every deferred statement of the connection's transaction, then ``then`` (e.g.
    ``COMMIT``), as one query: one round trip (PostgreSQL's simple query protocol runs
    them in order and stops at the first error). The cursor is left on the last result.
    An integrity error is raised as the refusal the transaction registered (``refuse_as``),
    when it did."""
    deferred = info.pop(_DEFERRED)
    refusal = info.pop(_REFUSAL, None)
    try:
        cursor = send(driver, ";".join([*deferred, then] if then else deferred), None, False)
    except psycopg.IntegrityError as error:
        if refusal is None:
            raise
        raise refusal from error
    more = cursor.nextset()
    while more:
        more = cursor.nextset()
    return cursor


def refuse_as(session: Session | Connection, refusal: Exception) -> None:
    """When the transaction's deferred statements (``Prepared.defer``), sent later with its
    next statement or its COMMIT, break an integrity rule of the database (a unique key a
    concurrent transaction took first), raise ``refusal`` (e.g. an OptiHub ``Conflict``)
    instead of the driver's error. On SQLite, where nothing is deferred, a deferred
    statement's error is raised at once, to its caller: nothing to register."""
    _driver_connection, dialect, info = _driver(session)
    if dialect.name == "postgresql" and info.get(_DEFERRED):
        info[_REFUSAL] = refusal


def _quoting(driver: Any, info: dict[Any, Any]) -> Any:
    """A client-side cursor of ``driver``: it writes values into SQL as psycopg quotes them
    (``mogrify``), for the queries of several statements that take no parameters."""
    quoting = info.get(_QUOTING)
    if quoting is None or quoting.connection is not driver:
        quoting = info[_QUOTING] = psycopg.ClientCursor(driver)
    return quoting


def send_deferred_on(engine: Engine) -> None:
    """Send a PostgreSQL engine's deferred statements (``Prepared.defer``) before any other
    statement of their transaction goes through it (a flush, a savepoint, a Core or ORM
    statement), and with its COMMIT; drop them when it rolls back or begins again."""
    dbapi_error = engine.dialect.loaded_dbapi.Error

    def before_statement(conn: Connection, *_args: Any) -> None:
        info = conn.info
        if info.get(_DEFERRED):
            _joined(conn.connection.driver_connection, info, "")

    def before_commit(conn: Connection) -> None:
        info = conn.info
        if info.get(_DEFERRED):
            driver = conn.connection.driver_connection
            try:
                _joined(driver, info, "COMMIT")
            except BaseException as error:
                # The query stopped before its COMMIT: the transaction is left failed, and
                # SQLAlchemy, its commit having failed, rolls back no further. Ended here,
                # so the connection (a write thread keeps its own) starts its next clean.
                with contextlib.suppress(Exception):
                    driver.rollback()  # type: ignore[union-attr]
                if isinstance(error, dbapi_error):
                    raise _as_sqlalchemy_error(engine.dialect, "COMMIT", None, error) from error
                raise  # the refusal the transaction registered (``refuse_as``)
            # The transaction is committed; the driver's own COMMIT, next, finds none open.

    def dropped(conn: Connection, *_args: Any) -> None:
        with contextlib.suppress(Exception):  # an invalidated connection has no info
            conn.info.pop(_DEFERRED, None)
            conn.info.pop(_REFUSAL, None)

    event.listen(engine, "before_cursor_execute", before_statement)
    event.listen(engine, "commit", before_commit)
    event.listen(engine, "rollback", dropped)
    event.listen(engine, "begin", dropped)


def send(driver: Any, sql: str, values: Any, many: bool) -> Any:
    """One statement on a DBAPI connection (the one place raw statements go through: the
    tests' event-loop guard watches it). Its cursor, for the rows or ``RETURNING``."""
    refuse_nul(values if not many else [value for row in values for value in _row(row)])
    cursor = driver.cursor()
    if many:
        cursor.executemany(sql, values)
    elif values is None and isinstance(cursor, psycopg.Cursor):
        # A query of deferred statements, their values written in (``_joined``): its text
        # is never sent twice, so psycopg's count of texts to prepare is skipped.
        cursor.execute(sql, prepare=False)
    else:
        cursor.execute(sql, values)
    return cursor


def _row(values: Any) -> Iterable[Any]:
    return values.values() if isinstance(values, dict) else values


class Prepared:
    """One statement, compiled once per kind of database, run on a session's connection.
    ``statement``: one construct, or one per kind of database (``{"sqlite": …,
    "postgresql": …}``) where their SQL differs (an upsert)."""

    __slots__ = ("_plans", "columns", "statement")

    def __init__(
        self,
        statement: ClauseElement | Mapping[str, ClauseElement],
        columns: Sequence[str] | None = None,
    ) -> None:
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._plans: dict[str, _Plan] = {}

    @classmethod
    def insert(cls, table: Any, columns: Sequence[str]) -> Prepared:
        """``INSERT INTO table (columns…)``: every execution gives each of ``columns``."""
        target: Table = table if isinstance(table, Table) else table.__table__
        return cls(insert(target), columns)

    @classmethod
    def insert_unless_taken(
        cls, table: Any, columns: Sequence[str], key: Sequence[str] | None = None
    ) -> Prepared:
        """``insert``, writing nothing when the row would take a unique ``key`` (any unique
        key when None) another row holds: the cursor's ``rowcount`` is then 0. No error,
        so no savepoint is needed around it (``ON CONFLICT DO NOTHING``)."""
        target: Table = table if isinstance(table, Table) else table.__table__
        statements = {}
        for name, dialect_insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert)):
            statements[name] = dialect_insert(target).on_conflict_do_nothing(
                index_elements=list(key) if key is not None else None
            )
        return cls(statements, columns)

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            statement = self.statement
            if isinstance(statement, Mapping):
                statement = statement[dialect.name]
            plan = self._plans[dialect.name] = _Plan(statement, dialect, self.columns)
        return plan

    def execute(
        self, session: Session | Connection, params: Mapping[str, Any] | None = None
    ) -> Any:
        """Run once with ``params``; the DBAPI cursor (``fetchone`` for ``RETURNING``)."""
        driver, dialect, info = _driver(session)
        plan = self._plan(dialect)
        return _sent(dialect, driver, info, plan.sql, plan.values(params or {}), False)

    def defer(self, session: Session | Connection, params: Mapping[str, Any] | None = None) -> None:
        """``execute``, for a write whose answer nobody reads (no row count, no
        ``RETURNING``) and that breaks no rule of the database a caller would catch (a
        unique key it may take): on PostgreSQL, it is sent with the transaction's next
        statement or its COMMIT, in the same round trip (``send_deferred_on``); an error it
        meets is raised there. Statements keep their order. On SQLite it runs now (no
        round trip to save)."""
        self.defer_many(session, [params or {}])

    def defer_many(self, session: Session | Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """``defer`` once per row of ``rows``."""
        if not rows:
            return
        driver, dialect, info = _driver(session)
        if dialect.name != "postgresql":
            self.execute_many(session, rows)  # no round trip to save
            return
        plan = self._plan(dialect)
        deferred = info.setdefault(_DEFERRED, [])
        for row in rows:
            values = plan.values(row)
            refuse_nul(values)
            written = _literal_sql(plan.parts, values, driver) if plan.parts else None
            deferred.append(
                written if written is not None else _quoting(driver, info).mogrify(plan.sql, values)
            )

    def execute_many(
        self, session: Session | Connection, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run once per row of ``rows`` (one ``executemany``)."""
        if not rows:
            return
        driver, dialect, info = _driver(session)
        plan = self._plan(dialect)
        _sent(dialect, driver, info, plan.sql, [plan.values(row) for row in rows], True)

    def rows(
        self, session: Session | Connection, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """A SELECT's rows, each value through its type's result processing. On a session
        with pending ORM changes, they are flushed first (as the session's own ``execute``
        would), so the statement sees them."""
        if isinstance(session, Session):
            session.flush()  # returns at once when nothing is pending
        driver, dialect, info = _driver(session)
        plan = self._plan(dialect)
        cursor = _sent(dialect, driver, info, plan.sql, plan.values(params or {}), False)
        return plan.converted(cursor, cursor.fetchall())

    def first(
        self, session: Session | Connection, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        found = self.rows(session, params)
        return found[0] if found else None


# -- PostgreSQL literals for the deferred statements --------------------------------------
#
# A deferred statement is sent as text inside one query of several (``_joined``): its values
# are written into it as literals. psycopg's ``ClientCursor.mogrify`` does that for any value
# through its adapters, parsing the statement each time: for the value types OptiHub's rows
# hold, ``_literal_sql`` writes the very text it writes (tests/integration/test_pg_literals.py
# compares the two), from the statement split once (``_Plan.parts``), in a tenth of the time.
# Any other value (bytes, an ``int`` subclass, a non-finite number…) goes to ``mogrify``.


def _text_literal(value: str) -> str:
    # As psycopg quotes text: with a backslash, an escape string (E'…', backslashes doubled),
    # which reads the same whatever the server's standard_conforming_strings; without, a
    # plain one. Quotes doubled in both; NUL never reaches here (``refuse_nul``).
    if "\\" in value:
        return " E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.replace("'", "''") + "'"


def _number_literal(value: int | float | Decimal) -> str | None:
    if type(value) is float:
        if not math.isfinite(value):
            return None
    elif type(value) is Decimal and not value.is_finite():
        return None
    text = str(value)
    # A space before a minus, as psycopg writes it: no ``--`` (a comment) is ever formed.
    return " " + text if text.startswith("-") else text


def _datetime_literal(value: datetime) -> str:
    return "'" + str(value) + ("'::timestamptz" if value.tzinfo is not None else "'::timestamp")


_LITERALS: dict[type, Callable[[Any], str | None]] = {
    str: _text_literal,
    int: _number_literal,
    Decimal: _number_literal,
    float: _number_literal,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _value: "NULL",
    uuid.UUID: lambda value: "'" + value.hex + "'::uuid",
    datetime: _datetime_literal,
    date: lambda value: "'" + value.isoformat() + "'::date",
}


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def _split(sql: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A pyformat statement's text around its ``%(name)s`` parameters (``%%`` read as the
    ``%`` it stands for) and the parameters' names, in order."""
    texts: list[str] = []
    names: list[str] = []
    text: list[str] = []
    at = 0
    for found in _PLACEHOLDER.finditer(sql):
        text.append(sql[at : found.start()])
        at = found.end()
        if found.group(1) is None:
            text.append("%")
            continue
        texts.append("".join(text))
        text = []
        names.append(found.group(1))
    text.append(sql[at:])
    texts.append("".join(text))
    return tuple(texts), tuple(names)


def _literal_sql(
    parts: tuple[tuple[str, ...], tuple[str, ...]], values: Mapping[str, Any], driver: Any
) -> str | None:
    """The statement with ``values`` written in as psycopg's ``mogrify`` writes them, or
    None when a value is of a type left to it."""
    texts, names = parts
    written = [texts[0]]
    for name, text in zip(names, texts[1:], strict=True):
        value = values[name]
        render = _LITERALS.get(type(value))
        if render is not None:
            literal = render(value)
        elif type(value) is Jsonb:
            literal = _jsonb_literal(value, driver)
        else:
            return None
        if literal is None:
            return None
        written.append(literal)
        written.append(text)
    return "".join(written)


def _jsonb_literal(value: Jsonb, driver: Any) -> str | None:
    # The JSON text from the function the value names, or else the connection's (the
    # engine's ``json_serializer``, which SQLAlchemy installs on each connection).
    dumps = value.dumps or driver.adapters.get_dumper(Jsonb, PyFormat.TEXT)._dumps
    text = dumps(value.obj)
    if not isinstance(text, str):
        text = bytes(text).decode()
    if "\x00" in text:
        return None  # NUL: psycopg's own dump refuses it
    return _text_literal(text) + "::jsonb"
