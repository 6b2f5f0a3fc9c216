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

from sqlalchemy import and_, bindparam, or_, select

from optihub.db.models import Lab, LabAccount, LensAddon, LensMaterial, LensStyle
from optihub.db.models.catalog import lens_style_materials
from optihub.db.prepared import Prepared
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


# The practice's accounts with one lab, the one with the given number first (if any).
_ACCOUNT_AT_LAB = Prepared(
    select(*_ACCOUNT, (LabAccount.account_number == bindparam("account_number")).label("is_it"))
    .join(Lab, Lab.id == LabAccount.lab_id)
    .where(
        LabAccount.practice_id == bindparam("practice_id"),
        LabAccount.lab_id == bindparam("lab_id"),
    )
    .order_by((LabAccount.account_number == bindparam("account_number")).desc())
    .limit(1)
)


def account_at_lab(
    reader: Reader, practice_id: int, lab_id: uuid.UUID, account_number: str
) -> tuple[bool, LabAccountView | None]:
    """Whether the practice holds any account with the lab, and its account with that
    number (None when it has none), in one statement: what a lab order names."""
    found = _ACCOUNT_AT_LAB.rows(
        reader,
        {"practice_id": practice_id, "lab_id": lab_id, "account_number": account_number},
    )
    if not found:
        return False, None
    row = found[0]
    return True, (_account(row[:-1]) if row[-1] else None)


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


@dataclass(frozen=True)
class LensChoice:
    """A lab's style, the named material when the lab offers it for that style, and the
    addons to choose from (see ``lens_choice``)."""

    lens_type: str
    style_name: str
    material_name: str | None  # None: the lab offers no such material for the style
    addons: Addons


_style_materials = lens_style_materials.alias("offered")
# One row per addon (or one row with none): the style, the material when offered for it,
# and the addons of the style with that material (with any material when not offered).
_LENS_CHOICE = Prepared(
    select(
        LensStyle.lens_type,
        LensStyle.name,
        LensMaterial.name,
        LensAddon.id,
        LensAddon.kind,
        LensAddon.name,
        LensAddon.coat_type,
    )
    .select_from(LensStyle)
    .outerjoin(
        _style_materials,
        and_(
            _style_materials.c.style_id == LensStyle.id,
            _style_materials.c.material_id == bindparam("material_id"),
        ),
    )
    .outerjoin(LensMaterial, LensMaterial.id == _style_materials.c.material_id)
    .outerjoin(
        LensAddon,
        and_(
            LensAddon.lab_id == LensStyle.lab_id,
            or_(LensAddon.style_id.is_(None), LensAddon.style_id == LensStyle.id),
            or_(
                _style_materials.c.material_id.is_(None),
                LensAddon.material_id.is_(None),
                LensAddon.material_id == _style_materials.c.material_id,
            ),
        ),
    )
    .where(LensStyle.lab_id == bindparam("lab_id"), LensStyle.id == bindparam("style_id"))
    .order_by(LensAddon.kind, LensAddon.name)
)


def lens_choice(
    reader: Reader, lab_id: uuid.UUID, style_id: uuid.UUID, material_id: uuid.UUID | None
) -> LensChoice | None:
    """The lab's style (None when it has no such style) with, in the same statement, the
    material when the lab offers it for that style, and the addons offered with both
    (``addons``) or, when the material is not offered, for the style with any material
    (tints named once)."""
    rows = _LENS_CHOICE.rows(
        reader,
        {"lab_id": lab_id, "style_id": style_id, "material_id": material_id},
    )
    if not rows:
        return None
    lens_type, style_name, material_name = rows[0][:3]
    found = [row[3:] for row in rows if row[3] is not None]
    tints = [name for _, kind, name, _ in found if kind == "tint"]
    return LensChoice(
        lens_type=lens_type,
        style_name=style_name,
        material_name=material_name,
        addons=Addons(
            coats=tuple((i, name, coat) for i, kind, name, coat in found if kind == "coat"),
            colors=tuple(CatalogItem(i, name) for i, kind, name, _ in found if kind == "color"),
            tints=tuple(tints if material_name is not None else dict.fromkeys(tints)),
        ),
    )
