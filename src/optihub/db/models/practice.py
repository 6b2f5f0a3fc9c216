"""Practices (tenants), their locations and opening hours, users, memberships, employees."""

from __future__ import annotations

import uuid
from datetime import datetime, time
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
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from optihub.db.base import Base, JSONDocument, Timestamps, new_id, utcnow


class Practice(Timestamps, Base):
    """A tenant. Its integer id is the practice API's ``client_id``."""

    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    fulfillment_login_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Days an order may stay in a status before the board marks it overdue, by status
    # (``domain.board.DEFAULT_OVERDUE_DAYS`` for a status not set here).
    overdue_days: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)

    locations: Mapped[list[Location]] = relationship(
        back_populates="practice", lazy="raise", order_by="Location.name"
    )


class Location(Timestamps, Base):
    """A store / office of a practice, where frames are stocked and patients are seen."""

    __tablename__ = "locations"
    __table_args__ = (
        Index(None, "practice_id", "name"),
        UniqueConstraint("practice_id", "external_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2), default="US")

    practice: Mapped[Practice] = relationship(back_populates="locations", lazy="raise")
    hours: Mapped[list[LocationHours]] = relationship(
        back_populates="location",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="(LocationHours.weekday, LocationHours.opens_at)",
    )


class LocationHours(Base):
    """One opening interval on one weekday (0 = Monday). Several per day allow lunch breaks."""

    __tablename__ = "location_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("opens_at < closes_at", name="opens_before_closes"),
        Index(None, "practice_id", "location_id", "weekday"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)

    location: Mapped[Location] = relationship(back_populates="hours", lazy="raise")


class User(Timestamps, Base):
    """A person who signs in (dashboard, consent pages). The OIDC subject is ``id``."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Stored lower-cased: sign-in and the lab API's User-Email match case-insensitively.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column()

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", lazy="raise")


class Membership(Base):
    """A user's role in one practice: ``owner``, ``manager`` or ``staff`` (docs/dashboard.md
    says what each may see and do)."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'manager', 'staff')", name="role_known"),
        Index(None, "user_id"),
    )

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships", lazy="raise")
    practice: Mapped[Practice] = relationship(lazy="raise")


employee_locations = Table(
    "employee_locations",
    Base.metadata,
    Column("practice_id", ForeignKey("practices.id", ondelete="CASCADE"), nullable=False),
    Column("employee_id", ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "practice_id", "location_id"),
)


class Employee(Timestamps, Base):
    """Staff member or provider (doctor) of a practice; may or may not sign in."""

    __tablename__ = "employees"
    __table_args__ = (
        Index(None, "practice_id", "last_name", "first_name"),
        UniqueConstraint("practice_id", "external_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    npi: Mapped[str | None] = mapped_column(String(10))
    is_doctor: Mapped[bool] = mapped_column(Boolean, default=False)
    in_house: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    locations: Mapped[list[Location]] = relationship(secondary=employee_locations, lazy="raise")
