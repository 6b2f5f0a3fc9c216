"""The write threads' kept connections (``Database.write``): one connection from one write
to the next on a busy thread, given back after a database error or an idle spell, and
nothing of a failed transaction left on it. Each test runs its writes on one thread of its
own (PostgreSQL's write threads are eight, each with its own connection)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError

from optihub.db import session as db_session
from optihub.db.models import Practice
from optihub.errors import ValidationFailed
from tests import factories


def _driver_of(session):
    return session.connection().connection.driver_connection


_THREAD: list[ThreadPoolExecutor] = []


@pytest.fixture(autouse=True)
def _one_write_thread(db):
    thread = ThreadPoolExecutor(1, thread_name_prefix="test-writes")
    _THREAD.append(thread)
    yield
    _THREAD.clear()
    thread.submit(db.release_write_connection).result()
    thread.shutdown(wait=True)


def test_a_released_connection_goes_back_to_the_pool(db):
    before = db.engine.pool.checkedout()
    _on_write_thread(db, _driver_of)
    assert db.engine.pool.checkedout() == before + 1
    _THREAD[0].submit(db.release_write_connection).result()
    assert db.engine.pool.checkedout() == before


def _on_write_thread(db, work):
    return _THREAD[0].submit(db.write, work).result()


def test_a_busy_write_thread_keeps_its_connection(db):
    first = _on_write_thread(db, _driver_of)
    second = _on_write_thread(db, _driver_of)
    assert first is second


def test_each_write_commits_on_the_kept_connection(db):
    _on_write_thread(db, lambda s: factories.practice(s, "Lakeside Eye Care").id)
    _on_write_thread(db, lambda s: factories.practice(s, "Harbour Optics").id)
    with db.sessions() as s:
        names = sorted(s.scalars(select(Practice.name)))
    assert names == ["Harbour Optics", "Lakeside Eye Care"]


def test_a_refused_write_is_rolled_back_and_the_connection_kept(db):
    kept = _on_write_thread(db, _driver_of)

    def refused(session):
        factories.practice(session, "Never Kept")
        session.flush()
        raise ValidationFailed([])

    with pytest.raises(ValidationFailed):
        _on_write_thread(db, refused)
    assert _on_write_thread(db, _driver_of) is kept
    with db.sessions() as s:
        assert s.scalars(select(Practice.name)).all() == []


def test_a_database_error_gives_the_connection_up(db):
    kept = _on_write_thread(db, _driver_of)

    def broken(session):
        session.execute(text("SELECT no_such_column FROM practices"))

    with pytest.raises(DBAPIError):
        _on_write_thread(db, broken)
    assert _on_write_thread(db, _driver_of) is not kept  # discarded: a new connection


def test_an_idle_write_thread_checks_a_pinged_connection_out_again(db, monkeypatch):
    checkouts: list[object] = []

    def checked_out(*_args):
        checkouts.append(1)

    _on_write_thread(db, _driver_of)
    event.listen(db.engine, "checkout", checked_out)
    try:
        _on_write_thread(db, _driver_of)
        assert checkouts == []  # busy: the kept connection, no checkout (and no ping)
        monkeypatch.setattr(db_session, "WRITE_CONNECTION_IDLE_SECONDS", 0.0)
        _on_write_thread(db, _driver_of)
        assert checkouts == [1]  # idle: back to the pool, and out again
    finally:
        event.remove(db.engine, "checkout", checked_out)
