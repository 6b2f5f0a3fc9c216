"""The portal's external-id lookup finds its record through the unique key, whatever
statistics the database has (migration 0015).

Before 0015, ``portal_records`` had a second index beginning with the same two columns
as the ``(practice_id, resource, external_id)`` key. PostgreSQL, before it had analyzed
the table, costed the two alike and took the other one for the lookup, reading every
record of the resource: a portal's first sync got slower with each record it added.
"""

from __future__ import annotations

import uuid

from sqlalchemy import inspect, text

KEY = ["practice_id", "resource", "external_id"]


def test_no_index_but_the_key_begins_with_the_lookups_columns(db):
    inspector = inspect(db.engine)
    indexes = [
        (index["name"], index["column_names"]) for index in inspector.get_indexes("portal_records")
    ]
    uniques = [
        (u["name"], u["column_names"]) for u in inspector.get_unique_constraints("portal_records")
    ]
    assert ("uq_portal_records_practice_id_resource_external_id", KEY) in uniques + indexes
    competing = [name for name, columns in indexes if columns[:2] == KEY[:2] and columns != KEY]
    assert competing == []
    # The records naming a core row are still found through an index of their own.
    assert ("ix_portal_records_practice_id_record_id", ["practice_id", "record_id"]) in indexes


def test_postgresql_takes_the_key_for_the_lookup_on_a_table_it_never_analyzed(db):
    if db.dialect != "postgresql":
        return  # SQLite prefers a unique index that every column matches, without statistics
    with db.engine.begin() as connection:
        # A temporary copy with the same indexes: autovacuum never analyzes one.
        connection.execute(
            text("CREATE TEMP TABLE fresh_records (LIKE portal_records INCLUDING INDEXES)")
        )
        connection.execute(
            text(
                "INSERT INTO fresh_records (id, practice_id, resource, external_id, record_id,"
                " digest, body, created_at, updated_at)"
                " SELECT gen_random_uuid(), 1, 'Patients', 'P-' || n, gen_random_uuid(), 'd',"
                " '{}', now(), now() FROM generate_series(1, 3000) AS n"
            )
        )
        plan = "\n".join(
            connection.execute(
                text(
                    "EXPLAIN SELECT record_id FROM fresh_records WHERE practice_id = 1"
                    " AND resource = 'Patients' AND external_id = :external_id"
                ),
                {"external_id": f"P-{uuid.uuid4()}"},
            ).scalars()
        )
    # The copy's unique index is named after its columns, as the key's is.
    assert "practice_id_resource_external_id" in plan, plan
    assert "Filter" not in plan, plan  # every condition is the index's own
