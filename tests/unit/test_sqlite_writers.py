"""SQLite writers of one process queue on a lock before ``BEGIN IMMEDIATE`` (``db.session``:
``_SQLiteWriters``), released when their transaction ends however it ends: every write
commits, none waits in SQLite's sleeping busy handler, and reads never queue."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text

from optihub.db.session import Database

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("who", String))


@pytest.fixture
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'writers.db'}")
    metadata.create_all(db.engine)
    yield db
    db.dispose()


def _held(db: Database) -> bool:
    return db.engine.optihub_writers._lock.locked()  # type: ignore[attr-defined]


def test_concurrent_writers_all_commit(database):
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(25):
                with database.transaction() as session:
                    session.execute(insert(notes).values(who=f"{n}-{i}"))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with database.reading() as connection:
        assert len(connection.execute(select(notes.c.id)).all()) == 200
    assert not _held(database)


def test_the_lock_is_held_for_the_transaction_and_released_after_commit(database):
    with database.transaction() as session:
        session.execute(insert(notes).values(who="a"))
        assert _held(database)
        # A read meanwhile neither waits for the lock nor takes it.
        with database.reading() as connection:
            assert connection.execute(select(notes.c.id)).all() == []
    assert not _held(database)


def test_a_failed_transaction_releases_the_lock(database):
    with pytest.raises(RuntimeError), database.transaction() as session:
        session.execute(insert(notes).values(who="gone"))
        raise RuntimeError("refused")
    assert not _held(database)
    with database.transaction() as session:
        session.execute(insert(notes).values(who="next"))
    with database.reading() as connection:
        assert [r.who for r in connection.execute(select(notes.c.who))] == ["next"]


def test_a_connection_dropped_mid_transaction_releases_the_lock(database):
    connection = database.engine.connect()
    connection.begin()
    connection.execute(text("INSERT INTO notes (who) VALUES ('lost')"))
    assert _held(database)
    connection.invalidate()
    assert not _held(database)
    connection.close()
    with database.transaction() as session:
        session.execute(insert(notes).values(who="after"))
    assert not _held(database)
