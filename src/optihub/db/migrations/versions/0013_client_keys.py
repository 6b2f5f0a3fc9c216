"""client keys: apps that authenticate with signed assertions (private_key_jwt)

Revision ID: 0013
Revises: 0012

SMART Backend Services (RFC 7523 client authentication): an app may prove who it is with a
JWT signed by one of its own keys instead of a secret. ``oauth_clients`` gains how the app
authenticates (``token_endpoint_auth_method``: existing apps are ``client_secret_basic``,
public ones ``none``), its public key set (``jwks``, JSON text) or the address it publishes
one at (``jwks_uri``). ``oauth_client_assertions`` keeps each accepted assertion's ``jti``
until the assertion expires, so a replay is refused whichever process it reaches.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import optihub.db.base

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

oauth_clients = sa.table(
    "oauth_clients",
    sa.column("is_public", sa.Boolean()),
    sa.column("token_endpoint_auth_method", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "token_endpoint_auth_method",
                sa.String(length=30),
                server_default="client_secret_basic",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("jwks", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("jwks_uri", sa.String(length=2000), nullable=True))
    op.execute(
        oauth_clients.update()
        .where(oauth_clients.c.is_public == sa.true())
        .values(token_endpoint_auth_method="none")  # noqa: S106 (a method name, no secret)
    )

    op.create_table(
        "oauth_client_assertions",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_oauth_client_assertions")),
    )
    with op.batch_alter_table("oauth_client_assertions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_client_assertions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_client_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_client_assertions_expires_at"))
    op.drop_table("oauth_client_assertions")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("jwks_uri")
        batch_op.drop_column("jwks")
        batch_op.drop_column("token_endpoint_auth_method")
