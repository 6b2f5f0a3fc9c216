"""practice dashboard: when an order entered its status, overdue thresholds, manager role,
search indexes

Revision ID: 0011
Revises: 0010

The board shows how long each order has been in its status and marks it overdue past the
practice's threshold: ``orders.status_changed_at`` (filled from the status history for
existing orders) and ``practices.overdue_days``. A third staff role, ``manager``, sits
between owner and staff. The board's search finds orders by tray and invoice number and
patients by a prefix of their name in any case.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import optihub.db.base

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status_changed_at", optihub.db.base.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.execute(
        "UPDATE orders SET status_changed_at = COALESCE("
        "(SELECT MAX(h.at) FROM order_status_changes h"
        " WHERE h.order_id = orders.id AND h.to_status = orders.status"
        " AND (h.from_status IS NULL OR h.from_status <> h.to_status)),"
        " created_at)"
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "status_changed_at",
            existing_type=optihub.db.base.UTCDateTime(timezone=True),
            nullable=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_status_status_changed_at_id"),
            ["practice_id", "status", "status_changed_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_tray_number"),
            ["practice_id", "tray_number"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_invoice_number"),
            ["practice_id", "invoice_number"],
            unique=False,
        )

    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_days", optihub.db.base.JSONDocument, nullable=True))

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_constraint("role_known", type_="check")
        batch_op.create_check_constraint("role_known", "role IN ('owner', 'manager', 'staff')")

    op.create_index(
        "ix_patients_practice_id_lower_last_name",
        "patients",
        ["practice_id", sa.text("lower(last_name)")],
    )
    op.create_index(
        "ix_patients_practice_id_lower_first_name",
        "patients",
        ["practice_id", sa.text("lower(first_name)")],
    )


def downgrade() -> None:
    op.drop_index("ix_patients_practice_id_lower_first_name", table_name="patients")
    op.drop_index("ix_patients_practice_id_lower_last_name", table_name="patients")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_constraint("role_known", type_="check")
        batch_op.create_check_constraint("role_known", "role IN ('owner', 'staff')")
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.drop_column("overdue_days")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_invoice_number"))
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_tray_number"))
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_status_status_changed_at_id"))
        batch_op.drop_column("status_changed_at")
