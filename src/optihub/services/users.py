"""Staff users, their practice memberships and password sign-in."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Membership, User
from optihub.errors import Conflict, FieldError, ValidationFailed
from optihub.security import hash_secret, verify_secret
from optihub.services.practices import get_practice

ROLES = ("owner", "staff")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    practice_id: int,
    role: str,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a sign-in user and make them ``role`` of the practice.

    The password is stored as an argon2id hash. Raises ``ValidationFailed`` (bad email,
    short password, unknown role), ``NotFound`` (practice) or ``Conflict`` (email taken).
    """
    email = normalize_email(email)
    errors = []
    if not EMAIL_RE.match(email):
        errors.append(FieldError("email", "Must be a valid email address."))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", f"Must be at least {MIN_PASSWORD_LENGTH} characters."))
    if role not in ROLES:
        errors.append(FieldError("role", f"Must be one of: {', '.join(ROLES)}."))
    if errors:
        raise ValidationFailed(errors)
    get_practice(session, practice_id)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with email {email} already exists")
    user = User(
        email=email,
        password_hash=hash_secret(password),
        first_name=first_name,
        last_name=last_name,
    )
    session.add(user)
    session.flush()
    session.add(Membership(practice_id=practice_id, user_id=user.id, role=role))
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None (same cost either way)."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    ok = verify_secret(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        return None
    user.last_login_at = utcnow()
    return user


def practice_ids_of(session: Session, user_id: uuid.UUID) -> list[int]:
    return list(
        session.scalars(
            select(Membership.practice_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.practice_id)
        )
    )
