"""the patient's view: order links, patient messages, practice mail servers, consents

Revision ID: 0014
Revises: 0013

``patient_links``: the signed, expiring, revocable addresses that show one order to its
patient (a digest of the token and its random part, never the token). ``patient_messages``:
the eyewear-ready e-mail, one per order, sent and retried by the delivery worker.
``practice_mail_servers``: a practice's SMTP server (password encrypted with the instance
key). ``patients.notify_eyewear_email`` / ``notify_eyewear_sms``: the patient's consent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

import optihub.db.base

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CONSENT_COLUMNS = ("notify_eyewear_email", "notify_eyewear_sms")
# SQLite drops a column by rebuilding the table from its reflection, which skips expression
# indexes: the name-search ones (0011) are dropped first and made again after (as in 0012).
NAME_INDEXES = (
    ("ix_patients_practice_id_lower_last_name", "last_name"),
    ("ix_patients_practice_id_lower_first_name", "first_name"),
)


@contextmanager
def _rebuilding_patients() -> Iterator[None]:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name, _column in NAME_INDEXES:
            op.drop_index(name, table_name="patients")
    yield
    if sqlite:
        for name, column in NAME_INDEXES:
            op.create_index(name, "patients", ["practice_id", sa.text(f"lower({column})")])


def upgrade() -> None:
    op.create_table(
        "practice_mail_servers",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("password_ciphertext", sa.Text(), nullable=True),
        sa.Column("from_address", sa.String(length=254), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "security IN ('starttls', 'tls', 'none')",
            name=op.f("ck_practice_mail_servers_security_known"),
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_practice_mail_servers_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_id", name=op.f("pk_practice_mail_servers")),
    )
    op.create_table(
        "patient_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", optihub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_user_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_patient_links_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_patient_links_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_patient_links_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_user_id"],
            ["users.id"],
            name=op.f("fk_patient_links_revoked_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_links")),
    )
    with op.batch_alter_table("patient_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_links_practice_id_order_id_created_at"),
            ["practice_id", "order_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_patient_links_token_hash"), ["token_hash"], unique=True
        )

    op.create_table(
        "patient_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.Column("link_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", optihub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_attempt_at", optihub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", optihub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'skipped')",
            name=op.f("ck_patient_messages_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_patient_messages_event_id_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["patient_links.id"],
            name=op.f("fk_patient_messages_link_id_patient_links"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_patient_messages_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_patient_messages_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_messages")),
    )
    with op.batch_alter_table("patient_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_messages_order_id_kind"), ["order_id", "kind"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_patient_messages_practice_id_created_at"),
            ["practice_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_patient_messages_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )

    # Plain ADD COLUMN on both databases (no table rebuild on SQLite).
    for column in CONSENT_COLUMNS:
        op.add_column(
            "patients", sa.Column(column, sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with _rebuilding_patients(), op.batch_alter_table("patients", schema=None) as batch_op:
        for column in reversed(CONSENT_COLUMNS):
            batch_op.drop_column(column)

    with op.batch_alter_table("patient_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_messages_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_patient_messages_practice_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_patient_messages_order_id_kind"))

    op.drop_table("patient_messages")
    with op.batch_alter_table("patient_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_links_token_hash"))
        batch_op.drop_index(batch_op.f("ix_patient_links_practice_id_order_id_created_at"))

    op.drop_table("patient_links")
    op.drop_table("practice_mail_servers")
