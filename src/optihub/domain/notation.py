"""Writing an order's optics as opticians do (docs: shared/docs/opticians.md).

Pure: values in, display text out (no I/O). Powers are signed with two decimals and the
typographic minus (``+2.00``, ``−0.75``), zero sphere is ``plano``, a sphere-only lens is
``DS``, the axis has three digits after ``×`` (``× 090``), prism carries its base
(``1.00 Δ BI``), and a frame size reads ``52□18 140``.

Transposition (plus/minus cylinder form) is :func:`optihub.domain.rx.transpose`;
:func:`in_cylinder_form` picks the form a page asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from optihub.domain import rx as rx_rules

MINUS = "\u2212"  # typographic minus
CYLINDER_FORMS = ("written", "minus", "plus")
BASE_WORDS = {"in": "BI", "out": "BO", "up": "BU", "down": "BD"}

# Frame materials and mounting words (the lab-order contract's codes) as a practice says them.
FRAME_MATERIAL_LABELS: Mapping[str, str] = {
    "three_d_printed": "3D printed",
    "carbon_fiber": "Carbon fibre",
    "drilled_and_grooved_rimless": "Drilled and grooved rimless",
    "drilled_rimless": "Drilled rimless",
    "grooved_industrial_safety": "Grooved industrial safety",
    "grooved_rimless": "Grooved rimless (semi-rimless)",
    "high_wrap": "High wrap",
    "horn": "Horn",
    "industrial_safety": "Industrial safety",
    "leather": "Leather",
    "metal": "Metal",
    "metal_grooved": "Metal, grooved",
    "step_shelf_bevel": "Step (shelf) bevel",
    "wood": "Wood",
    "zyl": "Zyl (acetate)",
}
# Materials other systems send in their own words, read as the same things.
FRAME_MATERIAL_WORDS: Mapping[str, str] = {
    **FRAME_MATERIAL_LABELS,
    "acetate": "Zyl (acetate)",
    "titanium": "Titanium",
    "nylon": "Nylon",
    "stainless steel": "Stainless steel",
}


def words(code: str | None) -> str | None:
    """A stored code in words: ``drilled_rimless`` → ``Drilled rimless``."""
    if code is None or not str(code).strip():
        return None
    text = str(code).strip()
    if text in FRAME_MATERIAL_WORDS:
        return FRAME_MATERIAL_WORDS[text]
    if text.lower() in FRAME_MATERIAL_WORDS:
        return FRAME_MATERIAL_WORDS[text.lower()]
    if "_" in text or text.islower():
        return text.replace("_", " ").capitalize()
    return text


def decimal_of(value: Any) -> Decimal | None:
    """A stored number (string, int, float or Decimal) as a finite Decimal, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def signed(value: Decimal) -> str:
    """A power: ``+2.00``, ``−0.75``, ``+0.00`` (two decimals, always signed)."""
    text = format(value.quantize(Decimal("0.01")), "+.2f")
    if text == "-0.00":
        text = "+0.00"
    return text.replace("-", MINUS)


def sphere_text(sphere: Decimal | None, cylinder: Decimal | None) -> str:
    """The sphere as written: ``plano`` for zero, ``DS`` when the lens has no cylinder."""
    if sphere is None:
        return "—"
    text = "plano" if sphere == 0 else signed(sphere)
    if not cylinder:
        text += " DS"
    return text


def axis_text(axis: int | None) -> str:
    return "—" if axis is None else f"× {axis:03d}"


def cylinder_text(cylinder: Decimal | None, axis: int | None) -> str:
    """``−0.75 × 090``; an empty dash when the lens has no cylinder."""
    if not cylinder:
        return "—"
    return f"{signed(cylinder)} {axis_text(axis)}" if axis is not None else signed(cylinder)


def prism_text(prism: rx_rules.Prism | None) -> str | None:
    if prism is None or prism.amount is None:
        return None
    base = BASE_WORDS.get(prism.base, prism.base.upper() if prism.base else "")
    return f"{prism.amount.quantize(Decimal('0.01'))} Δ {base}".strip()


def millimetres(value: Decimal | None) -> str:
    """A length in millimetres as measured: ``31.5``, ``64``, ``18``."""
    if value is None:
        return "—"
    normal = value.normalize()
    text = format(normal, "f")
    return text.replace("-", MINUS)


def eye_line(eye: rx_rules.EyeRx) -> str:
    """The lens on one line: ``−2.25 / −0.75 × 090``, ``−2.00 DS``, ``plano / −0.50 × 180``."""
    if eye.sphere is None and not eye.cylinder:
        return "—"
    if not eye.cylinder:
        return sphere_text(eye.sphere, None)
    sphere = "plano" if not eye.sphere else signed(eye.sphere)
    return f"{sphere} / {cylinder_text(eye.cylinder, eye.axis)}"


def in_cylinder_form(eye: rx_rules.EyeRx, form: str) -> rx_rules.EyeRx:
    """The eye in ``minus`` or ``plus`` cylinder form, or as ``written``. Transposing never
    changes the lens: sphere' = sphere + cylinder, cylinder' = −cylinder, axis' = axis ± 90."""
    if form == "plus":
        return rx_rules.to_plus_cylinder(eye)
    if form == "minus":
        return rx_rules.to_minus_cylinder(eye)
    return eye


def cylinder_form_of(eyes: list[rx_rules.EyeRx]) -> str | None:
    """``minus`` or ``plus`` when every eye with a cylinder is written in that form."""
    signs = {"plus" if e.cylinder > 0 else "minus" for e in eyes if e.cylinder}
    return signs.pop() if len(signs) == 1 else None


def eye_from_snapshot(stored: Mapping[str, Any] | None) -> rx_rules.EyeRx | None:
    """One eye of an order's Rx snapshot (``services.orders.rx_snapshot``) as values.

    Values that do not read as numbers are left out (the page shows a dash)."""
    if not stored:
        return None

    def prism(value: Any) -> rx_rules.Prism | None:
        if not isinstance(value, Mapping):
            return None
        amount = decimal_of(value.get("amount"))
        base = value.get("base")
        if amount is None or not isinstance(base, str):
            return None
        return rx_rules.Prism(amount, base)

    axis = decimal_of(stored.get("axis"))
    return rx_rules.EyeRx(
        sphere=decimal_of(stored.get("sphere")),
        cylinder=decimal_of(stored.get("cylinder")),
        axis=int(axis) if axis is not None and axis == axis.to_integral_value() else None,
        add=decimal_of(stored.get("add")),
        prism_horizontal=prism(stored.get("prism_horizontal")),
        prism_vertical=prism(stored.get("prism_vertical")),
        distance_pd=decimal_of(stored.get("distance_pd")),
        near_pd=decimal_of(stored.get("near_pd")),
        seg_height=decimal_of(stored.get("seg_height")),
        oc_height=decimal_of(stored.get("oc_height")),
    )


@dataclass(frozen=True)
class EyeRow:
    """One eye of the Rx table, every cell as opticians write it."""

    eye: str  # OD / OS
    side: str  # right / left
    sphere: str
    cylinder: str
    add: str
    prism: str
    distance_pd: str
    near_pd: str
    seg_height: str
    oc_height: str
    line: str


def eye_row(eye: rx_rules.EyeRx, side: str) -> EyeRow:
    prisms = [p for p in (prism_text(eye.prism_horizontal), prism_text(eye.prism_vertical)) if p]
    return EyeRow(
        eye="OD" if side == "right" else "OS",
        side=side,
        sphere=sphere_text(eye.sphere, eye.cylinder),
        cylinder=cylinder_text(eye.cylinder, eye.axis),
        add=signed(eye.add) if eye.add else "—",
        prism=", ".join(prisms) if prisms else "—",
        distance_pd=millimetres(eye.distance_pd),
        near_pd=millimetres(eye.near_pd),
        seg_height=millimetres(eye.seg_height),
        oc_height=millimetres(eye.oc_height),
        line=eye_line(eye),
    )


def frame_size(eye_size: Any, bridge: Any, temple: Any) -> str | None:
    """``52□18 140`` (eye size, bridge, temple); None without eye size and bridge."""
    a, dbl, t = decimal_of(eye_size), decimal_of(bridge), decimal_of(temple)
    if a is None or dbl is None:
        return None
    size = f"{millimetres(a)}□{millimetres(dbl)}"
    return f"{size} {millimetres(t)}" if t is not None else size
