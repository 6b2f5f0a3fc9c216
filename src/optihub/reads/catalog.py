"""Lab catalog reads: a practice's lab accounts with their order settings, and what a lab
offers as a drill-down (lens type → style → material → coats, colours and tints).

Labs and their catalogs are a directory shared by every practice; what a practice sees is
scoped by its accounts: every function taking a ``practice_id`` returns only labs the
practice holds an account with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select

from optihub.db.models import Lab, LabAccount, LensAddon, LensMaterial, LensStyle
from optihub.db.models.catalog import lens_style_materials
from optihub.db.session import Database
from optihub.reads.order_views import Reader
from optihub.reads.orders import Guard


@dataclass(frozen=True)
class LabAccountView:
    id: uuid.UUID
    lab_id: uuid.UUID
    lab_name: str
    lab_code: str
    account_number: str
    frame_handling_options: tuple[str, ...]
    frame_materials: tuple[str, ...]
    mounting_options: tuple[str, ...]
    order_types: tuple[str, ...]
    redo_types: tuple[str, ...]
    services: tuple[str, ...]


@dataclass(frozen=True)
class CatalogItem:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class Addons:
    """What a lab offers for one style and material."""

    coats: tuple[tuple[uuid.UUID, str, str | None], ...]  # (id, name, coat type)
    colors: tuple[CatalogItem, ...]
    tints: tuple[str, ...]


_ACCOUNT: list[Any] = [
    LabAccount.id,
    LabAccount.lab_id,
    Lab.name,
    Lab.code,
    LabAccount.account_number,
    LabAccount.frame_handling_options,
    LabAccount.frame_materials,
    LabAccount.mounting_options,
    LabAccount.order_types,
    LabAccount.redo_types,
    LabAccount.services,
]


def _account(row: Any) -> LabAccountView:
    first, lists = row[:5], row[5:]
    return LabAccountView(*first, *(tuple(str(v) for v in values or ()) for values in lists))


def lab_accounts(reader: Reader, practice_id: int) -> list[LabAccountView]:
    """The practice's accounts, by lab name then account number (a lab may repeat)."""
    rows = reader.execute(
        select(*_ACCOUNT)
        .join(Lab, Lab.id == LabAccount.lab_id)
        .where(LabAccount.practice_id == practice_id)
        .order_by(Lab.name, LabAccount.account_number)
    )
    return [_account(row) for row in rows]


def lab_account(
    reader: Reader, practice_id: int, lab_id: uuid.UUID, account_number: str
) -> LabAccountView | None:
    """The practice's account with that lab and number, or None."""
    row = reader.execute(
        select(*_ACCOUNT)
        .join(Lab, Lab.id == LabAccount.lab_id)
        .where(
            LabAccount.practice_id == practice_id,
            LabAccount.lab_id == lab_id,
            LabAccount.account_number == account_number,
        )
    ).first()
    return _account(row) if row is not None else None


def styles(reader: Reader, lab_id: uuid.UUID, lens_type: str | None = None) -> list[CatalogItem]:
    """The lab's lens styles (of one lens type when given), by name."""
    query = select(LensStyle.id, LensStyle.name).where(LensStyle.lab_id == lab_id)
    if lens_type is not None:
        query = query.where(LensStyle.lens_type == lens_type)
    return [CatalogItem(*row) for row in reader.execute(query.order_by(LensStyle.name))]


def style_lens_type(reader: Reader, lab_id: uuid.UUID, style_id: uuid.UUID) -> str | None:
    """The lens type of the lab's style, or None when the lab has no such style."""
    return reader.scalar(
        select(LensStyle.lens_type).where(LensStyle.lab_id == lab_id, LensStyle.id == style_id)
    )


def materials(reader: Reader, lab_id: uuid.UUID, style_id: uuid.UUID) -> list[CatalogItem]:
    """The materials the lab offers for one of its styles, by name."""
    rows = reader.execute(
        select(LensMaterial.id, LensMaterial.name)
        .join(lens_style_materials, lens_style_materials.c.material_id == LensMaterial.id)
        .join(LensStyle, LensStyle.id == lens_style_materials.c.style_id)
        .where(LensStyle.lab_id == lab_id, LensStyle.id == style_id)
        .order_by(LensMaterial.name)
    )
    return [CatalogItem(*row) for row in rows]


def addons(
    reader: Reader, lab_id: uuid.UUID, style_id: uuid.UUID, material_id: uuid.UUID
) -> Addons:
    """Coats, colours and tints the lab offers for that style and material (an addon bound
    to no style or material is offered with all of them)."""
    rows = reader.execute(
        select(LensAddon.id, LensAddon.kind, LensAddon.name, LensAddon.coat_type)
        .where(
            LensAddon.lab_id == lab_id,
            or_(LensAddon.style_id.is_(None), LensAddon.style_id == style_id),
            or_(LensAddon.material_id.is_(None), LensAddon.material_id == material_id),
        )
        .order_by(LensAddon.kind, LensAddon.name)
    ).all()
    return Addons(
        coats=tuple((r.id, r.name, r.coat_type) for r in rows if r.kind == "coat"),
        colors=tuple(CatalogItem(r.id, r.name) for r in rows if r.kind == "color"),
        tints=tuple(r.name for r in rows if r.kind == "tint"),
    )


def offers_material(
    reader: Reader, lab_id: uuid.UUID, style_id: uuid.UUID, material_id: uuid.UUID
) -> bool:
    return (
        reader.scalar(
            select(lens_style_materials.c.material_id)
            .join(LensStyle, LensStyle.id == lens_style_materials.c.style_id)
            .where(
                and_(
                    LensStyle.lab_id == lab_id,
                    lens_style_materials.c.style_id == style_id,
                    lens_style_materials.c.material_id == material_id,
                )
            )
        )
        is not None
    )


# The two checks of a lab-order read: an active user of the practice with that email, and
# the practice's account with the lab (each column NULL when it fails).
_ACCOUNT_USER = (
    "(SELECT 1 FROM users JOIN memberships ON memberships.user_id = users.id"
    " WHERE memberships.practice_id = {p} AND users.email = {p} AND users.is_active),"
    " (SELECT 1 FROM lab_accounts WHERE lab_accounts.practice_id = {p}"
    " AND lab_accounts.lab_id = {p} AND lab_accounts.account_number = {p})"
)
_account_user: dict[str, str] = {}


def account_user_guard(
    db: Database, practice_id: int, email: str, lab_id: uuid.UUID, account_number: str
) -> Guard:
    """Whether ``email`` is an active user of the practice and the practice has that account
    with the lab, as a ``Guard`` a lab page reads with the order version (one statement,
    shared by the requests asking at once). ``member`` and ``lab_account`` say which one
    fails."""
    columns = _account_user.get(db.placeholder)
    if columns is None:
        columns = _account_user[db.placeholder] = _ACCOUNT_USER.format(p=db.placeholder)
    dialect = db.engine.dialect
    bind = LabAccount.__table__.c.lab_id.type.dialect_impl(dialect).bind_processor(dialect)
    # As text, so the statement can be shared: SQLite's column holds the hex text;
    # PostgreSQL reads the canonical form into the uuid the comparison wants.
    lab = bind(lab_id) if bind is not None else str(lab_id)
    return Guard(columns, (practice_id, email.strip().lower(), practice_id, lab, account_number))
