"""staff sessions: sign-in sessions on the server, secrets waiting to be shown once

Revision ID: 0010
Revises: 0009

The pages' cookie used to be the whole session (user id, and a new app's client secret
until it was shown): a copy kept after sign-out still worked, and the secret travelled in
the cookie. Now the cookie names a ``staff_sessions`` row (sign-out deletes it) and a new
secret waits, encrypted, in ``secret_reveals``. Cookies signed before this revision name no
row: their holders sign in again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import optihub.db.base

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_staff_sessions")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "secret_reveals",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("expires_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id_hash"],
            ["staff_sessions.id_hash"],
            name=op.f("fk_secret_reveals_session_id_hash_staff_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_secret_reveals")),
    )
    with op.batch_alter_table("secret_reveals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_secret_reveals_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_secret_reveals_session_id_hash"), ["session_id_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("secret_reveals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_secret_reveals_session_id_hash"))
        batch_op.drop_index(batch_op.f("ix_secret_reveals_expires_at"))

    op.drop_table("secret_reveals")
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_staff_sessions_expires_at"))

    op.drop_table("staff_sessions")
