"""Prescription (Rx) rules: ranges, pairing rules and the optics opticians rely on.

Pure Python (decimal arithmetic, no I/O). Validation never raises for bad values: it returns
every violation as an ``RxViolation`` — a dotted field path relative to the Rx (``right.axis``,
``left.prism_horizontal.amount``, ``frame.temple``) and the rule in plain words, so a form
can mark every field at once. Surfaces map the paths to their dialect's names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

SIDES = ("right", "left")  # OD, OS
HORIZONTAL_BASES = ("in", "out")
VERTICAL_BASES = ("up", "down")


@dataclass(frozen=True)
class Range:
    """An inclusive range a measured value must fall in."""

    low: Decimal
    high: Decimal
    integer: bool
    unit: str
    label: str

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a value"
        # Degrees hug the number (90°); other units are spaced (50 mm, 5 D).
        unit = self.unit if self.unit in ("", "°") else f" {self.unit}"
        return f"{kind} from {_fmt(self.low)} to {_fmt(self.high)}{unit}"


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if value >= 0 else f"−{text[1:]}"


def _r(low: str, high: str, unit: str, label: str, *, integer: bool = False) -> Range:
    return Range(Decimal(low), Decimal(high), integer, unit, label)


# The lab-order ranges (surfaces/labs.md), shared by every surface.
SPECTACLE_RANGES: dict[str, Range] = {
    "sphere": _r("-30", "30", "D", "Sphere"),
    "cylinder": _r("-20", "20", "D", "Cylinder"),
    "axis": _r("1", "180", "°", "Axis", integer=True),
    "add": _r("0.5", "5", "D", "Add"),
    "seg_height": _r("0.5", "50", "mm", "Seg height"),
    "oc_height": _r("0.5", "50", "mm", "OC height"),
    "prism": _r("0.01", "50", "Δ", "Prism"),
    "distance_pd": _r("20", "50", "mm", "Distance PD"),
    "near_pd": _r("20", "50", "mm", "Near PD"),
}

FRAME_RANGES: dict[str, Range] = {
    "eye_size": _r("10", "100", "mm", "Eye size", integer=True),
    "bridge": _r("10", "100", "mm", "Bridge", integer=True),
    "a": _r("10", "100", "mm", "A"),
    "b": _r("10", "100", "mm", "B"),
    "ed": _r("10", "100", "mm", "ED"),
    "temple": _r("100", "200", "mm", "Temple", integer=True),
    "vertex": _r("1", "30", "mm", "Vertex distance"),
    "pantoscopic_tilt": _r("-20", "20", "°", "Pantoscopic tilt"),
    "wrap": _r("0", "40", "°", "Wrap"),
}

# Common soft and rigid lens parameters; outside them a value is almost surely a typo.
CONTACT_LENS_RANGES: dict[str, Range] = {
    "power": _r("-30", "30", "D", "Power"),
    "base_curve": _r("7.0", "10.0", "mm", "Base curve"),
    "diameter": _r("12.0", "16.0", "mm", "Diameter"),
    "cylinder": _r("-20", "20", "D", "Cylinder"),
    "axis": _r("1", "180", "°", "Axis", integer=True),
    "add": _r("0.5", "5", "D", "Add"),
}


@dataclass(frozen=True)
class Prism:
    """Prism in prism diopters; ``base`` is in/out (horizontal) or up/down (vertical)."""

    amount: Decimal
    base: str


@dataclass(frozen=True)
class EyeRx:
    sphere: Decimal | None = None
    cylinder: Decimal | None = None
    axis: int | None = None
    add: Decimal | None = None
    prism_horizontal: Prism | None = None
    prism_vertical: Prism | None = None
    distance_pd: Decimal | None = None
    near_pd: Decimal | None = None
    seg_height: Decimal | None = None
    oc_height: Decimal | None = None


@dataclass(frozen=True)
class SpectacleRx:
    right: EyeRx | None = None  # OD
    left: EyeRx | None = None  # OS


@dataclass(frozen=True)
class FrameMeasurements:
    eye_size: Decimal | None = None
    bridge: Decimal | None = None
    a: Decimal | None = None
    b: Decimal | None = None
    ed: Decimal | None = None
    temple: Decimal | None = None
    vertex: Decimal | None = None
    pantoscopic_tilt: Decimal | None = None
    wrap: Decimal | None = None


@dataclass(frozen=True)
class ContactLensEyeRx:
    power: Decimal | None = None
    base_curve: Decimal | None = None
    diameter: Decimal | None = None
    cylinder: Decimal | None = None
    axis: int | None = None
    add: Decimal | None = None
    brand: str | None = None


@dataclass(frozen=True)
class ContactLensRx:
    right: ContactLensEyeRx | None = None
    left: ContactLensEyeRx | None = None


@dataclass(frozen=True)
class RxViolation:
    field: str
    message: str


def _as_decimal(value: object) -> Decimal | None:
    """The value as a finite Decimal, or None when it is not a finite number."""
    if isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def check_range(path: str, value: object, rule: Range, extra: str = "") -> list[RxViolation]:
    """One violation when ``value`` is not a finite number inside ``rule`` (None passes)."""
    if value is None:
        return []
    number = _as_decimal(value)
    ok = (
        number is not None
        and rule.low <= number <= rule.high
        and (not rule.integer or number == number.to_integral_value())
    )
    if ok:
        return []
    return [RxViolation(path, f"{rule.label} must be {rule.describe()}{extra}.")]


def _present(value: object) -> bool:
    return value is not None


def _prism(path: str, prism: Prism | None, bases: tuple[str, str]) -> list[RxViolation]:
    if prism is None:
        return []
    violations = check_range(f"{path}.amount", prism.amount, SPECTACLE_RANGES["prism"])
    if prism.amount is None:
        violations.append(RxViolation(f"{path}.amount", "Prism amount is required."))
    if prism.base not in bases:
        violations.append(
            RxViolation(f"{path}.base", f"Prism base must be {bases[0]} or {bases[1]}.")
        )
    return violations


def validate_eye(eye: EyeRx, side: str, *, multifocal: bool = False) -> list[RxViolation]:
    """Every range and pairing violation of one eye, paths prefixed with ``side``.

    Pairing: cylinder and axis each require the other; for multifocal lab jobs add and seg
    height each require the other.
    """
    ranges = SPECTACLE_RANGES
    out: list[RxViolation] = []
    per_eye = " per eye (a monocular PD, not the binocular total)"
    for name in ("sphere", "cylinder", "axis", "add", "seg_height", "oc_height"):
        out += check_range(f"{side}.{name}", getattr(eye, name), ranges[name])
    out += check_range(f"{side}.distance_pd", eye.distance_pd, ranges["distance_pd"], per_eye)
    out += check_range(f"{side}.near_pd", eye.near_pd, ranges["near_pd"], per_eye)
    if _present(eye.cylinder) and not _present(eye.axis):
        out.append(RxViolation(f"{side}.axis", "Axis is required when cylinder is provided."))
    if _present(eye.axis) and not _present(eye.cylinder):
        out.append(RxViolation(f"{side}.cylinder", "Cylinder is required when axis is provided."))
    if multifocal:
        if _present(eye.add) and not _present(eye.seg_height):
            out.append(
                RxViolation(f"{side}.seg_height", "Seg height is required when add is provided.")
            )
        if _present(eye.seg_height) and not _present(eye.add):
            out.append(RxViolation(f"{side}.add", "Add is required when seg height is provided."))
    out += _prism(f"{side}.prism_horizontal", eye.prism_horizontal, HORIZONTAL_BASES)
    out += _prism(f"{side}.prism_vertical", eye.prism_vertical, VERTICAL_BASES)
    return out


def validate_spectacle_rx(rx: SpectacleRx, *, multifocal: bool = False) -> list[RxViolation]:
    """At least one eye, then every rule of each eye (all violations, right eye first)."""
    if rx.right is None and rx.left is None:
        return [RxViolation("rx", "At least one eye (right or left) is required.")]
    out: list[RxViolation] = []
    for side in SIDES:
        eye = getattr(rx, side)
        if eye is not None:
            out += validate_eye(eye, side, multifocal=multifocal)
    return out


def validate_frame_measurements(frame: FrameMeasurements) -> list[RxViolation]:
    """Range violations of frame measurements, paths ``frame.<name>``."""
    out: list[RxViolation] = []
    for name, rule in FRAME_RANGES.items():
        out += check_range(f"frame.{name}", getattr(frame, name), rule)
    return out


def validate_contact_lens_rx(rx: ContactLensRx) -> list[RxViolation]:
    """Ranges and the cylinder ⇔ axis pairing for each eye of a contact-lens Rx."""
    if rx.right is None and rx.left is None:
        return [RxViolation("rx", "At least one eye (right or left) is required.")]
    out: list[RxViolation] = []
    for side in SIDES:
        eye: ContactLensEyeRx | None = getattr(rx, side)
        if eye is None:
            continue
        for name, rule in CONTACT_LENS_RANGES.items():
            out += check_range(f"{side}.{name}", getattr(eye, name), rule)
        if _present(eye.cylinder) and not _present(eye.axis):
            out.append(RxViolation(f"{side}.axis", "Axis is required when cylinder is provided."))
        if _present(eye.axis) and not _present(eye.cylinder):
            out.append(
                RxViolation(f"{side}.cylinder", "Cylinder is required when axis is provided.")
            )
    return out


def _rotate_axis(axis: int) -> int:
    """Axis + 90° kept in 1..180 (0 is written 180)."""
    rotated = (axis + 90) % 180
    return 180 if rotated == 0 else rotated


def transpose(eye: EyeRx) -> EyeRx:
    """The same correction written in the other cylinder form.

    sphere' = sphere + cylinder, cylinder' = −cylinder, axis' = axis ± 90 (in 1..180).
    An eye without cylinder (None or 0), or without sphere or axis, is returned unchanged.
    """
    if not eye.cylinder or eye.sphere is None or eye.axis is None:
        return eye
    return replace(
        eye,
        sphere=eye.sphere + eye.cylinder,
        cylinder=-eye.cylinder,
        axis=_rotate_axis(eye.axis),
    )


def to_minus_cylinder(eye: EyeRx) -> EyeRx:
    return transpose(eye) if eye.cylinder is not None and eye.cylinder > 0 else eye


def to_plus_cylinder(eye: EyeRx) -> EyeRx:
    return transpose(eye) if eye.cylinder is not None and eye.cylinder < 0 else eye


def spherical_equivalent(eye: EyeRx) -> Decimal:
    """sphere + cylinder / 2 (a missing sphere or cylinder counts as 0)."""
    return (eye.sphere or Decimal(0)) + (eye.cylinder or Decimal(0)) / 2


def binocular_pd(rx: SpectacleRx) -> Decimal | None:
    """The sum of both monocular distance PDs, when both are known."""
    if rx.right is None or rx.left is None:
        return None
    if rx.right.distance_pd is None or rx.left.distance_pd is None:
        return None
    return rx.right.distance_pd + rx.left.distance_pd
