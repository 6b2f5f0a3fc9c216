"""What the draft review form offers in its selects: the practice's lab accounts and what
the chosen lab offers (styles, the style's materials, the addons of style + material).

A value the draft holds that is not offered (any more) stays selectable, marked, so the
service's violation has something to point at."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from optihub.dashboard.forms import LAB_ACCOUNT, FormValues, lab_account_value
from optihub.reads import catalog
from optihub.reads.order_views import Reader
from optihub.services.lab_orders import FRAME_MATERIALS, RX_ORDER_TYPE, SUBMISSION_TYPES

Option = tuple[str, str]  # (value, label)


@dataclass
class Choices:
    lab_accounts: list[Option] = field(default_factory=list)
    submission_types: list[Option] = field(default_factory=list)
    order_types: list[Option] = field(default_factory=list)
    mounting_options: list[Option] = field(default_factory=list)
    frame_handling: list[Option] = field(default_factory=list)
    frame_materials: list[Option] = field(default_factory=list)
    redo_types: list[Option] = field(default_factory=list)
    services: list[Option] = field(default_factory=list)
    styles: list[Option] = field(default_factory=list)
    materials: list[Option] = field(default_factory=list)
    colors: list[Option] = field(default_factory=list)
    coats: list[Option] = field(default_factory=list)
    tints: list[Option] = field(default_factory=list)
    lab_name: str | None = None


def _named(values: tuple[str, ...] | list[str]) -> list[Option]:
    return [(v, v) for v in values]


def _keep(options: list[Option], *chosen: str) -> list[Option]:
    """``options`` plus any chosen value they lack (marked as not offered)."""
    known = {value for value, _ in options}
    extra = [(v, f"{v} (not offered)") for v in chosen if v and v not in known]
    return options + extra


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def choices_for(reader: Reader, practice_id: int, values: FormValues) -> Choices:
    accounts = catalog.lab_accounts(reader, practice_id)
    chosen = values.get(LAB_ACCOUNT)
    account = next(
        (a for a in accounts if lab_account_value(a.lab_id, a.account_number) == chosen), None
    )
    found = Choices(
        lab_accounts=_keep(
            [
                (
                    lab_account_value(a.lab_id, a.account_number),
                    f"{a.lab_name} · {a.account_number}",
                )
                for a in accounts
            ],
            chosen,
        ),
        submission_types=_keep(_named(SUBMISSION_TYPES), values.get("submission_type")),
        frame_materials=_keep(_named(FRAME_MATERIALS), values.get("frame.material")),
    )
    order_types: tuple[str, ...] = (RX_ORDER_TYPE,)
    if account is not None:
        found.lab_name = account.lab_name
        order_types += tuple(t for t in account.order_types if t != RX_ORDER_TYPE)
        found.mounting_options = _named(account.mounting_options)
        found.frame_handling = _named(account.frame_handling_options)
        found.redo_types = _named(account.redo_types)
        found.services = _named(account.services)
        _lens_choices(reader, account.lab_id, values, found)
    found.order_types = _keep(_named(order_types), values.get("order_type"))
    found.mounting_options = _keep(found.mounting_options, values.get("mounting_option"))
    found.frame_handling = _keep(found.frame_handling, values.get("frame.handling"))
    found.redo_types = _keep(found.redo_types, values.get("redo_data.type"))
    found.services = _keep(found.services, *values.getlist("services"))
    found.styles = _keep(found.styles, values.get("lens.style"))
    found.materials = _keep(found.materials, values.get("lens.material"))
    found.colors = _keep(found.colors, values.get("lens.color"))
    found.coats = _keep(found.coats, *values.getlist("lens.coats"))
    found.tints = _keep(found.tints, values.get("lens.tint"))
    return found


def _lens_choices(reader: Reader, lab_id: uuid.UUID, values: FormValues, found: Choices) -> None:
    styles = catalog.styles(reader, lab_id)
    found.styles = [(str(s.id), s.name) for s in styles]
    style_id = _uuid(values.get("lens.style"))
    if style_id is None or all(s.id != style_id for s in styles):
        # No style chosen yet: every material of the lab's styles.
        materials = {m.id: m.name for s in styles for m in catalog.materials(reader, lab_id, s.id)}
        found.materials = sorted(((str(k), v) for k, v in materials.items()), key=lambda o: o[1])
        return
    offered = catalog.materials(reader, lab_id, style_id)
    found.materials = [(str(m.id), m.name) for m in offered]
    material_id = _uuid(values.get("lens.material"))
    if material_id is None or all(m.id != material_id for m in offered):
        return
    addons = catalog.addons(reader, lab_id, style_id, material_id)
    found.colors = [(str(c.id), c.name) for c in addons.colors]
    found.coats = [(str(coat_id), name) for coat_id, name, _type in addons.coats]
    found.tints = _named(addons.tints)
