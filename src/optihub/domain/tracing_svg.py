"""Draw decoded frame traces as a standalone, accessible SVG (pure string building).

Guarantees of :func:`render_outline_svg`:

* The result is a complete, well-formed XML document fragment: one ``<svg>`` element in the
  SVG namespace with ``role="img"``, a ``<title>`` (first child) and a ``<desc>`` that it
  names in ``aria-labelledby``, and exactly one ``<path>`` per eye given. Every piece of
  caller text (title, stroke colour) is XML-escaped, and characters XML cannot hold
  become U+FFFD.
* Drawing units are millimetres. The frame is seen from the front, as an optician holds it:
  the right eye is drawn on the viewer's left, the left eye on the viewer's right, and
  y is flipped so that up on the frame is up on screen. Both boxing centres sit on the same
  horizontal line, and the horizontal gap between the right shape's nasal edge and the left
  shape's nasal edge is ``dbl_mm`` when given (otherwise a nominal gap, said so in
  ``<desc>``).
* The ``viewBox`` contains every drawn point plus a small margin; the stroke width is in
  screen pixels (``vector-effect="non-scaling-stroke"``) whatever the scale.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping

from optihub.domain.oma import Trace

__all__ = ["SVG_NAMESPACE", "render_outline_svg"]

SVG_NAMESPACE = "http://www.w3.org/2000/svg"

_EYE_NAMES = {"R": "right", "L": "left"}
_NOMINAL_GAP_RATIO = 0.35  # bridge drawn when no DBL is given, as a share of the widest box
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Characters XML 1.0 forbids even when escaped (control characters, lone surrogates, ...).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_outline_svg(
    traces: Mapping[str, Trace],
    *,
    dbl_mm: float | None = None,
    width_px: float = 480,
    stroke: str = "#1f2933",
    stroke_width_px: float = 1.5,
    title: str | None = None,
    id_prefix: str = "oma-outline",
) -> str:
    """Render the outline of one or both eyes as an SVG string.

    ``traces`` maps ``"R"`` and/or ``"L"`` to a trace (as :func:`optihub.domain.oma.outline`
    returns). ``dbl_mm`` is the bridge (distance between lenses). ``width_px`` sets the
    ``width`` attribute; ``height`` follows the drawing's aspect ratio. ``id_prefix`` makes
    the ``id`` attributes unique when several SVGs share a page.

    Raises :class:`ValueError` for no traces, keys other than ``R``/``L``, a non-positive
    width or stroke width, a negative or non-finite bridge, or an ``id_prefix`` that is
    not a valid XML name.
    """
    if not traces:
        raise ValueError("no traces to draw")
    unknown = sorted(set(traces) - set(_EYE_NAMES))
    if unknown:
        raise ValueError(f"trace keys must be 'R' or 'L', not {unknown}")
    if not (math.isfinite(width_px) and width_px > 0):
        raise ValueError("width_px must be a positive number")
    if not (math.isfinite(stroke_width_px) and stroke_width_px > 0):
        raise ValueError("stroke_width_px must be a positive number")
    if dbl_mm is not None and not (math.isfinite(dbl_mm) and dbl_mm >= 0):
        raise ValueError("dbl_mm must be a non-negative number")
    if not _ID.fullmatch(id_prefix):
        raise ValueError(f"id_prefix {id_prefix!r} is not a valid XML name")

    points = {side: traces[side].cartesian() for side in ("R", "L") if side in traces}
    offsets = dict.fromkeys(points, 0.0)
    gap: float | None = None
    if "R" in points and "L" in points:
        widest = max(traces["R"].box_width, traces["L"].box_width)
        gap = dbl_mm if dbl_mm is not None else _NOMINAL_GAP_RATIO * widest
        right_nasal = max(x for x, _ in points["R"])
        left_nasal = min(x for x, _ in points["L"])
        offsets["L"] = right_nasal + gap - left_nasal

    # Screen coordinates in mm: shift each eye, flip y so that up is up.
    drawn = {side: [(x + offsets[side], -y) for x, y in pts] for side, pts in points.items()}
    xs = [x for pts in drawn.values() for x, _ in pts]
    ys = [y for pts in drawn.values() for _, y in pts]
    min_x, max_x, min_y, max_y = min(xs), max(xs), min(ys), max(ys)
    margin = 1.0 + 0.04 * max(max_x - min_x, max_y - min_y)
    # Round the box outwards so the rounded numbers still contain every point.
    vb_x = math.floor((min_x - margin) * 100) / 100
    vb_y = math.floor((min_y - margin) * 100) / 100
    vb_w = math.ceil((max_x + margin - vb_x) * 100) / 100
    vb_h = math.ceil((max_y + margin - vb_y) * 100) / 100
    height_px = width_px * vb_h / vb_w

    eyes = " and ".join(f"{_EYE_NAMES[side]} eye" for side in drawn)
    heading = title if title is not None else f"Frame outline, front view: {eyes}"
    facts = [
        f"{_EYE_NAMES[side].capitalize()} eye (drawn on the viewer's"
        f" {'left' if side == 'R' else 'right'}): box {traces[side].box_width:.2f} ×"
        f" {traces[side].box_height:.2f} mm, circumference {traces[side].circumference:.2f} mm."
        for side in drawn
    ]
    if gap is not None:
        facts.append(
            f"Bridge (DBL) {gap:.2f} mm."
            if dbl_mm is not None
            else "Bridge not given: the gap between the lenses is not to scale."
        )

    p = id_prefix
    lines = [
        f'<svg xmlns="{SVG_NAMESPACE}" viewBox="{_n(vb_x)} {_n(vb_y)} {_n(vb_w)} {_n(vb_h)}"'
        f' width="{_n(width_px)}" height="{_n(height_px)}" role="img"'
        f' aria-labelledby="{p}-title {p}-desc">',
        f'<title id="{p}-title">{_text(heading)}</title>',
        f'<desc id="{p}-desc">{_text(" ".join(facts))}</desc>',
    ]
    for side, pts in drawn.items():
        name = _EYE_NAMES[side]
        first, *rest = pts
        d = f"M{_n(first[0])},{_n(first[1])}"
        if rest:
            d += " L" + " ".join(f"{_n(x)},{_n(y)}" for x, y in rest)
        d += " Z"
        lines.append(
            f'<path id="{p}-{name}" data-side="{side}" d="{d}" fill="none"'
            f' stroke="{_attr(stroke)}" stroke-width="{_n(stroke_width_px)}"'
            f' stroke-linejoin="round" vector-effect="non-scaling-stroke">'
            f"<title>{name.capitalize()} eye</title></path>"
        )
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def _n(value: float) -> str:
    """A number with at most two decimals, without a trailing ``.0`` or a ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(value: str) -> str:
    """Escape caller text for element content; characters XML cannot hold become U+FFFD."""
    return html.escape(_NOT_XML.sub("\ufffd", value), quote=False)


def _attr(value: str) -> str:
    """Escape caller text for a double-quoted attribute value."""
    return html.escape(_NOT_XML.sub("\ufffd", value), quote=True)
