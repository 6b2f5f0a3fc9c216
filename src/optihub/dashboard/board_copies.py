"""Copies of the orders board as rendered, served again while nothing they show changed.

The board is the page staff keep open and reload all day; rendering it costs a dozen
queries and a template, while finding out whether anything on it changed costs one indexed
statement. So the route (``board.orders_board``) keeps the bytes it rendered, keyed by the
request's session cookie and query string, with what they were rendered under:

- the *validator*, one statement's rows: the signed-in user's name and e-mail, each of
  their memberships (practice, role, name, time zone, overdue thresholds) and each
  practice's order version (``order_versions``: raised in the transaction of every change
  to an order, its lines or history, its patient, the practice's locations and lab
  accounts, and of a lab's or an app's name; ``reads.documents``);
- the moment the first "days in status" on the page turns over (the page then expires).

A hot route (``web.HotRoutes``) answers a request for the same page (same cookie, same
query string) from the copy after reading the validator again and finding it unchanged,
before the expiry, with the session cookie checked as the middleware checks it. Anything
else (no copy, a changed validator, an ended session, a cookie carrying a message to show)
goes to the route, which renders and keeps the page again. Each process keeps its own
copies and checks the database before serving one: never a stale page, on any node.

The validator is read before the page's data: on SQLite in the same snapshot, on
PostgreSQL (a snapshot per statement) earlier, so a copy is never older than its validator.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import DateTime
from sqlalchemy.engine import Connection, Dialect
from starlette.types import Scope

from optihub.auth.pages import SESSION_COOKIE, SessionCookie
from optihub.db.session import PLACEHOLDERS, Database
from optihub.web import HotAnswer, HotRoutes

# At most this many pages per process (a board page is 10–60 KB): one per signed-in
# browser and filter in use. When full, it starts over: the pages in use come back at once.
COPIES = 256
# A copy is checked against the database on every request; this only bounds how long an
# unused one stays in memory.
LONGEST = timedelta(hours=1)

_SQL = (
    "SELECT users.first_name, users.last_name, users.email, memberships.practice_id,"
    " memberships.role, practices.name, practices.timezone, practices.overdue_days,"
    " order_versions.version"
    " FROM staff_sessions JOIN users ON users.id = staff_sessions.user_id"
    " JOIN memberships ON memberships.user_id = users.id"
    " JOIN practices ON practices.id = memberships.practice_id"
    " LEFT OUTER JOIN order_versions ON order_versions.practice_id = memberships.practice_id"
    " WHERE staff_sessions.id_hash = {p} AND staff_sessions.expires_at > {p} AND users.is_active"
    " ORDER BY memberships.practice_id"
)

PAGE_HEADERS = ((b"cache-control", b"no-store"), (b"vary", b"Cookie"))
HTML = b"text/html; charset=utf-8"
JSON = b"application/json"

Validator = tuple[tuple[str, ...], ...]
# (path, session cookie as sent, query string)
Key = tuple[str, bytes, bytes]


@dataclass(frozen=True)
class _Copy:
    validator: Validator
    expires: float  # time.time()
    body: bytes
    content_type: bytes


class _Statement:
    """The validator statement in one database's parameter style, and how it takes a time."""

    def __init__(self, dialect: Dialect) -> None:
        self.sql = _SQL.format(p=PLACEHOLDERS[dialect.paramstyle])
        processor = DateTime().dialect_impl(dialect).bind_processor(dialect)
        self.time = processor or (lambda value: value)

    def parameters(self, session_id: str) -> list[Any]:
        now = datetime.now(UTC).replace(tzinfo=None)
        return [hashlib.sha256(session_id.encode()).hexdigest(), self.time(now)]


def _validator(rows: list[Any]) -> Validator:
    return tuple(tuple(str(value) for value in row) for row in rows)


class BoardCopies:
    """One application's copies of the board (``app.state.board_copies``)."""

    def __init__(self, db: Database, cookies: SessionCookie) -> None:
        self.db = db
        self.cookies = cookies
        self.statement = _Statement(db.engine.dialect)
        self._items: dict[Key, _Copy] = {}
        self._lock = threading.Lock()

    # -- the route's side -------------------------------------------------------------------

    def validator(self, connection: Connection, session_id: str) -> Validator:
        """Read with the page's own connection, before its data."""
        parameters = tuple(self.statement.parameters(session_id))
        return _validator(list(connection.exec_driver_sql(self.statement.sql, parameters)))

    def keep(
        self,
        key: Key,
        validator: Validator,
        expires: datetime,
        body: bytes,
        content_type: bytes = HTML,
    ) -> None:
        until = min(expires.timestamp(), time.time() + LONGEST.total_seconds())
        with self._lock:
            if len(self._items) >= COPIES:
                self._items = {}
            self._items[key] = _Copy(validator, until, body, content_type)

    # -- the hot route's side ---------------------------------------------------------------

    async def serve(self, scope: Scope) -> HotAnswer | None:
        raw = _cookie(scope)
        if raw is None:
            return None
        found = self._items.get((scope["path"], raw, scope["query_string"]))
        if found is None or time.time() >= found.expires:
            return None
        session = self.cookies.decode(raw)
        if session is None or "flash" in session or not session.get("session_id"):
            return None
        rows = await self.db.fetch_raw_async(
            self.statement.sql, self.statement.parameters(str(session["session_id"]))
        )
        if _validator(rows) != found.validator:
            return None
        return HotAnswer(found.body, found.content_type, PAGE_HEADERS)


_COOKIE_PREFIX = SESSION_COOKIE.encode() + b"="


def _cookie(scope: Scope) -> bytes | None:
    """The session cookie's value, as sent."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.split(b";"):
                part = part.strip()
                if part.startswith(_COOKIE_PREFIX):
                    return part[len(_COOKIE_PREFIX) :]
    return None


def key_of(request: Request) -> Key | None:
    """The copy's key for this request (None: no session cookie, nothing to key it by)."""
    raw = _cookie(request.scope)
    return None if raw is None else (request.scope["path"], raw, request.scope["query_string"])


def copies_of(request: Request) -> BoardCopies | None:
    return getattr(request.app.state, "board_copies", None)


def install(app: FastAPI, routes: HotRoutes, *paths: str) -> None:
    copies = app.state.board_copies = BoardCopies(app.state.db, app.state.session_cookie)
    for path in paths:
        routes.add(path, path, copies.serve)
