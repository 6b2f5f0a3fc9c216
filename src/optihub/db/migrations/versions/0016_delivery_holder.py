"""webhook deliveries: which worker holds a claim (``locked_by``)

Revision ID: 0016
Revises: 0015

A delivery's claim had its end (``locked_until``) but not its holder. With several nodes
sharing one database, an operator looking at a pending delivery could not tell which node
had it in hand, and the reliability run had to guess node A's claims from their lease ends
(and now and then took node B's own for them). The worker now writes its host and process
beside the lease, and clears both with it. Nullable: rows claimed before the upgrade have
none, and their leases run out as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("locked_by")
