"""Staff users, their practice memberships and password sign-in."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Membership, User
from optihub.db.session import Database
from optihub.errors import Conflict, FieldError, ValidationFailed
from optihub.security import hash_secret, verify_secret, verify_secret_aside
from optihub.services.practices import get_practice

ROLES = ("owner", "manager", "staff")
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


@dataclass(frozen=True)
class CheckedPassword:
    """A user whose password matched, and the hash it matched (to see it unchanged later)."""

    user_id: uuid.UUID
    password_hash: str


def check_password(db: Database, email: str, password: str) -> CheckedPassword | None:
    """The active user with this email and password, else None (same cost either way: an
    unknown email is verified against a dummy hash).

    Holds no database connection while the password is hashed: the user is read on a
    read-only session that is closed first, so a caller can verify before it opens its
    write transaction; the hash runs on the low-priority hashing threads
    (``security.verify_secret_aside``). Writes nothing (see ``record_sign_in``).
    """
    with db.read_sessions() as session:
        found = session.execute(
            select(User.id, User.password_hash, User.is_active).where(
                User.email == normalize_email(email)
            )
        ).first()
    ok = verify_secret_aside(found.password_hash if found else None, password)
    if found is None or not ok or not found.is_active:
        return None
    return CheckedPassword(found.id, found.password_hash)


def record_sign_in(session: Session, checked: CheckedPassword) -> User | None:
    """The user a ``check_password`` matched, with the sign-in recorded (``last_login_at``);
    None if the user was deactivated or changed password since."""
    user = session.get(User, checked.user_id)
    if user is None or not user.is_active or user.password_hash != checked.password_hash:
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
