"""Who may act for a practice: its signed-in users (owners and staff)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from optihub.db.models import Membership, Practice, User
from optihub.db.prepared import Prepared
from optihub.reads.order_views import Reader


@dataclass(frozen=True)
class StaffView:
    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: str

    @property
    def label(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} <{self.email}>" if name else self.email


# The acting user of a dialect call: built once (every lab call names one), sent past
# SQLAlchemy's execution layer (``db.prepared``) on a session or a reading connection.
_MEMBER = Prepared(
    select(User.id, User.email, User.first_name, User.last_name, Membership.role)
    .join(Membership, Membership.user_id == User.id)
    .where(
        Membership.practice_id == bindparam("practice_id"),
        User.email == bindparam("email"),
        User.is_active.is_(True),
    )
    .limit(1)
)


def member(reader: Reader, practice_id: int, email: str) -> StaffView | None:
    """The active user with this email (case-insensitive) who belongs to the practice."""
    params = {"practice_id": practice_id, "email": email.strip().lower()}
    row = _MEMBER.first(reader, params)
    return StaffView(*row) if row is not None else None


@dataclass(frozen=True)
class MembershipView:
    practice_id: int
    practice_name: str
    role: str
    timezone: str = "UTC"


def memberships(reader: Reader, user_id: uuid.UUID) -> list[MembershipView]:
    """The practices an active user belongs to (with their role and time zone), by name."""
    rows = reader.execute(
        select(Membership.practice_id, Practice.name, Membership.role, Practice.timezone)
        .join(Practice, Practice.id == Membership.practice_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.user_id == user_id, User.is_active.is_(True))
        .order_by(Practice.name, Practice.id)
    )
    return [MembershipView(*row) for row in rows]
