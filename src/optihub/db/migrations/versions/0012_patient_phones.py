"""patient phones as given, with their E.164 form

Revision ID: 0012
Revises: 0011

A patient's phone was ten US digits; the dialects' own documents allow more (the lab-order
API any 20 characters), so ``patients.phone`` now holds the number as given, up to 20
characters, and ``patients.phone_e164`` the same number in E.164 when it is a valid one
(read in the practice's country: the one its locations are in, US when it has none), by
which numbers are matched.

Existing phones are ten digits: each gets its E.164 form (best effort; one that is not a
valid number keeps None). Going back, a phone is reduced to the old ten digits (a leading
US ``1`` dropped) or cleared when it has no such form, since the old column cannot hold it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

patients = sa.table(
    "patients",
    sa.column("practice_id", sa.Integer()),
    sa.column("phone", sa.String()),
    sa.column("phone_e164", sa.String()),
)
locations = sa.table(
    "locations", sa.column("practice_id", sa.Integer()), sa.column("country", sa.String())
)


def _e164(phone: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(phone.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _regions(connection: sa.Connection) -> dict[int, str]:
    """Each practice's most common location country (ties: the first code)."""
    counted = sa.func.count().label("n")
    rows = connection.execute(
        sa.select(locations.c.practice_id, locations.c.country, counted)
        .group_by(locations.c.practice_id, locations.c.country)
        .order_by(locations.c.practice_id, counted.desc(), locations.c.country)
    )
    regions: dict[int, str] = {}
    for practice_id, country, _count in rows:
        regions.setdefault(practice_id, (country or "US").upper())
    return regions


# SQLite changes a column by rebuilding the table from its reflection, which skips
# expression indexes: the name-search ones (0011) are dropped first and made again after.
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
    with _rebuilding_patients(), op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.alter_column(
            "phone",
            existing_type=sa.String(length=10),
            type_=sa.String(length=20),
            existing_nullable=True,
        )
        batch_op.add_column(sa.Column("phone_e164", sa.String(length=16), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_patients_practice_id_phone_e164"),
            ["practice_id", "phone_e164"],
            unique=False,
        )
    connection = op.get_bind()
    regions = _regions(connection)
    filled = []
    for practice_id, phone in _phones(connection):
        number = _e164(phone, regions.get(practice_id, "US"))
        if number is not None:
            filled.append({"practice": practice_id, "given": phone, "value": number})
    _set(connection, "phone_e164", filled)


def _phones(connection: sa.Connection) -> list[tuple[int, str]]:
    """Each practice's distinct phones."""
    return [
        (practice_id, phone)
        for practice_id, phone in connection.execute(
            sa.select(patients.c.practice_id, patients.c.phone)
            .where(patients.c.phone.is_not(None))
            .distinct()
        )
    ]


def _set(connection: sa.Connection, column: str, changes: list[dict[str, object]]) -> None:
    """Set ``column`` to ``value`` on the practice's patients whose phone is ``given``."""
    if not changes:
        return
    connection.execute(
        patients.update()
        .where(
            patients.c.practice_id == sa.bindparam("practice"),
            patients.c.phone == sa.bindparam("given"),
        )
        .values({column: sa.bindparam("value")}),
        changes,
    )


def _ten_digits(phone: str) -> str | None:
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) == 10 else None


def downgrade() -> None:
    connection = op.get_bind()
    reduced = []
    for practice_id, phone in _phones(connection):
        digits = _ten_digits(phone)
        if digits != phone:
            reduced.append({"practice": practice_id, "given": phone, "value": digits})
    _set(connection, "phone", reduced)
    with _rebuilding_patients(), op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_practice_id_phone_e164"))
        batch_op.drop_column("phone_e164")
        batch_op.alter_column(
            "phone",
            existing_type=sa.String(length=20),
            type_=sa.String(length=10),
            existing_nullable=True,
        )
