"""A database outage inside a route never reaches the server as an exception.

Starlette's last-resort handler (the one for ``Exception``) answers and then re-raises the
exception to the server, by design, so the server can log it: uvicorn then logs
"Exception in ASGI application" with a stack, the access log records a 500, and uvicorn
closes the client's connection right after the 503, which a client reusing it sees as a
reset (``ReadError``). scripts/reliability.py found this as connection errors during a
PostgreSQL restart. So outages are answered earlier, where nothing is re-raised; the test
client here re-raises what the server would see, as uvicorn does.
"""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient
from sqlalchemy import event

from optihub.problems import DATABASE_RETRY_AFTER
from tests import factories
from tests.integration.test_database_outage import CALLS, Outage


@pytest.fixture
def strict_client(app):
    """A client that raises whatever the application lets escape to the server."""
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def practice_id(db) -> int:
    with db.transaction() as s:
        return factories.practice(s, "Lakeside Eye Care").id


@pytest.mark.parametrize(("dialect", "path", "scopes", "headers"), CALLS, ids=[c[0] for c in CALLS])
def test_an_outage_is_answered_503_without_an_exception_to_the_server(
    strict_client, db, issue_token, practice_id, dialect, path, scopes, headers
):
    token = issue_token(practice_id, scopes, client_id=f"{dialect}-app")
    sent = {"Authorization": f"Bearer {token}", **headers}
    with Outage(db) as outage:
        outage.down = True
        refused = strict_client.get(path.format(practice=practice_id), headers=sent)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == str(DATABASE_RETRY_AFTER)


def test_another_database_error_is_still_a_500_seen_by_the_server(
    strict_client, db, issue_token, practice_id
):
    """Only outages are answered early: a broken statement stays a server error (500,
    logged with its stack), as before."""
    token = issue_token(practice_id, "orders:read", client_id="partner-app")

    def broken(_conn, _cursor, statement, parameters, _context, _many) -> None:
        raise sqlalchemy.exc.ProgrammingError(statement, parameters, Exception("syntax"))

    event.listen(db.engine, "before_cursor_execute", broken)
    try:
        with pytest.raises(sqlalchemy.exc.ProgrammingError):
            strict_client.get(
                "/api/v1/partner/orders?status=pending",
                headers={"Authorization": f"Bearer {token}"},
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", broken)
