"""Statements sent past SQLAlchemy's execution layer (``db.prepared``), on every backend:
what they write reads back through the ORM exactly as the ORM would have written it, they
join the session's transaction (and its rollback), and text with NUL is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from optihub.db import prepared
from optihub.db.models import AuditEntry, Patient
from optihub.db.prepared import Prepared
from optihub.errors import BadRequest, Conflict
from tests import factories

INSERT = Prepared.insert(
    Patient,
    (
        "id",
        "practice_id",
        "first_name",
        "last_name",
        "country",
        "notify_eyewear_email",
        "notify_eyewear_sms",
        "created_at",
        "updated_at",
    ),
)
AUDIT = Prepared.insert(
    AuditEntry, ("at", "practice_id", "action", "target_type", "target_id", "via", "details")
)
BY_NAME = Prepared(
    select(Patient.id, Patient.created_at, Patient.notify_eyewear_email)
    .where(Patient.practice_id == bindparam("practice"), Patient.last_name == bindparam("last"))
    .order_by(Patient.first_name)
)
AT = datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=UTC)


def _patient(practice_id: int, first: str, last: str = "Okafor") -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "practice_id": practice_id,
        "first_name": first,
        "last_name": last,
        "country": "GB",
        "notify_eyewear_email": True,
        "notify_eyewear_sms": False,
        "created_at": AT,
        "updated_at": AT,
    }


@pytest.fixture
def practice_id(db) -> int:
    with db.transaction() as s:
        return factories.practice(s).id


def test_rows_written_read_back_through_the_orm_as_given(db, practice_id):
    ada, bea = _patient(practice_id, "Ada"), _patient(practice_id, "Bea")
    with db.transaction() as s:
        INSERT.execute(s, ada)
        INSERT.execute_many(s, [bea])
        AUDIT.execute(
            s,
            {
                "at": AT,
                "practice_id": practice_id,
                "action": "patient.created",
                "target_type": "patient",
                "target_id": str(ada["id"]),
                "via": "practice",
                "details": {"note": "née Smith", "count": 2},
            },
        )
    with db.sessions() as s:
        stored = s.get(Patient, ada["id"])
        assert stored is not None
        assert (stored.first_name, stored.country, stored.created_at) == ("Ada", "GB", AT)
        assert (stored.notify_eyewear_email, stored.notify_eyewear_sms) == (True, False)
        assert s.get(Patient, bea["id"]) is not None
        entry = s.scalars(select(AuditEntry)).one()
        assert entry.details == {"note": "née Smith", "count": 2}
        assert entry.at == AT


def test_select_values_come_back_in_their_python_types(db, practice_id):
    with db.transaction() as s:
        INSERT.execute_many(s, [_patient(practice_id, "Cy"), _patient(practice_id, "Ada")])
        INSERT.execute(s, _patient(practice_id, "Zed", last="Other"))
    with db.transaction() as s:
        rows = BY_NAME.rows(s, {"practice": practice_id, "last": "Okafor"})
        assert len(rows) == 2
        assert all(isinstance(row[0], uuid.UUID) for row in rows)
        assert all(row[1] == AT and row[2] is True for row in rows)
        assert BY_NAME.first(s, {"practice": practice_id, "last": "Nobody"}) is None


def test_a_rolled_back_transaction_keeps_nothing(db, practice_id):
    with pytest.raises(RuntimeError), db.transaction() as s:
        INSERT.execute(s, _patient(practice_id, "Ada"))
        raise RuntimeError("the use case failed after writing")
    with db.sessions() as s:
        assert s.scalars(select(Patient)).all() == []


def test_text_with_nul_is_refused_and_nothing_is_written(db, practice_id):
    with pytest.raises(BadRequest), db.transaction() as s:
        INSERT.execute(s, _patient(practice_id, "A\x00da"))
    with pytest.raises(BadRequest), db.transaction() as s:
        INSERT.execute_many(s, [_patient(practice_id, "Ada"), _patient(practice_id, "B\x00")])
    with db.sessions() as s:
        assert s.scalars(select(Patient)).all() == []


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(db, practice_id):
    ada = _patient(practice_id, "Ada")
    with pytest.raises(IntegrityError), db.transaction() as s:
        INSERT.execute(s, ada)
        INSERT.execute(s, ada)  # the same primary key again
    with db.sessions() as s:
        assert s.scalars(select(Patient)).all() == []


def test_an_insert_unless_taken_writes_nothing_when_its_key_is_held_and_goes_on(db, practice_id):
    columns = (*INSERT.columns, "external_id")  # type: ignore[misc]
    unless_taken = Prepared.insert_unless_taken(
        Patient, columns, key=("practice_id", "external_id")
    )
    ada = _patient(practice_id, "Ada") | {"external_id": "P-1"}
    bea = _patient(practice_id, "Bea") | {"external_id": "P-1"}  # the same external id
    cy = _patient(practice_id, "Cy") | {"external_id": "P-2"}
    with db.transaction() as s:
        assert unless_taken.execute(s, ada).rowcount == 1
        assert unless_taken.execute(s, bea).rowcount == 0  # no error: the transaction goes on
        assert unless_taken.execute(s, cy).rowcount == 1
    with db.sessions() as s:
        stored = {p.first_name: p.external_id for p in s.scalars(select(Patient))}
        assert stored == {"Ada": "P-1", "Cy": "P-2"}


def test_a_session_sends_on_the_connection_its_transaction_holds_after_each_commit(db, practice_id):
    with db.sessions() as s:
        INSERT.execute(s, _patient(practice_id, "Ada"))
        s.commit()
        INSERT.execute(s, _patient(practice_id, "Bea"))  # a new transaction, maybe a new connection
        s.rollback()
        INSERT.execute(s, _patient(practice_id, "Cy"))
        s.commit()
    with db.sessions() as s:
        assert sorted(p.first_name for p in s.scalars(select(Patient))) == ["Ada", "Cy"]


# -- deferred writes (``Prepared.defer``): on PostgreSQL sent with the next statement or the
# COMMIT, in one round trip; on SQLite at once. Either way what a reader sees is the same.


@pytest.fixture
def queries(monkeypatch):
    """The queries ``db.prepared`` sends (one round trip each), as sent."""
    sent: list[str] = []
    original = prepared.send

    def send(driver, sql, values, many):
        sent.append(sql)
        return original(driver, sql, values, many)

    monkeypatch.setattr(prepared, "send", send)
    return sent


def test_deferred_writes_are_committed_with_the_transaction_in_their_order(
    db, practice_id, queries
):
    ada, bea = _patient(practice_id, "Ada"), _patient(practice_id, "Bea")
    with db.transaction() as s:
        INSERT.defer(s, ada)
        INSERT.defer_many(s, [bea])
        AUDIT.defer(s, _audit(practice_id, ada["id"]))
    with db.sessions() as s:
        assert {p.first_name for p in s.scalars(select(Patient))} == {"Ada", "Bea"}
        assert s.scalars(select(AuditEntry.target_id)).all() == [str(ada["id"])]
    if db.engine.dialect.name == "postgresql":
        # Three writes and the COMMIT: one query, one round trip.
        assert len(queries) == 1
        assert queries[0].count("INSERT INTO") == 3 and queries[0].endswith(";COMMIT")
    else:
        assert len(queries) == 3  # SQLite has no round trip to save: each went at once


def test_a_statement_after_deferred_writes_sees_them(db, practice_id, queries):
    with db.transaction() as s:
        INSERT.defer(s, _patient(practice_id, "Ada"))
        # A prepared SELECT carries them in its own query…
        assert [row[2] for row in BY_NAME.rows(s, {"practice": practice_id, "last": "Okafor"})] == [
            True
        ]
        INSERT.defer(s, _patient(practice_id, "Bea"))
        # …and one through SQLAlchemy (ORM or Core) finds them sent before it.
        assert sorted(s.scalars(select(Patient.first_name))) == ["Ada", "Bea"]
    if db.engine.dialect.name == "postgresql":
        assert len(queries) == 2  # the SELECT with Ada; Bea alone before the ORM's query


def test_deferred_writes_of_a_rolled_back_transaction_leave_nothing(db, practice_id):
    with pytest.raises(RuntimeError), db.transaction() as s:
        INSERT.defer(s, _patient(practice_id, "Ada"))
        raise RuntimeError("the use case failed after writing")
    with db.transaction() as s:  # the next transaction on that connection sends none of them
        INSERT.execute(s, _patient(practice_id, "Bea"))
    with db.sessions() as s:
        assert s.scalars(select(Patient.first_name)).all() == ["Bea"]


def test_deferred_writes_before_a_savepoint_are_sent_before_it_and_kept(db, practice_id):
    ada = _patient(practice_id, "Ada")
    with db.transaction() as s:
        INSERT.defer(s, ada)
        # A savepoint whose flush fails (what ``flush_or_conflict`` catches): Ada was sent
        # before the SAVEPOINT, so she is what it collides with, and she stays.
        with pytest.raises(IntegrityError), s.begin_nested():
            s.add(Patient(**(_patient(practice_id, "Bea") | {"id": ada["id"]})))
            s.flush()
        INSERT.defer(s, _patient(practice_id, "Cy"))
    with db.sessions() as s:
        assert sorted(s.scalars(select(Patient.first_name))) == ["Ada", "Cy"]


def test_a_deferred_write_that_fails_fails_the_commit_and_nothing_is_written(db, practice_id):
    ada = _patient(practice_id, "Ada")
    with pytest.raises(IntegrityError), db.transaction() as s:
        INSERT.execute(s, ada)
        AUDIT.defer(s, _audit(practice_id, ada["id"]))
        INSERT.defer(s, ada)  # the same primary key again: PostgreSQL finds it at the COMMIT
    with db.sessions() as s:
        assert s.scalars(select(Patient)).all() == []
        assert s.scalars(select(AuditEntry)).all() == []
    with db.transaction() as s:  # the connection is usable again
        INSERT.defer(s, _patient(practice_id, "Bea"))
    with db.sessions() as s:
        assert s.scalars(select(Patient.first_name)).all() == ["Bea"]


def test_a_key_the_deferred_writes_break_is_raised_as_the_refusal_registered(db, practice_id):
    ada = _patient(practice_id, "Ada")
    with db.transaction() as s:
        INSERT.execute(s, ada)

    def again(s):
        AUDIT.defer(s, _audit(practice_id, ada["id"]))
        INSERT.defer(s, ada)  # the same primary key again
        prepared.refuse_as(s, Conflict("Ada is being written by another request"))

    # PostgreSQL finds it at the COMMIT, where the refusal is raised; SQLite at once.
    expected = Conflict if db.dialect == "postgresql" else IntegrityError
    with pytest.raises(expected):
        db.write(again)
    with db.sessions() as s:
        assert s.scalars(select(AuditEntry)).all() == []
    # The write thread's kept connection runs its next transaction: nothing is left open.
    db.write(lambda s: INSERT.defer(s, _patient(practice_id, "Bea")))
    db.write(lambda s: INSERT.defer(s, _patient(practice_id, "Cy")))
    with db.sessions() as s:
        assert sorted(s.scalars(select(Patient.first_name))) == ["Ada", "Bea", "Cy"]


def test_deferred_text_with_nul_is_refused_at_once(db, practice_id):
    with pytest.raises(BadRequest), db.transaction() as s:
        INSERT.defer(s, _patient(practice_id, "Ada"))
        INSERT.defer_many(s, [_patient(practice_id, "B\x00")])
    with db.sessions() as s:
        assert s.scalars(select(Patient)).all() == []


def test_deferred_values_are_quoted_not_run(db, practice_id):
    hostile = "O'Brien; DROP TABLE patients; -- 50% %s %(x)s \\ ’"
    with db.transaction() as s:
        INSERT.defer(s, _patient(practice_id, hostile))
        AUDIT.defer(s, _audit(practice_id, "x", details={"note": hostile, "n": [1, None]}))
    with db.sessions() as s:
        assert s.scalars(select(Patient.first_name)).all() == [hostile]
        assert s.scalars(select(AuditEntry.details)).one() == {"note": hostile, "n": [1, None]}


def _audit(practice_id: int, target: object, details: dict | None = None) -> dict[str, object]:
    return {
        "at": AT,
        "practice_id": practice_id,
        "action": "patient.created",
        "target_type": "patient",
        "target_id": str(target),
        "via": "practice",
        "details": details or {},
    }
