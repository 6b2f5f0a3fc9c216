"""fulfillment: custom shipping, service level and cancellation comments on orders; the
prescription each order line needs and the one linked to it

Revision ID: 0007
Revises: 0006

Existing lines need no prescription (``prescription_required`` false) and have none linked.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "custom_shipping",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("shipping_service_level", sa.String(length=50), nullable=True)
        )
        batch_op.add_column(sa.Column("cancellation_comments", sa.Text(), nullable=True))
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "prescription_required", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.add_column(sa.Column("prescription_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_order_lines_prescription_id_prescriptions"),
            "prescriptions",
            ["prescription_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_order_lines_prescription_id_prescriptions"), type_="foreignkey"
        )
        batch_op.drop_column("prescription_id")
        batch_op.drop_column("prescription_required")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("cancellation_comments")
        batch_op.drop_column("shipping_service_level")
        batch_op.drop_column("custom_shipping")
