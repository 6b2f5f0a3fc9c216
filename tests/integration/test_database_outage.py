"""The database unreachable for a moment (a restart, a fail-over): every dialect answers 503
with ``Retry-After`` in its own envelope — never a 500, never the driver's words — and
answers normally again as soon as the database is back. ``/readyz`` says 503 meanwhile."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy import event

from optihub.db import prepared
from optihub.errors import Unavailable
from optihub.problems import DATABASE_DOWN, DATABASE_RETRY_AFTER, is_outage, problem_from
from tests import factories

# (dialect, path below /, scopes, extra headers): routes that run statements through the
# engine (not the kit's fast reads, which would answer from a copy the outage cannot reach).
CALLS = [
    ("partner", "/api/v1/partner/orders?status=pending", "orders:read", {}),
    ("practice", "/v2/{practice}/patients", "read:patients", {}),
    ("fulfillment", "/fulfillment/v1/search/orders?q=x", "fulfillment:read", {}),
    ("labs", "/v1/labs", "lab_catalog:read", {"User-Email": "staff@example.com"}),
    ("portal", "/api/Patients?externalId=P1", "portal:sync", {}),
]


class Outage:
    """Every statement fails as a dropped PostgreSQL connection does: through the engine,
    and sent past it (``db.prepared.send``, the statements compiled once)."""

    def __init__(self, db) -> None:
        self.engine = db.engine
        self.down = False
        self._send = prepared.send

    def __call__(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        if self.down:
            dropped = psycopg.OperationalError(
                "consuming input failed: server closed the connection unexpectedly"
            )
            raise sqlalchemy.exc.OperationalError(statement, parameters, dropped)

    def send(self, driver, sql, values, many):
        self(None, None, sql, values, None, many)
        return self._send(driver, sql, values, many)

    def __enter__(self) -> Outage:
        event.listen(self.engine, "before_cursor_execute", self)
        prepared.send = self.send
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self)
        prepared.send = self._send


@pytest.fixture
def practice_id(db) -> int:
    with db.transaction() as s:
        return factories.practice(s, "Lakeside Eye Care").id


@pytest.mark.parametrize(("dialect", "path", "scopes", "headers"), CALLS, ids=[c[0] for c in CALLS])
def test_each_dialect_answers_503_with_retry_after_in_its_envelope(
    client, db, issue_token, practice_id, dialect, path, scopes, headers
):
    path = path.format(practice=practice_id)
    token = issue_token(practice_id, scopes, client_id=f"{dialect}-app")
    sent = {"Authorization": f"Bearer {token}", **headers}
    with Outage(db) as outage:
        outage.down = True
        refused = client.get(path, headers=sent)
        outage.down = False
        back = client.get(path, headers=sent)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == str(DATABASE_RETRY_AFTER)
    expected = client.app.state.surfaces.respond(
        path.split("?")[0], Unavailable(DATABASE_DOWN, DATABASE_RETRY_AFTER), ""
    )
    assert refused.content == expected.body, dialect
    for leaked in ("Traceback", "psycopg", "sqlalchemy", "SELECT", "server closed"):
        assert leaked not in refused.text
    assert back.status_code != 503 and back.status_code < 500, back.text


def test_readyz_says_503_while_the_database_is_away(client, db):
    with Outage(db) as outage:
        outage.down = True
        assert client.get("/readyz").status_code == 503
        outage.down = False
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    "exc",
    [
        sqlalchemy.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("refused")),
        sqlalchemy.exc.TimeoutError("QueuePool limit of size 40 overflow 10 reached"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.OperationalError("connection failed: Connection refused"),
        sqlalchemy.exc.OperationalError(
            "INSERT ...", {}, __import__("sqlite3").OperationalError("database is locked")
        ),
    ],
    ids=["dropped", "pool-timeout", "admin-shutdown", "refused", "sqlite-locked"],
)
def test_what_counts_as_an_outage(exc):
    assert is_outage(exc)
    problem = problem_from(exc)
    assert (problem.status, problem.headers) == (503, {"Retry-After": str(DATABASE_RETRY_AFTER)})


@pytest.mark.parametrize(
    "exc",
    [
        sqlalchemy.exc.OperationalError(
            "SELECT", {}, __import__("sqlite3").OperationalError("no such table: orders")
        ),
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
        psycopg.errors.UndefinedTable("relation does not exist"),
        RuntimeError("a bug"),
    ],
    ids=["missing-table", "integrity", "undefined-table", "bug"],
)
def test_a_bug_is_not_an_outage(exc):
    assert not is_outage(exc)
    assert problem_from(exc).status == 500
