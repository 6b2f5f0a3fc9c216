"""per-client rate limit: oauth_clients.rate_limit

Revision ID: 0006
Revises: 0005

NULL (every existing app) keeps each surface's default rate. Numbered after
0005_order_versions, which was written at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_limit", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("rate_limit")
