"""portal sync: external ids per resource, status-name mappings, prescription PDFs

Revision ID: 0009
Revises: 0008

The portal sync dialect names records by the integrating system's ``ExternalId``, one id
space per resource (a doctor and a user may both be "17"), so ``portal_records`` maps
(resource, external id) to the core row and keeps the record as last sent. A practice's
own order-status names map to canonical states in ``portal_status_mappings``; a
prescription's PDF is kept byte for byte in ``prescription_files``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import optihub.db.base

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_portal_records_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_records")),
        sa.UniqueConstraint(
            "practice_id",
            "resource",
            "external_id",
            name=op.f("uq_portal_records_practice_id_resource_external_id"),
        ),
    )
    with op.batch_alter_table("portal_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_records_practice_id_resource_record_id"),
            ["practice_id", "resource", "record_id"],
            unique=False,
        )

    op.create_table(
        "portal_status_mappings",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'received', 'in_progress', 'completed', 'shipped', 'delivered', 'cancelled')",
            name=op.f("ck_portal_status_mappings_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_portal_status_mappings_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_id", "name", name=op.f("pk_portal_status_mappings")),
    )
    op.create_table(
        "prescription_files",
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_prescription_files_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_prescription_files_prescription_id_prescriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prescription_id", name=op.f("pk_prescription_files")),
    )


def downgrade() -> None:
    op.drop_table("prescription_files")
    op.drop_table("portal_status_mappings")
    with op.batch_alter_table("portal_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_records_practice_id_resource_record_id"))

    op.drop_table("portal_records")
