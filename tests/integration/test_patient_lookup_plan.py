"""The lab order's patient lookup (``reads.patients.same_person``, on every lab order)
searches the practice's patients by name, not all of them.

With ``ORDER BY created_at`` in the statement, SQLite (which keeps no statistics) chose the
``(practice_id, created_at)`` index, which gives that order, and read every patient of the
practice: 1.4 ms a lab order at 3,000 patients, growing with the practice. The statement
now has no ORDER BY and the newest match is chosen from the few found.
"""

from __future__ import annotations

from optihub.reads import patients as patient_reads

PARAMS = {"practice_id": 1, "first_name": "ada", "last_name": "byron", "email": "a@example.com"}


def test_sqlite_searches_the_patients_by_name(db):
    if db.dialect != "sqlite":
        return  # PostgreSQL chooses from its statistics, which the test's tables lack
    with db.engine.connect() as connection:
        plan = patient_reads._SAME_PERSON._plan(connection.dialect)
        rows = connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + plan.sql, plan.values(PARAMS)
        ).all()
    shown = "\n".join(str(row[-1]) for row in rows)
    assert "SEARCH patients USING INDEX ix_patients_practice_id_lower_" in shown, shown
    assert "created_at" not in shown, shown
    assert "TEMP B-TREE" not in shown, shown  # nothing read to be sorted
