"""per-surface event codes: webhook_deliveries.event_code

Revision ID: 0008
Revises: 0007

A surface's subscribers choose among the surface's own event codes, and one event may
produce several (a fulfillment ``order.status_changed`` to shipped is also
``order.shipped``): a delivery is one event under one code, so the code joins the unique
key (subscription, event, code). Existing deliveries get their event's type, which is the
code they were sent under. (``order.stuck`` needs no schema: its event id is derived from
the order, so the events' primary key keeps it to one per order.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_code", sa.String(length=60), nullable=True))
    op.execute(
        "UPDATE webhook_deliveries SET event_code = "
        "(SELECT events.type FROM events WHERE events.id = webhook_deliveries.event_id)"
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("event_code", existing_type=sa.String(length=60), nullable=False)
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_subscription_id_event_id"))
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_subscription_id_event_id_event_code"),
            ["subscription_id", "event_id", "event_code"],
            unique=True,
        )


def downgrade() -> None:
    # Deliveries under a second code of one event cannot keep the narrower key.
    op.execute(
        "DELETE FROM webhook_deliveries WHERE event_code <> "
        "(SELECT events.type FROM events WHERE events.id = webhook_deliveries.event_id)"
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_subscription_id_event_id_event_code"))
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_subscription_id_event_id"),
            ["subscription_id", "event_id"],
            unique=True,
        )
        batch_op.drop_column("event_code")
