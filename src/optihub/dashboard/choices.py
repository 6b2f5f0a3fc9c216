"""What the draft review form offers in its selects: the practice's lab accounts and what
the chosen lab offers (styles, the style's materials, the addons of style + material).

Every option is shown in the trade's words (``draft_words.option_label``) or by the name the lab
gave it, never by a contract value or an id. A value the draft holds that is not offered
(any more) stays selectable, marked, so the service's violation has something to point at
and an unchanged save sends back exactly what is stored.

``dependent`` is the part that follows the lab, style and material chosen: the page's
script asks for it (``GET /dashboard/drafts/{id}/choices``) as they change, so the lens
choices fill in without a save.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optihub.dashboard.draft_words import option_label
from optihub.dashboard.forms import LAB_ACCOUNT, FormValues, lab_account_value
from optihub.reads import catalog
from optihub.reads.order_views import Reader
from optihub.services.lab_orders import FRAME_MATERIALS, RX_ORDER_TYPE, SUBMISSION_TYPES

Option = tuple[str, str]  # (value, label)
NOT_OFFERED = "not offered"

# The selects and checkbox groups that depend on the lab account, style and material: the
# form's field → the ``Choices`` attribute that lists its options.
DEPENDENT: Mapping[str, str] = {
    "order_type": "order_types",
    "mounting_option": "mounting_options",
    "frame.handling": "frame_handling",
    "redo_data.type": "redo_types",
    "services": "services",
    "lens.style": "styles",
    "lens.material": "materials",
    "lens.color": "colors",
    "lens.tint": "tints",
    "lens.coats": "coats",
}


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

    def dependent(self) -> dict[str, Any]:
        """The lab-dependent options by form field, each ``[value, label, offered]`` (what
        the page's script redraws)."""
        kept = f"({NOT_OFFERED})"
        return {
            "lab_name": self.lab_name,
            "fields": {
                name: [[v, shown, not shown.endswith(kept)] for v, shown in getattr(self, attr)]
                for name, attr in DEPENDENT.items()
            },
        }


def _named(field_name: str, values: tuple[str, ...] | list[str]) -> list[Option]:
    return [(v, option_label(field_name, v)) for v in values]


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _keep(
    options: list[Option], field_name: str, *chosen: str, names: Mapping[str, str] | None = None
) -> list[Option]:
    """``options`` plus any chosen value they lack, marked as not offered (by its stored
    name when the draft has one: an id is never shown)."""
    known = {value for value, _ in options}
    extra = []
    for value in chosen:
        if not value or value in known:
            continue
        name = (names or {}).get(value)
        if name is None:
            name = "A choice of another lab" if _uuid(value) else option_label(field_name, value)
        extra.append((value, f"{name} ({NOT_OFFERED})"))
    return options + extra


def stored_names(lens: Mapping[str, Any] | None) -> dict[str, str]:
    """The names the draft's stored lens gives its catalog ids (id → name)."""
    if not lens:
        return {}
    names = {
        str(lens[f"{part}_id"]): str(lens[part])
        for part in ("style", "material", "color")
        if lens.get(f"{part}_id") and lens.get(part)
    }
    coat_ids, coats = lens.get("coat_ids") or [], lens.get("coats") or []
    if len(coat_ids) == len(coats):
        names |= {str(i): str(n) for i, n in zip(coat_ids, coats, strict=True)}
    return names


def fill_lens_by_name(reader: Reader, values: FormValues, lens: Mapping[str, Any] | None) -> None:
    """A lens stored by name only (no catalog ids, as other channels send it) as the form's
    choices: the lab's items of those names, else the names themselves (shown as not
    offered, and refused by the service until the staff choose)."""
    if not lens:
        return
    lab_id = _uuid(values.get(LAB_ACCOUNT).partition("/")[0])
    style_id = _uuid(values.get("lens.style"))
    if not values.get("lens.style") and lens.get("style"):
        styles = catalog.styles(reader, lab_id) if lab_id is not None else []
        style_id = next((s.id for s in styles if s.name == lens["style"]), None)
        values.single["lens.style"] = str(style_id) if style_id else str(lens["style"])
    material_id = _uuid(values.get("lens.material"))
    if not values.get("lens.material") and lens.get("material"):
        materials = (
            catalog.materials(reader, lab_id, style_id)
            if lab_id is not None and style_id is not None
            else []
        )
        material_id = next((m.id for m in materials if m.name == lens["material"]), None)
        values.single["lens.material"] = str(material_id) if material_id else str(lens["material"])
    wants_color = not values.get("lens.color") and lens.get("color")
    wants_coats = not values.getlist("lens.coats") and lens.get("coats")
    if not (wants_color or wants_coats):
        return
    addons = (
        catalog.addons(reader, lab_id, style_id, material_id)
        if lab_id is not None and style_id is not None and material_id is not None
        else catalog.Addons((), (), ())
    )
    if wants_color:
        color = next((c.id for c in addons.colors if c.name == lens["color"]), None)
        values.single["lens.color"] = str(color) if color else str(lens["color"])
    if wants_coats:
        coat_ids = {name: coat_id for coat_id, name, _type in addons.coats}
        values.multi["lens.coats"] = [str(coat_ids.get(name, name)) for name in lens["coats"]]


def choices_for(
    reader: Reader,
    practice_id: int,
    values: FormValues,
    names: Mapping[str, str] | None = None,
) -> Choices:
    """The options of every select for the form as it stands (``names``: what the stored
    draft calls the ids it holds)."""
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
            LAB_ACCOUNT,
            chosen,
            names={chosen: "An account this practice no longer holds"},
        ),
        submission_types=_keep(
            _named("submission_type", SUBMISSION_TYPES),
            "submission_type",
            values.get("submission_type"),
        ),
        frame_materials=_keep(
            sorted(_named("frame.material", FRAME_MATERIALS), key=lambda o: o[1]),
            "frame.material",
            values.get("frame.material"),
        ),
    )
    order_types: tuple[str, ...] = (RX_ORDER_TYPE,)
    if account is not None:
        found.lab_name = account.lab_name
        order_types += tuple(t for t in account.order_types if t != RX_ORDER_TYPE)
        found.mounting_options = _named("mounting_option", account.mounting_options)
        found.frame_handling = _named("frame.handling", account.frame_handling_options)
        found.redo_types = _named("redo_data.type", account.redo_types)
        found.services = _named("services", account.services)
        _lens_choices(reader, account.lab_id, values, found)
    for name, attr in DEPENDENT.items():
        chosen_values = (
            values.getlist(name) if name in ("services", "lens.coats") else [values.get(name)]
        )
        offered = _named(name, order_types) if name == "order_type" else getattr(found, attr)
        setattr(found, attr, _keep(offered, name, *chosen_values, names=names))
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
    found.tints = [(t, t) for t in addons.tints]
