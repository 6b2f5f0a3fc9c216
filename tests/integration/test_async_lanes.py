"""The lean connections that run the shared statements (``AsyncReads.fetch_small``) against
a real PostgreSQL: the same rows psycopg reads, statement errors that leave the connection
usable, a lost or cancelled connection replaced on the next call, and many callers at once.
PostgreSQL only: SQLite reads never leave the process."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy.pool import NullPool

from optihub.db import async_reads
from optihub.db.async_reads import AsyncReads, _numbered
from optihub.db.session import Database
from tests.conftest import PG_SERVER_URL

pytestmark = pytest.mark.skipif(
    not PG_SERVER_URL, reason="needs PostgreSQL (OPTIHUB_TEST_DATABASE_URL; make test starts one)"
)


@pytest.fixture(scope="module")
def connect_kwargs() -> dict[str, Any]:
    database = Database(PG_SERVER_URL, poolclass=NullPool)
    _args, kwargs = database.engine.dialect.create_connect_args(database.engine.url)
    database.dispose()
    return dict(kwargs)


def run(connect_kwargs: dict[str, Any], scenario: Any) -> Any:
    async def main() -> Any:
        reads = AsyncReads(connect_kwargs)
        try:
            return await scenario(reads)
        finally:
            await reads.aclose()

    return asyncio.run(main())


def test_rows_match_what_psycopg_reads(connect_kwargs):
    sql = (
        "SELECT %s::bigint + 1, %s::int, %s::text, NULL::int, 'ü'::text"
        " FROM generate_series(1, 3) AS n WHERE n <= %s"
    )
    parameters = [41, -7, "Lens ø", 2]

    async def scenario(reads: AsyncReads) -> tuple[Any, Any]:
        lean = await reads.fetch_small(sql, parameters)
        again = await reads.fetch_small(sql, parameters)  # the prepared statement, reused
        plain = await reads.fetch(sql, parameters)
        return (lean, again), plain

    (lean, again), plain = run(connect_kwargs, scenario)
    assert lean == again == [(42, -7, "Lens ø", None, "ü")] * 2
    assert [tuple(row) for row in plain] == lean


def test_no_rows_is_an_empty_list(connect_kwargs):
    async def scenario(reads: AsyncReads) -> Any:
        return await reads.fetch_small("SELECT 1 WHERE %s::int = 0", [5])

    assert run(connect_kwargs, scenario) == []


def test_a_statement_error_is_raised_and_the_connection_stays_usable(connect_kwargs):
    async def scenario(reads: AsyncReads) -> Any:
        with pytest.raises(psycopg.errors.DivisionByZero):
            await reads.fetch_small("SELECT 1 / %s::int", [0])
        with pytest.raises(psycopg.errors.UndefinedTable):
            await reads.fetch_small("SELECT version FROM no_such_table WHERE id = %s", [1])
        first = reads._open_lanes.copy()
        rows = await reads.fetch_small("SELECT 10 / %s::int", [5])
        return first, reads._open_lanes, rows

    first, after, rows = run(connect_kwargs, scenario)
    assert rows == [(2,)]
    assert len(first) == 1 and after == first  # the same connection served all three


def test_a_lost_connection_fails_its_callers_and_the_next_call_opens_another(connect_kwargs):
    async def scenario(reads: AsyncReads) -> Any:
        pid = (await reads.fetch_small("SELECT pg_backend_pid()", []))[0][0]
        await reads.fetch("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(psycopg.OperationalError):
            await reads.fetch_small("SELECT pg_backend_pid()", [])
        assert not reads._open_lanes  # dropped
        new_pid = (await reads.fetch_small("SELECT pg_backend_pid()", []))[0][0]
        return pid, new_pid

    pid, new_pid = run(connect_kwargs, scenario)
    assert new_pid != pid


def test_a_caller_cancelled_mid_statement_drops_the_connection_not_the_next_caller(
    connect_kwargs,
):
    async def scenario(reads: AsyncReads) -> Any:
        slow = asyncio.create_task(reads.fetch_small("SELECT pg_sleep(%s::int)", [5]))
        await asyncio.sleep(0.3)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert not reads._open_lanes  # its answer would have come to whoever came next
        return await asyncio.wait_for(reads.fetch_small("SELECT %s::int * 2", [21]), 2)

    assert run(connect_kwargs, scenario) == [(42,)]


def test_many_callers_of_a_shared_statement_each_get_its_rows(connect_kwargs):
    async def scenario(reads: AsyncReads) -> Any:
        calls = [reads.fetch_shared("SELECT %s::int * 10", [n % 5]) for n in range(200)]
        return await asyncio.gather(*calls), len(reads._open_lanes)

    results, lanes = run(connect_kwargs, scenario)
    assert results == [[((n % 5) * 10,)] for n in range(200)]
    assert 1 <= lanes <= 4  # bounded by the loop's statements in flight


def test_parameters_are_positional_ints_or_text():
    assert _numbered("SELECT a FROM t WHERE b = %s AND c IN (%s, %s)") == (
        "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
    )
    with pytest.raises(ValueError, match="positional"):
        _numbered("SELECT %(name)s")

    async def scenario(reads: AsyncReads) -> Any:
        with pytest.raises(TypeError, match="int or str"):
            await reads.fetch_small("SELECT %s::float", [1.5])
        return reads._open_lanes

    assert run({"host": "unused.invalid"}, scenario) == set()  # refused before connecting


def test_an_answer_that_never_comes_fails_its_callers_and_frees_the_statement(
    connect_kwargs, monkeypatch
):
    """A lane whose answer does not come in ``ANSWER_SECONDS`` (a connection lost without
    its socket saying so) fails every caller of that round; the next round runs on a new
    connection instead of waiting behind it."""
    monkeypatch.setattr(async_reads, "ANSWER_SECONDS", 0.5)

    async def scenario(reads: AsyncReads) -> Any:
        stuck = [
            asyncio.create_task(reads.fetch_shared("SELECT pg_sleep(%s::int)", [30]))
            for _ in range(3)
        ]
        results = await asyncio.wait_for(asyncio.gather(*stuck, return_exceptions=True), 5)
        assert all(isinstance(r, psycopg.OperationalError) for r in results), results
        assert not reads._open_lanes
        return await asyncio.wait_for(reads.fetch_shared("SELECT %s::int * 2", [21]), 2)

    assert run(connect_kwargs, scenario) == [(42,)]
