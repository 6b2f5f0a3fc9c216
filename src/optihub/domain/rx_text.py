"""One eye of a prescription as opticians write it in free text: reading and writing.

Pure Python: strings in, values out (no I/O, nothing outside the standard library and
:mod:`optihub.domain.rx`). Parsing never raises: text that does not read as an Rx gives
``eye=None`` and a ``problem`` in plain words for the integrator.

Spectacle eye (:func:`parse_eye_rx`)
------------------------------------
Case does not matter and spacing is free (``-0.50x180`` is ``-0.50 x 180``); ``/``, ``,``,
``;`` and ``:`` separate like spaces, and the typographic minus ``−`` (or an en dash) is a
minus sign. Read are:

* sphere — a signed or unsigned number (``2.00`` is ``+2.00``), optionally marked ``DS``,
  ``sph``/``sphere`` or ``D``; ``pl``/``plano`` is ``0.00``;
* cylinder — the second number, or a number marked ``DC``/``cyl``, or a number directly
  followed by the axis; a lone ``-0.50 x 180`` is a cylinder with no sphere written;
* axis — ``x``, ``×``, ``ax`` or ``axis`` then whole degrees (``x 090``, ``x90``, an
  optional ``°``); ``x 0``/``x 000`` is written 180;
* add — ``add +2.00``, ``ADD 2.00``, ``Add: +2.50`` or ``+2.00 add``;
* prism — an amount, an optional marker (``Δ``, ``^``, ``pd``, ``prism``), then the base:
  ``BI``/``BO`` (horizontal) or ``BU``/``BD`` (vertical), or ``base in``/``base out``/
  ``base up``/``base down``; ``prism 2 base in`` is read too. One horizontal and one
  vertical prism may be written (``2 BI 1 BU``).

Sphere, cylinder, add and prism amounts are Decimals quantized to 0.01; the axis is an int.
The values read are then checked by :func:`optihub.domain.rx.validate_eye` — the same ranges
and cylinder ⇔ axis pairing as every Rx — and any violation makes the whole text a problem
(the violation messages, joined with spaces). Words that are not part of an Rx (``see
attached``, ``balance``, a PD, a base curve) are a problem too: nothing is guessed.

Canonical spectacle form (:func:`format_eye_rx`)
------------------------------------------------
``<sphere> [<cylinder> x <axis>] [add <add>] [<amount> BI|BO] [<amount> BU|BD]``:

* sphere with its sign and two decimals (``-2.00``, ``+1.25``), ``pl`` when zero; an eye
  without cylinder marks its sphere ``DS`` (``-2.00 DS``, ``pl DS``);
* cylinder with its sign and two decimals, then ``x`` and the axis as three digits
  (``-0.50 x 090``); a cylinder without a sphere is marked ``DC`` (``-0.50 DC x 180``);
* ``add +2.00``; prisms as ``2.00 BI`` then ``1.00 BU``.

For example ``-2.00 -0.50 x 180 add +2.00 2.00 BI 1.00 BU``. Every field left empty is left
out. The PDs and heights of an :class:`~optihub.domain.rx.EyeRx` are not part of the lens
text and are not written. ``parse_eye_rx(format_eye_rx(eye)).eye == eye`` for every valid
eye made of those fields.

Contact-lens eye (:func:`parse_contact_lens_rx`)
------------------------------------------------
The power is read like a sphere (also after ``power``/``pwr``), cylinder, axis and add as
above, plus the base curve (``BC 8.6``, ``base curve 8.6``) and the diameter (``DIA 14.2``,
``diam 14.2``, ``diameter 14.2``), in any order. Values are checked against
:data:`~optihub.domain.rx.CONTACT_LENS_RANGES` and the cylinder ⇔ axis pairing. The brand is
never read from the text (the lens name travels separately). A contact lens has no prism.

The canonical form (:func:`format_contact_lens_rx`) is
``<power> [<cylinder> x <axis>] [add <add>] [BC <bc>] [DIA <dia>]`` with every number to two
decimals and ``pl`` for a zero power, e.g. ``-2.00 BC 8.60 DIA 14.20`` or
``-1.25 -0.75 x 180 BC 8.70 DIA 14.50``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation

from optihub.domain.rx import (
    SPECTACLE_RANGES,
    ContactLensEyeRx,
    ContactLensRx,
    EyeRx,
    Prism,
    check_range,
    validate_contact_lens_rx,
    validate_eye,
)

__all__ = [
    "ContactLensText",
    "RxText",
    "format_contact_lens_rx",
    "format_eye_rx",
    "parse_contact_lens_rx",
    "parse_eye_rx",
]


@dataclass(frozen=True)
class RxText:
    """A spectacle eye read from text: the values, or why the text does not read as an Rx."""

    eye: EyeRx | None
    problem: str | None


@dataclass(frozen=True)
class ContactLensText:
    """A contact-lens eye read from text: the values, or why the text does not read."""

    eye: ContactLensEyeRx | None
    problem: str | None


NO_TEXT = "No prescription text."

_CENT = Decimal("0.01")
_CONTEXT = Context(prec=60)

_TOKEN = re.compile(
    r"""
    (?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?![.0-9])
    |(?P<word>[A-Za-z]+)
    |(?P<sym>[×Δδ∆^°])
    |(?P<sep>[\s/,;:]+)
    |(?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_DECIMAL_COMMA = re.compile(r"[0-9],[0-9]")

_SPHERE_WORDS = frozenset({"ds", "sph", "sphere"})
_CYLINDER_WORDS = frozenset({"dc", "cyl", "cylinder"})
_AXIS_WORDS = frozenset({"x", "ax", "axis", "×"})
_UNIT_WORDS = frozenset({"d", "dpt"})
_PLANO_WORDS = frozenset({"pl", "plano"})
_PRISM_MARKERS = frozenset({"pd", "prism", "prisms", "Δ", "δ", "∆", "^"})
_SHORT_BASES = {"bi": "in", "bo": "out", "bu": "up", "bd": "down"}
_BASE_DIRECTIONS = frozenset({"in", "out", "up", "down"})
_POWER_WORDS = frozenset({"power", "pwr"})
_DIAMETER_WORDS = frozenset({"dia", "diam", "diameter"})
_ADD = frozenset({"add"})
_BASE = frozenset({"base"})
_CURVE = frozenset({"curve"})
_DEGREE_WORDS = frozenset({"°", "deg", "degrees"})
_BASE_NAMES = {"in": "BI", "out": "BO", "up": "BU", "down": "BD"}

_LABELS = {
    "sphere": "Sphere",
    "cylinder": "Cylinder",
    "axis": "Axis",
    "add": "Add",
    "prism_horizontal": "Horizontal prism",
    "prism_vertical": "Vertical prism",
    "base_curve": "Base curve",
    "diameter": "Diameter",
}


class _Unreadable(Exception):
    """The text does not read as an Rx; the message says why."""


@dataclass(frozen=True)
class _Token:
    kind: str  # num, word (lower case; symbols count as words) or bad
    text: str
    start: int


def _tokens(text: str) -> list[_Token]:
    # "base-in" is "base in"; a minus before a number stays a sign.
    text = text.replace("−", "-").replace("–", "-")
    text = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text)
    out: list[_Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "bad"
        if kind == "sep":
            continue
        value = match.group()
        if kind in ("word", "sym"):
            out.append(_Token("word", value.lower(), match.start()))
        else:
            out.append(_Token(kind, value, match.start()))
    return out


def _decimal(text: str) -> Decimal:
    """The number as written, quantized to 0.01 (a huge number is kept for the range check)."""
    number = Decimal(text)
    if number.adjusted() < 20:
        number = number.quantize(_CENT, context=_CONTEXT)
    # A written "-0.00" is plain zero.
    return number.copy_abs() if number.is_zero() else number


def _axis(text: str) -> int:
    number = Decimal(text)
    if number.is_zero():
        return 180  # opticians write 0 and 180 alike; the range is 1..180
    if number != number.to_integral_value(context=_CONTEXT) or number.adjusted() > 30:
        violation = check_range("eye.axis", number, SPECTACLE_RANGES["axis"])
        raise _Unreadable(violation[0].message if violation else "Axis must be whole degrees.")
    return int(number)


class _Reader:
    """Reads one eye's tokens into named values; raises ``_Unreadable`` on the first problem."""

    def __init__(self, text: str, *, contact_lens: bool) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.contact_lens = contact_lens
        self.values: dict[str, object] = {}

    # -- token helpers ------------------------------------------------------------------------

    def _peek(self, ahead: int = 0) -> _Token | None:
        index = self.at + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def _word_is(self, words: frozenset[str] | dict[str, str], ahead: int = 0) -> bool:
        token = self._peek(ahead)
        return token is not None and token.kind == "word" and token.text in words

    def _next(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _snippet(self, token: _Token) -> str:
        start = token.start
        end = start + 1
        while start > 0 and not self.text[start - 1].isspace():
            start -= 1
        while end < len(self.text) and not self.text[end].isspace():
            end += 1
        return self.text[start:end][:40]

    def _number_after(self, what: str) -> _Token:
        token = self._peek()
        if token is None or token.kind != "num":
            raise _Unreadable(f"{what} needs a number after it.")
        return self._next()

    def _set(self, name: str, value: object) -> None:
        if name in self.values:
            raise _Unreadable(f"{_LABELS[name]} is written twice.")
        self.values[name] = value

    # -- grammar ------------------------------------------------------------------------------

    def read(self) -> dict[str, object]:
        if not self.tokens:
            raise _Unreadable("No prescription values in the text.")
        while self._peek() is not None:
            self._item()
        return self.values

    def _item(self) -> None:
        token = self._next()
        if token.kind == "num":
            self._after_number(token)
            return
        if token.kind == "bad":
            raise _Unreadable(f"Cannot read “{self._snippet(token)}” as part of an Rx.")
        word = token.text
        if word in _PLANO_WORDS:
            self._power(Decimal("0.00"), explicit_sphere=True)
            if self._word_is(_SPHERE_WORDS) or self._word_is(_UNIT_WORDS):
                self._next()
        elif word == "add":
            self._set("add", _decimal(self._number_after("Add").text))
        elif word in _AXIS_WORDS:
            self._read_axis()
        elif word == "prism":
            self._prism(self._number_after("Prism"), marked=True)
        elif self.contact_lens and word in _POWER_WORDS:
            self._power(_decimal(self._number_after("Power").text), explicit_sphere=True)
        elif word == "bc" or (word == "base" and self._word_is(_CURVE)):
            if not self.contact_lens:
                raise _Unreadable("A base curve belongs to a contact-lens Rx, not spectacles.")
            if word == "base":
                self._next()
            self._set("base_curve", _decimal(self._number_after("Base curve").text))
        elif word in _DIAMETER_WORDS:
            if not self.contact_lens:
                raise _Unreadable("A diameter belongs to a contact-lens Rx, not spectacles.")
            self._set("diameter", _decimal(self._number_after("Diameter").text))
        elif word in ("balance", "bal"):
            raise _Unreadable("A balance lens has no powers of its own to read.")
        else:
            raise _Unreadable(f"Cannot read “{self._snippet(token)}” as part of an Rx.")

    def _after_number(self, token: _Token) -> None:
        # "+2.00 add", unless the add's own number follows ("-2.00 add +2.00" is not this).
        if self._word_is(_ADD):
            following = self._peek(1)
            if following is None or following.kind != "num":
                self._next()
                self._set("add", _decimal(token.text))
                return
        base_curve = self._word_is(_BASE) and self._word_is(_CURVE, 1)
        if (
            self._word_is(_PRISM_MARKERS)
            or self._word_is(_SHORT_BASES)
            or (self._word_is(_BASE) and not base_curve)
        ):
            self._prism(token, marked=False)
            return
        value = _decimal(token.text)
        if self._word_is(_SPHERE_WORDS):
            self._next()
            self._power(value, explicit_sphere=True)
        elif self._word_is(_CYLINDER_WORDS):
            self._next()
            self._set("cylinder", value)
        else:
            if self._word_is(_UNIT_WORDS):
                self._next()
            if self._word_is(_AXIS_WORDS):
                self._set("cylinder", value)
            else:
                self._power(value, explicit_sphere=False)

    def _power(self, value: Decimal, *, explicit_sphere: bool) -> None:
        """A sphere, or — for a second unmarked number — the cylinder."""
        if explicit_sphere or ("sphere" not in self.values and "cylinder" not in self.values):
            self._set("sphere", value)
        elif "cylinder" not in self.values:
            self._set("cylinder", value)
        else:
            raise _Unreadable(
                f"Cannot tell what “{value}” is: sphere and cylinder are already written."
            )

    def _read_axis(self) -> None:
        self._set("axis", _axis(self._number_after("Axis").text))
        if self._word_is(_DEGREE_WORDS):
            self._next()

    def _prism(self, amount_token: _Token, *, marked: bool) -> None:
        amount = _decimal(amount_token.text)
        if self.contact_lens:
            raise _Unreadable("A contact-lens Rx has no prism.")
        while self._word_is(_PRISM_MARKERS):
            self._next()
            marked = True
        base: str | None = None
        if self._word_is(_SHORT_BASES):
            base = _SHORT_BASES[self._next().text]
        elif self._word_is(_BASE):
            self._next()
            if not self._word_is(_BASE_DIRECTIONS):
                raise _Unreadable("Prism base must be in, out, up or down.")
            base = self._next().text
        elif marked and self._word_is(_BASE_DIRECTIONS):
            base = self._next().text
        if base is None:
            raise _Unreadable(f"Prism {amount} needs a base (BI, BO, BU or BD).")
        name = "prism_horizontal" if base in ("in", "out") else "prism_vertical"
        self._set(name, Prism(amount, base))


def _read(text: str, *, contact_lens: bool) -> tuple[dict[str, object] | None, str | None]:
    if not text.strip():
        return None, NO_TEXT
    if _DECIMAL_COMMA.search(text):
        return None, "Write decimals with a point (-2.25, not -2,25)."
    try:
        return _Reader(text, contact_lens=contact_lens).read(), None
    except _Unreadable as problem:
        return None, str(problem)
    except (InvalidOperation, ValueError, OverflowError):
        return None, "Cannot read the numbers of the text as an Rx."


def parse_eye_rx(text: str) -> RxText:
    """One spectacle eye from free text, checked like every Rx; never raises."""
    values, problem = _read(text, contact_lens=False)
    if values is None:
        return RxText(None, problem or NO_TEXT)
    eye = EyeRx(**values)  # type: ignore[arg-type]
    violations = validate_eye(eye, "eye")
    if violations:
        return RxText(None, " ".join(v.message for v in violations))
    return RxText(eye, None)


def parse_contact_lens_rx(text: str) -> ContactLensText:
    """One contact-lens eye from free text, checked against the contact-lens ranges."""
    values, problem = _read(text, contact_lens=True)
    if values is None:
        return ContactLensText(None, problem or NO_TEXT)
    if "sphere" in values:
        values["power"] = values.pop("sphere")
    eye = ContactLensEyeRx(**values)  # type: ignore[arg-type]
    violations = validate_contact_lens_rx(ContactLensRx(right=eye))
    if violations:
        return ContactLensText(None, " ".join(v.message for v in violations))
    return ContactLensText(eye, None)


# -- writing -----------------------------------------------------------------------------------


def _signed(value: Decimal) -> str:
    text = format(value, "+.2f")
    return "+0.00" if text == "-0.00" else text


def _powers(sphere: Decimal | None, cylinder: Decimal | None, axis: int | None) -> list[str]:
    """Sphere, cylinder and axis in the canonical order and markings."""
    parts: list[str] = []
    if sphere is not None:
        parts.append("pl" if _signed(sphere) == "+0.00" else _signed(sphere))
        if cylinder is None:
            parts.append("DS")
    if cylinder is not None:
        parts.append(_signed(cylinder))
        if sphere is None:
            parts.append("DC")
    if axis is not None:
        parts.append(f"x {axis:03d}")
    return parts


def format_eye_rx(eye: EyeRx) -> str:
    """The canonical text of one spectacle eye's lens powers (see the module docstring).

    Raises ``ValueError`` for a prism whose base is not in, out, up or down.
    """
    parts = _powers(eye.sphere, eye.cylinder, eye.axis)
    if eye.add is not None:
        parts.append(f"add {_signed(eye.add)}")
    for prism in (eye.prism_horizontal, eye.prism_vertical):
        if prism is None:
            continue
        if prism.base not in _BASE_NAMES:
            raise ValueError(f"Prism base must be in, out, up or down, not {prism.base!r}.")
        parts.append(f"{format(prism.amount, '.2f')} {_BASE_NAMES[prism.base]}")
    return " ".join(parts)


def format_contact_lens_rx(eye: ContactLensEyeRx) -> str:
    """The canonical text of one contact-lens eye (see the module docstring); no brand."""
    parts = _powers(eye.power, eye.cylinder, eye.axis)
    if eye.power is not None and eye.cylinder is None and eye.axis is None:
        parts.remove("DS")  # a contact-lens power is written bare: "-2.00 BC 8.60"
    if eye.add is not None:
        parts.append(f"add {_signed(eye.add)}")
    if eye.base_curve is not None:
        parts.append(f"BC {format(eye.base_curve, '.2f')}")
    if eye.diameter is not None:
        parts.append(f"DIA {format(eye.diameter, '.2f')}")
    return " ".join(parts)
