"""core schema: practices, people, patients, prescriptions, catalog, labs, pricebooks, orders, invoices, audit, idempotency

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import optihub.db.base

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "labs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labs")),
        sa.UniqueConstraint("code", name=op.f("uq_labs_code")),
    )
    op.create_table(
        "practices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("fulfillment_login_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practices")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", optihub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=True),
        sa.Column("at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_client_id", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target_type", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=30), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_audit_log_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_audit_log_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_log_practice_id_at"), ["practice_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_log_practice_id_target_type_target_id"),
            ["practice_id", "target_type", "target_id"],
            unique=False,
        )

    op.create_table(
        "employees",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("is_doctor", sa.Boolean(), nullable=False),
        sa.Column("in_house", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_employees_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_employees_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employees")),
        sa.UniqueConstraint(
            "practice_id", "external_id", name=op.f("uq_employees_practice_id_external_id")
        ),
    )
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_employees_practice_id_last_name_first_name"),
            ["practice_id", "last_name", "first_name"],
            unique=False,
        )

    op.create_table(
        "frames",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=50), nullable=False),
        sa.Column("upc", sa.String(length=14), nullable=True),
        sa.Column("brand", sa.String(length=100), nullable=False),
        sa.Column("brand_key", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("color", sa.String(length=100), nullable=True),
        sa.Column("material", sa.String(length=50), nullable=True),
        sa.Column("eye_size", sa.Integer(), nullable=True),
        sa.Column("bridge", sa.Integer(), nullable=True),
        sa.Column("temple", sa.Integer(), nullable=True),
        sa.Column("a", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("b", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("ed", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("wholesale_price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_frames_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frames")),
        sa.UniqueConstraint("practice_id", "sku", name=op.f("uq_frames_practice_id_sku")),
    )
    with op.batch_alter_table("frames", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_frames_practice_id_brand_key_created_at"),
            ["practice_id", "brand_key", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_frames_practice_id_created_at_id"),
            ["practice_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_frames_practice_id_upc"), ["practice_id", "upc"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_frames_practice_id_updated_at_id"),
            ["practice_id", "updated_at", "id"],
            unique=False,
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_idempotency_keys_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint(
            "practice_id",
            "client_id",
            "key",
            name=op.f("uq_idempotency_keys_practice_id_client_id_key"),
        ),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "lab_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Uuid(), nullable=False),
        sa.Column("account_number", sa.String(length=50), nullable=False),
        sa.Column(
            "frame_handling_options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "frame_materials",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "mounting_options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "order_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "redo_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "services",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_lab_accounts_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_lab_accounts_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_accounts")),
        sa.UniqueConstraint(
            "practice_id",
            "lab_id",
            "account_number",
            name=op.f("uq_lab_accounts_practice_id_lab_id_account_number"),
        ),
    )
    op.create_table(
        "lens_materials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lab_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("index", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_lens_materials_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lens_materials")),
    )
    with op.batch_alter_table("lens_materials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lens_materials_lab_id_name"), ["lab_id", "name"], unique=False
        )

    op.create_table(
        "lens_styles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lab_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lens_type", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "lens_type IN ('single_vision', 'multifocal')",
            name=op.f("ck_lens_styles_lens_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_lens_styles_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lens_styles")),
    )
    with op.batch_alter_table("lens_styles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lens_styles_lab_id_lens_type_name"),
            ["lab_id", "lens_type", "name"],
            unique=False,
        )

    op.create_table(
        "locations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address_line1", sa.String(length=200), nullable=True),
        sa.Column("address_line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=50), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_locations_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint(
            "practice_id", "external_id", name=op.f("uq_locations_practice_id_external_id")
        ),
    )
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_locations_practice_id_name"), ["practice_id", "name"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'staff')", name=op.f("ck_memberships_role_known")),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_memberships_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("practice_id", "user_id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "price_tiers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("discount_percent", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_price_tiers_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_tiers")),
        sa.UniqueConstraint("practice_id", "name", name=op.f("uq_price_tiers_practice_id_name")),
    )
    op.create_table(
        "employee_locations",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_employee_locations_employee_id_employees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_employee_locations_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_employee_locations_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("employee_id", "location_id", name=op.f("pk_employee_locations")),
    )
    with op.batch_alter_table("employee_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_employee_locations_practice_id_location_id"),
            ["practice_id", "location_id"],
            unique=False,
        )

    op.create_table(
        "frame_stock",
        sa.Column("frame_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_frame_stock_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["frame_id"],
            ["frames.id"],
            name=op.f("fk_frame_stock_frame_id_frames"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_frame_stock_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_frame_stock_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("frame_id", "location_id", name=op.f("pk_frame_stock")),
    )
    with op.batch_alter_table("frame_stock", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_frame_stock_practice_id_location_id"),
            ["practice_id", "location_id"],
            unique=False,
        )

    op.create_table(
        "lens_addons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lab_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("coat_type", sa.String(length=10), nullable=True),
        sa.Column("style_id", sa.Uuid(), nullable=True),
        sa.Column("material_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "coat_type IS NULL OR coat_type IN ('ar', 'mirror', 'scratch', 'uv')",
            name=op.f("ck_lens_addons_coat_type_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('coat', 'color', 'tint')", name=op.f("ck_lens_addons_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_lens_addons_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["material_id"],
            ["lens_materials.id"],
            name=op.f("fk_lens_addons_material_id_lens_materials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["style_id"],
            ["lens_styles.id"],
            name=op.f("fk_lens_addons_style_id_lens_styles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lens_addons")),
    )
    with op.batch_alter_table("lens_addons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lens_addons_lab_id_kind_name"), ["lab_id", "kind", "name"], unique=False
        )

    op.create_table(
        "lens_style_materials",
        sa.Column("style_id", sa.Uuid(), nullable=False),
        sa.Column("material_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["material_id"],
            ["lens_materials.id"],
            name=op.f("fk_lens_style_materials_material_id_lens_materials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["style_id"],
            ["lens_styles.id"],
            name=op.f("fk_lens_style_materials_style_id_lens_styles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("style_id", "material_id", name=op.f("pk_lens_style_materials")),
    )
    op.create_table(
        "location_hours",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
        sa.CheckConstraint(
            "opens_at < closes_at", name=op.f("ck_location_hours_opens_before_closes")
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_location_hours_weekday_range")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_location_hours_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_location_hours_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_hours")),
    )
    with op.batch_alter_table("location_hours", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_location_hours_practice_id_location_id_weekday"),
            ["practice_id", "location_id", "weekday"],
            unique=False,
        )

    op.create_table(
        "patients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("home_location_id", sa.Uuid(), nullable=True),
        sa.Column("first_name", sa.String(length=50), nullable=False),
        sa.Column("last_name", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=10), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("address_line1", sa.String(length=200), nullable=True),
        sa.Column("address_line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=50), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["home_location_id"],
            ["locations.id"],
            name=op.f("fk_patients_home_location_id_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_patients_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint(
            "practice_id", "external_id", name=op.f("uq_patients_practice_id_external_id")
        ),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patients_practice_id_created_at"),
            ["practice_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_patients_practice_id_date_of_birth"),
            ["practice_id", "date_of_birth"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_patients_practice_id_email"), ["practice_id", "email"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_patients_practice_id_last_name_first_name"),
            ["practice_id", "last_name", "first_name"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_patients_practice_id_phone"), ["practice_id", "phone"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_patients_practice_id_updated_at_id"),
            ["practice_id", "updated_at", "id"],
            unique=False,
        )

    op.create_table(
        "pricebook_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("retail_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("frame_id", sa.Uuid(), nullable=True),
        sa.Column("price_tier_id", sa.Uuid(), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('lenses', 'frames', 'contactlenses', 'proffees', 'merchandise', 'addons', 'misc', 'tierprices')",
            name=op.f("ck_pricebook_items_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["frame_id"],
            ["frames.id"],
            name=op.f("fk_pricebook_items_frame_id_frames"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_pricebook_items_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["price_tier_id"],
            ["price_tiers.id"],
            name=op.f("fk_pricebook_items_price_tier_id_price_tiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pricebook_items")),
        sa.UniqueConstraint(
            "practice_id", "kind", "code", name=op.f("uq_pricebook_items_practice_id_kind_code")
        ),
    )
    with op.batch_alter_table("pricebook_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pricebook_items_practice_id_kind_name"),
            ["practice_id", "kind", "name"],
            unique=False,
        )

    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("employee_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_appointments_employee_id_employees"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_appointments_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_appointments_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_appointments_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint(
            "practice_id", "external_id", name=op.f("uq_appointments_practice_id_external_id")
        ),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointments_practice_id_location_id_starts_at"),
            ["practice_id", "location_id", "starts_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_appointments_practice_id_patient_id_starts_at"),
            ["practice_id", "patient_id", "starts_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_appointments_practice_id_starts_at"),
            ["practice_id", "starts_at"],
            unique=False,
        )

    op.create_table(
        "patient_relationships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("related_patient_id", sa.Uuid(), nullable=False),
        sa.Column("relationship", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_relationships_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_patient_relationships_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["related_patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_relationships_related_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_relationships")),
        sa.UniqueConstraint(
            "practice_id",
            "patient_id",
            "related_patient_id",
            "relationship",
            name="uq_patient_relationships_pair",
        ),
    )
    op.create_table(
        "prescriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("prescriber_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("prescriber_name", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('spectacle', 'contact_lens')", name=op.f("ck_prescriptions_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_prescriptions_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_prescriptions_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prescriber_id"],
            ["employees.id"],
            name=op.f("fk_prescriptions_prescriber_id_employees"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prescriptions")),
    )
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prescriptions_practice_id_patient_id_issued_on"),
            ["practice_id", "patient_id", "issued_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_prescriptions_practice_id_updated_at_id"),
            ["practice_id", "updated_at", "id"],
            unique=False,
        )

    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("physician_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_via", sa.String(length=30), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sub_status", sa.String(length=30), nullable=True),
        sa.Column("frame_id", sa.Uuid(), nullable=True),
        sa.Column(
            "frame_details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("frame_tracing", sa.Text(), nullable=True),
        sa.Column("prescription_id", sa.Uuid(), nullable=True),
        sa.Column(
            "rx_snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "lens",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("tax_total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("amount_paid", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("patient_balance", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "shipping_address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("pickup_date", sa.Date(), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("carrier", sa.String(length=50), nullable=True),
        sa.Column("lab_id", sa.Uuid(), nullable=True),
        sa.Column("lab_account_number", sa.String(length=50), nullable=True),
        sa.Column("lab_order_type", sa.String(length=50), nullable=True),
        sa.Column("submission_type", sa.String(length=20), nullable=True),
        sa.Column("mounting_option", sa.String(length=100), nullable=True),
        sa.Column("redo_type", sa.String(length=100), nullable=True),
        sa.Column("redo_reason", sa.String(length=250), nullable=True),
        sa.Column("redo_reference", sa.String(length=100), nullable=True),
        sa.Column("multi_pair_reference", sa.String(length=100), nullable=True),
        sa.Column(
            "lab_services",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("special_instructions", sa.Text(), nullable=True),
        sa.Column("submitted_at", optihub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("tray_number", sa.String(length=50), nullable=True),
        sa.Column("invoice_number", sa.String(length=50), nullable=True),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("cancellation_requested", sa.Boolean(), nullable=False),
        sa.Column("original_order_id", sa.Uuid(), nullable=True),
        sa.Column("replacement_reason", sa.String(length=250), nullable=True),
        sa.Column("replacement_request_status", sa.String(length=20), nullable=True),
        sa.Column(
            "replacement_requested_at", optihub.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("replacement_request_reason", sa.String(length=250), nullable=True),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'received', 'in_progress', 'completed', 'shipped', 'delivered', 'cancelled')",
            name=op.f("ck_orders_status_known"),
        ),
        sa.CheckConstraint(
            "type IN ('frames', 'spectacles', 'contacts', 'other')",
            name=op.f("ck_orders_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_orders_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["frame_id"], ["frames.id"], name=op.f("fk_orders_frame_id_frames"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_orders_lab_id_labs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_orders_location_id_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["original_order_id"],
            ["orders.id"],
            name=op.f("fk_orders_original_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_orders_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["employees.id"],
            name=op.f("fk_orders_physician_id_employees"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_orders_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_orders_prescription_id_prescriptions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_user_id"],
            ["users.id"],
            name=op.f("fk_orders_submitted_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_orders_number")),
        sa.UniqueConstraint(
            "practice_id", "external_id", name=op.f("uq_orders_practice_id_external_id")
        ),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_created_at_id"),
            ["practice_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_lab_id_created_at"),
            ["practice_id", "lab_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_original_order_id"),
            ["practice_id", "original_order_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_patient_id_created_at"),
            ["practice_id", "patient_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_status_created_at"),
            ["practice_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_practice_id_updated_at_id"),
            ["practice_id", "updated_at", "id"],
            unique=False,
        )

    op.create_table(
        "prescription_eyes",
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("sphere", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("cylinder", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("axis", sa.Integer(), nullable=True),
        sa.Column("add", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("prism_horizontal", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("prism_horizontal_base", sa.String(length=4), nullable=True),
        sa.Column("prism_vertical", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("prism_vertical_base", sa.String(length=4), nullable=True),
        sa.Column("distance_pd", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("near_pd", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("seg_height", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("oc_height", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("base_curve", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("diameter", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("brand", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "prism_horizontal_base IS NULL OR prism_horizontal_base IN ('in', 'out')",
            name=op.f("ck_prescription_eyes_prism_h_base"),
        ),
        sa.CheckConstraint(
            "prism_vertical_base IS NULL OR prism_vertical_base IN ('up', 'down')",
            name=op.f("ck_prescription_eyes_prism_v_base"),
        ),
        sa.CheckConstraint(
            "side IN ('right', 'left')", name=op.f("ck_prescription_eyes_side_known")
        ),
        sa.CheckConstraint(
            "axis IS NULL OR axis BETWEEN 1 AND 180", name=op.f("ck_prescription_eyes_axis_range")
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_prescription_eyes_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_prescription_eyes_prescription_id_prescriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prescription_id", "side", name=op.f("pk_prescription_eyes")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("tax_total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("amount_paid", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_invoices_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_invoices_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_invoices_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("practice_id", "number", name=op.f("uq_invoices_practice_id_number")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoices_practice_id_created_at"),
            ["practice_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_invoices_practice_id_order_id"),
            ["practice_id", "order_id"],
            unique=False,
        )

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sku", sa.String(length=50), nullable=True),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("retail_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("tax", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_order_lines_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_lines_order_id_position"),
            ["order_id", "position"],
            unique=False,
        )

    op.create_table(
        "order_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("sub_status", sa.String(length=30), nullable=True),
        sa.Column("at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_client_id", sa.String(length=100), nullable=True),
        sa.Column("actor_label", sa.String(length=254), nullable=False),
        sa.Column("via", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_order_status_changes_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_status_changes_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_order_status_changes_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_status_changes")),
    )
    with op.batch_alter_table("order_status_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_status_changes_order_id_at"),
            ["order_id", "at"],
            unique=False,
        )

    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("tax", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_invoice_lines_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_lines_practice_id_invoice_id"),
            ["practice_id", "invoice_id"],
            unique=False,
        )

    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("payer", sa.String(length=20), nullable=False),
        sa.Column("paid_at", optihub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_payments_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_payments_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payments_practice_id_invoice_id"),
            ["practice_id", "invoice_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_practice_id_invoice_id"))

    op.drop_table("payments")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_lines_practice_id_invoice_id"))

    op.drop_table("invoice_lines")
    with op.batch_alter_table("order_status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_status_changes_order_id_at"))

    op.drop_table("order_status_changes")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_lines_order_id_position"))

    op.drop_table("order_lines")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_practice_id_order_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_practice_id_created_at"))

    op.drop_table("invoices")
    op.drop_table("prescription_eyes")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_updated_at_id"))
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_status_created_at"))
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_patient_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_original_order_id"))
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_lab_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_orders_practice_id_created_at_id"))

    op.drop_table("orders")
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prescriptions_practice_id_updated_at_id"))
        batch_op.drop_index(batch_op.f("ix_prescriptions_practice_id_patient_id_issued_on"))

    op.drop_table("prescriptions")
    op.drop_table("patient_relationships")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_practice_id_starts_at"))
        batch_op.drop_index(batch_op.f("ix_appointments_practice_id_patient_id_starts_at"))
        batch_op.drop_index(batch_op.f("ix_appointments_practice_id_location_id_starts_at"))

    op.drop_table("appointments")
    with op.batch_alter_table("pricebook_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pricebook_items_practice_id_kind_name"))

    op.drop_table("pricebook_items")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_practice_id_updated_at_id"))
        batch_op.drop_index(batch_op.f("ix_patients_practice_id_phone"))
        batch_op.drop_index(batch_op.f("ix_patients_practice_id_last_name_first_name"))
        batch_op.drop_index(batch_op.f("ix_patients_practice_id_email"))
        batch_op.drop_index(batch_op.f("ix_patients_practice_id_date_of_birth"))
        batch_op.drop_index(batch_op.f("ix_patients_practice_id_created_at"))

    op.drop_table("patients")
    with op.batch_alter_table("location_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_location_hours_practice_id_location_id_weekday"))

    op.drop_table("location_hours")
    op.drop_table("lens_style_materials")
    with op.batch_alter_table("lens_addons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lens_addons_lab_id_kind_name"))

    op.drop_table("lens_addons")
    with op.batch_alter_table("frame_stock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_frame_stock_practice_id_location_id"))

    op.drop_table("frame_stock")
    with op.batch_alter_table("employee_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employee_locations_practice_id_location_id"))

    op.drop_table("employee_locations")
    op.drop_table("price_tiers")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_user_id"))

    op.drop_table("memberships")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_locations_practice_id_name"))

    op.drop_table("locations")
    with op.batch_alter_table("lens_styles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lens_styles_lab_id_lens_type_name"))

    op.drop_table("lens_styles")
    with op.batch_alter_table("lens_materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lens_materials_lab_id_name"))

    op.drop_table("lens_materials")
    op.drop_table("lab_accounts")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("frames", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_frames_practice_id_updated_at_id"))
        batch_op.drop_index(batch_op.f("ix_frames_practice_id_upc"))
        batch_op.drop_index(batch_op.f("ix_frames_practice_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_frames_practice_id_brand_key_created_at"))

    op.drop_table("frames")
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employees_practice_id_last_name_first_name"))

    op.drop_table("employees")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_practice_id_target_type_target_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_practice_id_at"))

    op.drop_table("audit_log")
    op.drop_table("users")
    op.drop_table("practices")
    op.drop_table("labs")
