"""read path: a version per practice, raised with every change to what its orders show

Revision ID: 0005
Revises: 0004

Readers cache list pages and order documents under the version they read with them and
check this one row before serving a copy (``optihub.reads.orders``). Practices start at 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_versions",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_order_versions_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_id", name=op.f("pk_order_versions")),
    )
    op.execute("INSERT INTO order_versions (practice_id, version) SELECT id, 1 FROM practices")


def downgrade() -> None:
    op.drop_table("order_versions")
