"""portal records: the index that finds the record naming a core row leads with the row

Revision ID: 0015
Revises: 0014

``ix_portal_records_practice_id_resource_record_id`` began with the two columns the
external-id lookup (``uq_portal_records_practice_id_resource_external_id``) also begins
with. On a table PostgreSQL has not analyzed yet (a new practice, or the first minute of a
portal's first sync), the planner costs the two alike and may take the record-id index for
the external-id lookup, reading every record of the resource: each upsert got slower as
records were added, until autovacuum analyzed the table. ``(practice_id, record_id)``
matches the external-id lookup on one column only, so the unique index is always cheaper
for it, and still finds the records naming a core row (their resource checked in the row).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("portal_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_records_practice_id_resource_record_id"))
        batch_op.create_index(
            batch_op.f("ix_portal_records_practice_id_record_id"),
            ["practice_id", "record_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_records_practice_id_record_id"))
        batch_op.create_index(
            batch_op.f("ix_portal_records_practice_id_resource_record_id"),
            ["practice_id", "resource", "record_id"],
            unique=False,
        )
