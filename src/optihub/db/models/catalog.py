"""Frame catalog and stock per location; labs, their lens catalogs and practice accounts;
pricebooks and price tiers.

Labs and their lens catalogs are a shared directory (no ``practice_id``): in a
tenant-distributed deployment they are reference tables. What a practice has with a lab
(account number, order settings) is practice-keyed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from optihub.db.base import Base, Measure, Money, Timestamps, new_id, utcnow


class Frame(Timestamps, Base):
    """A frame the practice sells. ``updated_at`` also moves when its stock changes."""

    __tablename__ = "frames"
    __table_args__ = (
        UniqueConstraint("practice_id", "sku"),
        Index(None, "practice_id", "upc"),
        Index(None, "practice_id", "brand_key", "created_at"),
        Index(None, "practice_id", "created_at", "id"),
        Index(None, "practice_id", "updated_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(50))
    upc: Mapped[str | None] = mapped_column(String(14))
    brand: Mapped[str] = mapped_column(String(100))
    # Lower-cased brand: the partner API filters brand case-insensitively with an index.
    brand_key: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    color: Mapped[str | None] = mapped_column(String(100))
    material: Mapped[str | None] = mapped_column(String(50))
    eye_size: Mapped[int | None] = mapped_column(Integer)
    bridge: Mapped[int | None] = mapped_column(Integer)
    temple: Mapped[int | None] = mapped_column(Integer)
    a: Mapped[Decimal | None] = mapped_column(Measure)
    b: Mapped[Decimal | None] = mapped_column(Measure)
    ed: Mapped[Decimal | None] = mapped_column(Measure)
    price: Mapped[Decimal | None] = mapped_column(Money)
    wholesale_price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    stock: Mapped[list[FrameStock]] = relationship(
        back_populates="frame", lazy="raise", cascade="all, delete-orphan"
    )


class FrameStock(Base):
    """On-hand quantity of one frame at one location."""

    __tablename__ = "frame_stock"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        Index(None, "practice_id", "location_id"),
    )

    frame_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("frames.id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    frame: Mapped[Frame] = relationship(back_populates="stock", lazy="raise")


class Lab(Timestamps, Base):
    """An optical lab (directory entry shared by every practice)."""

    __tablename__ = "labs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(50), unique=True)


class LabAccount(Timestamps, Base):
    """A practice's account with a lab, with the order settings the lab offers on it."""

    __tablename__ = "lab_accounts"
    __table_args__ = (UniqueConstraint("practice_id", "lab_id", "account_number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    lab_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    account_number: Mapped[str] = mapped_column(String(50))
    frame_handling_options: Mapped[list[Any]] = mapped_column(default=list)
    frame_materials: Mapped[list[Any]] = mapped_column(default=list)
    mounting_options: Mapped[list[Any]] = mapped_column(default=list)
    order_types: Mapped[list[Any]] = mapped_column(default=lambda: ["rx"])
    redo_types: Mapped[list[Any]] = mapped_column(default=list)
    services: Mapped[list[Any]] = mapped_column(default=list)

    lab: Mapped[Lab] = relationship(lazy="raise")


lens_style_materials = Table(
    "lens_style_materials",
    Base.metadata,
    Column("style_id", ForeignKey("lens_styles.id", ondelete="CASCADE"), primary_key=True),
    Column("material_id", ForeignKey("lens_materials.id", ondelete="CASCADE"), primary_key=True),
)


class LensStyle(Base):
    """A lens design a lab offers (e.g. a progressive), for single vision or multifocal."""

    __tablename__ = "lens_styles"
    __table_args__ = (
        CheckConstraint("lens_type IN ('single_vision', 'multifocal')", name="lens_type_known"),
        Index(None, "lab_id", "lens_type", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    lab_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    lens_type: Mapped[str] = mapped_column(String(20))

    materials: Mapped[list[LensMaterial]] = relationship(
        secondary=lens_style_materials, lazy="raise", order_by="LensMaterial.name"
    )


class LensMaterial(Base):
    __tablename__ = "lens_materials"
    __table_args__ = (Index(None, "lab_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    lab_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    index: Mapped[Decimal | None] = mapped_column(Measure)


class LensAddon(Base):
    """A coat, colour or tint; ``style_id`` / ``material_id`` restrict where it is offered."""

    __tablename__ = "lens_addons"
    __table_args__ = (
        CheckConstraint("kind IN ('coat', 'color', 'tint')", name="kind_known"),
        CheckConstraint(
            "coat_type IS NULL OR coat_type IN ('ar', 'mirror', 'scratch', 'uv')",
            name="coat_type_known",
        ),
        Index(None, "lab_id", "kind", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    lab_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    coat_type: Mapped[str | None] = mapped_column(String(10))
    style_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lens_styles.id", ondelete="CASCADE")
    )
    material_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lens_materials.id", ondelete="CASCADE")
    )


PRICEBOOK_KINDS = (
    "lenses",
    "frames",
    "contactlenses",
    "proffees",
    "merchandise",
    "addons",
    "misc",
    "tierprices",
)


class PriceTier(Timestamps, Base):
    """A price-tier configuration (e.g. "Insurance A": 20 % off retail)."""

    __tablename__ = "price_tiers"
    __table_args__ = (UniqueConstraint("practice_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    discount_percent: Mapped[Decimal] = mapped_column(Measure, default=Decimal("0"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class PricebookItem(Timestamps, Base):
    """One priced item in a practice's pricebook of a given ``kind``."""

    __tablename__ = "pricebook_items"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('lenses', 'frames', 'contactlenses', 'proffees', 'merchandise', "
            "'addons', 'misc', 'tierprices')",
            name="kind_known",
        ),
        Index(None, "practice_id", "kind", "name"),
        UniqueConstraint("practice_id", "kind", "code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    retail_price: Mapped[Decimal] = mapped_column(Money)
    cost: Mapped[Decimal | None] = mapped_column(Money)
    frame_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("frames.id", ondelete="CASCADE"))
    price_tier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("price_tiers.id", ondelete="CASCADE")
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
