"""read path: stored order documents and per-status counts; webhook subscriptions per surface

Revision ID: 0004
Revises: 0003

Existing orders get their counts here; their documents are rendered by ``optihub serve``
at start (or ``optihub documents rebuild``), and until then reads render them on the fly.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_counts",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_order_counts_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_id", "status", name=op.f("pk_order_counts")),
    )
    op.execute(
        "INSERT INTO order_counts (practice_id, status, count) "
        "SELECT practice_id, status, COUNT(*) FROM orders GROUP BY practice_id, status"
    )
    op.create_table(
        "order_documents",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("projection", sa.String(length=30), nullable=False),
        sa.Column("summary", sa.LargeBinary(), nullable=False),
        sa.Column("detail_extra", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_documents_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_order_documents_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "practice_id", "order_id", "projection", name=op.f("pk_order_documents")
        ),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_location_id"),
            ["practice_id", "location_id"],
            unique=False,
        )
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("surface", sa.String(length=30), nullable=False, server_default="partner")
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("surface")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_location_id"))
    op.drop_table("order_documents")
    op.drop_table("order_counts")
