"""What the portal sync dialect needs beside the core rows: which core row an integrating
system's ``ExternalId`` names (per resource, since its id spaces are separate), the record
as last sent (for its vendor-only fields and to know a repeated body changes nothing),
the practice's status-name mapping, and prescription PDFs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from optihub.db.base import Base, JSONDocument, Timestamps, new_id, utcnow
from optihub.domain.orders import OrderStatus

_STATUSES = ", ".join(f"'{status.value}'" for status in OrderStatus)


class PortalRecord(Timestamps, Base):
    """One record an integrating system keeps in sync: ``(resource, external_id)`` names
    ``record_id``, the core row (a location, employee, patient, order, prescription,
    appointment...) or, for lists of the portal's own (order statuses, appointment types),
    the record itself. ``body`` is the record as last sent; ``digest`` its fingerprint."""

    __tablename__ = "portal_records"
    __table_args__ = (
        UniqueConstraint("practice_id", "resource", "external_id"),
        # Not (practice_id, resource, record_id): see migration 0015.
        Index(None, "practice_id", "record_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[uuid.UUID] = mapped_column()
    digest: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class PortalStatusMapping(Base):
    """A practice's own order-status name (lower-cased) and the canonical state it means;
    names without a row map by name (``services.status_names.DEFAULT_STATUS_NAMES``)."""

    __tablename__ = "portal_status_mappings"
    __table_args__ = (CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),)

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))


class PrescriptionFile(Base):
    """The signed prescription a practice attached (a PDF), kept byte for byte."""

    __tablename__ = "prescription_files"

    prescription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("prescriptions.id", ondelete="CASCADE"), primary_key=True
    )
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
