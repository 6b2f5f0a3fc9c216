"""OMA / DCS frame-tracing files: a lossless record model plus decoded traces.

The Vision Council's Data Communication Standard ("OMA" files) is a list of ``LABEL=value``
records, one per line. This module is pure: it works on strings only (no file or network
I/O) and uses nothing outside the standard library.

Guarantees
----------
* :func:`parse` keeps every record, in order, with its value exactly as written (empty, a
  single space, ``?``, commas inside chiral ``right;left`` values, leading zeros, ...).
  CRLF, LF and lone CR are all accepted as line ends; empty lines at the very end of the
  text are ignored (they are not records), an empty line anywhere else is an error.
* :func:`format_oma` writes every record as ``LABEL=value`` followed by CRLF, in the
  original order, so ``parse(format_oma(doc)) == doc`` for every document, and for a
  well-formed file ``format_oma(parse(text))`` is ``text`` with its line ends turned into
  CRLF.
* A data record (``R=``, ``A=``, ``T=``, ``Z=``, ``ZA=``) always belongs to the block whose
  announcing record (``TRCFMT``, ``STHKFMT``, ``ZFMT``) it follows: the ``R=`` radii of a
  ``STHKFMT`` block are never mistaken for a trace. Format-1 blocks must carry exactly the
  announced number of integer values per data label.
* Every structural problem raises :class:`OmaFormatError` (a :class:`ValueError`) whose
  ``record`` names the offending label and line (a record's line is its 1-based position,
  which is its line in the parsed text). Numbers that merely disagree (a recorded
  ``HBOX`` that the radii do not reproduce) are reported by
  :meth:`OmaDocument.consistency_warnings`, never raised.
* Only trace format 1 (ASCII absolute radii) is decoded. Any other format parses and
  round-trips as raw records, but decoding it raises :class:`OmaFormatError` naming the
  format and the side. (Nidek's format 6, as in the test files, is one ``R=`` value of
  hex-encoded base64 holding a 4-byte little-endian length and a high-entropy payload of
  16-byte blocks that is neither zlib, LZMA nor bzip2: it looks encrypted or compressed
  with a vendor scheme, and no decoding could be checked against the file's own
  ``HBOX``/``VBOX``/``CIRC``, so it is refused rather than guessed.)

Geometry
--------
Radii are integers in 1/100 mm measured from the boxing centre; with equal spacing (``E``)
point *i* of *N* lies at ``360·i/N`` degrees, with unequal spacing (``U``) at the angle of
the matching ``A=`` value (1/100 degree). Angles run counter-clockwise from 3 o'clock as
the frame is seen from the front, so the left eye is the right eye mirrored about the
vertical axis: ``L[i] = R[(N/2 − i) mod N]``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

__all__ = [
    "ANNOUNCING_LABELS",
    "DATA_LABELS",
    "RECORDED_FIGURE_LABELS",
    "SIDE_NAMES",
    "TRACE_TYPES",
    "Block",
    "OmaDocument",
    "OmaFormatError",
    "Record",
    "Trace",
    "format_oma",
    "is_mirror",
    "outline",
    "parse",
]

SIDE_NAMES: dict[str, str] = {"R": "right", "L": "left", "B": "both"}
"""Side letters of a block header and the words used for them in messages."""

TRACE_TYPES: dict[str, str] = {"F": "frame", "P": "pattern", "D": "demo lens"}
"""Trace type letters of a ``TRCFMT`` header (other letters are kept as written)."""

ANNOUNCING_LABELS: frozenset[str] = frozenset({"TRCFMT", "STHKFMT", "ZFMT"})
"""Labels that open a block owning the data records that follow them."""

DATA_LABELS: frozenset[str] = frozenset({"R", "A", "T", "Z", "ZA"})
"""Labels that only make sense inside a block; outside one they are an error."""

# Data labels owned by each kind of block, per spacing.
_OWNED: dict[tuple[str, str], tuple[str, ...]] = {
    ("TRCFMT", "E"): ("R",),
    ("TRCFMT", "U"): ("R", "A"),
    ("STHKFMT", "E"): ("R", "T"),
    ("STHKFMT", "U"): ("R", "T", "A"),
    ("ZFMT", "E"): ("Z",),
    ("ZFMT", "U"): ("Z", "ZA"),
}

_FORMAT_NAMES: dict[int, str] = {
    1: "ASCII absolute",
    2: "binary absolute",
    3: "binary differential",
    4: "packed binary",
    5: "ASCII differential",
    6: "Nidek's ASCII differential",
}

RECORDED_FIGURE_LABELS: tuple[str, ...] = ("HBOX", "VBOX", "CIRC")
"""Recorded frame figures the traces can reproduce: box width, box height, circumference."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_RESAMPLE_STEPS = 360  # dense traces are measured on a 1-degree grid (Trace.circumference)
RADIUS_UNIT_MM = 0.01
ANGLE_UNIT_DEG = 0.01


class OmaFormatError(ValueError):
    """A record or block that breaks the format.

    ``label`` is the offending record's label, ``line`` its 1-based line number (the record's
    position in the document), and ``record`` both together, e.g. ``"R (line 57)"``. The
    message starts with that same reference.
    """

    def __init__(self, message: str, *, label: str | None = None, line: int | None = None):
        self.label = label
        self.line = line
        if label is not None and line is not None:
            self.record: str | None = f"{label} (line {line})"
        elif label is not None:
            self.record = label
        elif line is not None:
            self.record = f"line {line}"
        else:
            self.record = None
        super().__init__(f"{self.record}: {message}" if self.record else message)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Record:
    """One ``LABEL=value`` line. The value is kept exactly as written.

    The label is non-empty and contains no ``=``; neither part contains CR or LF. Beyond
    that nothing is normalised: whitespace, ``?`` and empty values are significant.
    """

    label: str
    value: str

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("a record needs a non-empty label")
        if "=" in self.label:
            raise ValueError(f"label {self.label!r} contains '='")
        for part in (self.label, self.value):
            if "\r" in part or "\n" in part:
                raise ValueError(f"record {self.label!r} contains a line break")

    @property
    def fields(self) -> tuple[str, ...]:
        """The value split at every ``;`` (a value without ``;`` is one field)."""
        return tuple(self.value.split(";"))

    def chiral(self) -> tuple[str, str]:
        """``(right, left)`` of a ``right;left`` value; a single value applies to both eyes.

        Raises :class:`ValueError` when the value has more than one ``;`` (it is then a list,
        e.g. ``XSTATUS`` or ``DRILLE``, not a chiral pair).
        """
        parts = self.value.split(";")
        if len(parts) == 1:
            return parts[0], parts[0]
        if len(parts) == 2:
            return parts[0], parts[1]
        raise ValueError(f"{self.label}={self.value!r} is not a right;left value")

    def __str__(self) -> str:
        return f"{self.label}={self.value}"


# --------------------------------------------------------------------------- traces


@dataclass(frozen=True, slots=True)
class Trace:
    """A decoded frame/pattern/demo-lens trace of one side.

    ``radii`` are in 1/100 mm from the boxing centre; ``angles`` (only with unequal spacing
    ``U``) in 1/100 degree, strictly increasing within ``[0, 36000)``. Construction checks
    that the lengths match ``point_count`` and raises :class:`ValueError` otherwise. Derived
    figures are in millimetres and use the Cartesian points of :meth:`cartesian`.
    """

    format: int
    point_count: int
    spacing: str
    side: str
    type: str
    radii: tuple[int, ...]
    angles: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.point_count < 1:
            raise ValueError("a trace needs at least one point")
        if len(self.radii) != self.point_count:
            raise ValueError(f"{len(self.radii)} radii for {self.point_count} points")
        if any(r < 0 for r in self.radii):
            raise ValueError("radii must not be negative")
        if self.spacing == "E":
            if self.angles is not None:
                raise ValueError("equally spaced traces carry no angles")
        elif self.spacing == "U":
            if self.angles is None or len(self.angles) != self.point_count:
                raise ValueError("an unequally spaced trace needs one angle per point")
            _check_angles(self.angles)
        else:
            raise ValueError(f"spacing must be 'E' or 'U', not {self.spacing!r}")
        if self.side not in SIDE_NAMES:
            raise ValueError(f"side must be R, L or B, not {self.side!r}")

    # -- description

    @property
    def format_name(self) -> str:
        """What the trace format number means, e.g. ``ASCII absolute`` for format 1."""
        return _FORMAT_NAMES.get(self.format, f"unknown format {self.format}")

    @property
    def type_name(self) -> str:
        """``frame``, ``pattern`` or ``demo lens`` (another type letter as written)."""
        return TRACE_TYPES.get(self.type, self.type)

    # -- points

    def angle_degrees(self, index: int) -> float:
        """The angle of point ``index`` in degrees (``360·i/N`` with equal spacing)."""
        if self.angles is None:
            return 360.0 * index / self.point_count
        return self.angles[index] * ANGLE_UNIT_DEG

    def points(self) -> list[tuple[float, float]]:
        """``(angle_degrees, radius_mm)`` for every point, in recorded order."""
        return [(self.angle_degrees(i), r * RADIUS_UNIT_MM) for i, r in enumerate(self.radii)]

    def cartesian(self) -> list[tuple[float, float]]:
        """``(x, y)`` in mm from the boxing centre: x to 3 o'clock, y up (front view)."""
        return [_polar(angle, radius) for angle, radius in self.points()]

    # -- derived figures

    @property
    def box_width(self) -> float:
        """Horizontal box size (``HBOX``): max x − min x of the points, in mm."""
        xs = [x for x, _ in self.cartesian()]
        return max(xs) - min(xs)

    @property
    def box_height(self) -> float:
        """Vertical box size (``VBOX``): max y − min y of the points, in mm."""
        ys = [y for _, y in self.cartesian()]
        return max(ys) - min(ys)

    @property
    def effective_diameter(self) -> float:
        """Twice the largest radius, in mm."""
        return 2 * max(self.radii) * RADIUS_UNIT_MM

    @property
    def polygon_perimeter(self) -> float:
        """Length of the closed polygon through the recorded points, in mm."""
        return _perimeter(self.cartesian())

    @property
    def circumference(self) -> float:
        """Circumference (``CIRC``) in mm: the closed polygon, at most one point per degree.

        A trace of up to 360 points is measured as recorded (:attr:`polygon_perimeter`).
        A denser one is first reduced to a 1° grid, the radius at each whole degree being
        interpolated linearly in angle between its two recorded neighbours: summed point by
        point, the 0.01 mm rounding of dense radii zig-zags the outline and lengthens it
        (by 0.045–0.063 mm on the 1000-point test files, whose recorded ``CIRC`` the 1° grid
        reproduces within 0.005 mm).
        """
        if self.point_count <= _RESAMPLE_STEPS:
            return self.polygon_perimeter
        step = 360.0 / _RESAMPLE_STEPS
        return _perimeter(
            [_polar(j * step, self.radius_at(j * step)) for j in range(_RESAMPLE_STEPS)]
        )

    def radius_at(self, angle_degrees: float) -> float:
        """The radius in mm at any angle, interpolated linearly between recorded points."""
        n = self.point_count
        theta = angle_degrees % 360.0
        if self.angles is None:
            position = theta * n / 360.0
            i = math.floor(position)
            fraction = position - i
            r0, r1 = self.radii[i % n], self.radii[(i + 1) % n]
        else:
            degrees = [a * ANGLE_UNIT_DEG for a in self.angles]
            k = bisect.bisect_right(degrees, theta)
            a0 = degrees[k - 1] if k > 0 else degrees[-1] - 360.0
            a1 = degrees[k] if k < n else degrees[0] + 360.0
            r0, r1 = self.radii[(k - 1) % n], self.radii[k % n]
            fraction = 0.0 if a1 == a0 else (theta - a0) / (a1 - a0)
        return (r0 + (r1 - r0) * fraction) * RADIUS_UNIT_MM

    # -- transformations

    def mirrored(self) -> Trace:
        """The same shape mirrored about the vertical axis, side ``R``↔``L`` (``B`` stays).

        Equal spacing needs an even point count (``L[i] = R[(N/2 − i) mod N]``); an odd one
        raises :class:`ValueError`. Unequal angles map to ``180° − a`` and are re-sorted.
        """
        n = self.point_count
        side = {"R": "L", "L": "R"}.get(self.side, self.side)
        if self.angles is None:
            if n % 2:
                raise ValueError("mirroring an equally spaced trace needs an even point count")
            radii = tuple(self.radii[(n // 2 - i) % n] for i in range(n))
            return Trace(self.format, n, "E", side, self.type, radii)
        pairs = sorted(
            ((18000 - a) % 36000, r) for a, r in zip(self.angles, self.radii, strict=True)
        )
        return Trace(
            self.format,
            n,
            "U",
            side,
            self.type,
            tuple(r for _, r in pairs),
            tuple(a for a, _ in pairs),
        )

    def to_records(self, per_line: int = 10) -> list[Record]:
        """The ``TRCFMT`` record and its ``R=`` (and ``A=``) records, ``per_line`` values each.

        Only format 1 can be written; any other raises :class:`ValueError`.
        """
        if self.format != 1:
            raise ValueError(f"only TRCFMT 1 can be written, not {self.format}")
        if per_line < 1:
            raise ValueError("per_line must be at least 1")
        header = f"1;{self.point_count};{self.spacing};{self.side};{self.type}"
        records = [Record("TRCFMT", header)]
        records += _chunked("R", self.radii, per_line)
        if self.angles is not None:
            records += _chunked("A", self.angles, per_line)
        return records


def is_mirror(right: Trace, left: Trace, *, tolerance: int = 0) -> bool:
    """Whether ``left`` is ``right`` mirrored about the vertical axis.

    True when both have the same point count and spacing and, for equal spacing with an even
    count, ``|left.radii[i] − right.radii[(N/2 − i) mod N]| <= tolerance`` for every i
    (``tolerance`` in 1/100 mm; 0 means identical radii). For unequal spacing the mirrored
    angles of ``right`` must equal those of ``left`` exactly and the radii match as above.
    Shapes that cannot be compared this way (different counts or spacing, odd equal-spaced
    counts) give False.
    """
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    if right.point_count != left.point_count or right.spacing != left.spacing:
        return False
    if right.angles is None and right.point_count % 2:
        return False
    mirror = right.mirrored()
    return mirror.angles == left.angles and all(
        abs(a - b) <= tolerance for a, b in zip(mirror.radii, left.radii, strict=True)
    )


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True, slots=True)
class Block:
    """A ``TRCFMT`` / ``STHKFMT`` / ``ZFMT`` record and the data records it owns.

    ``line`` is the announcing record's 1-based line. ``records`` are the owned data records
    in file order. ``values`` holds, for format 1 only, the integers of each owned data
    label (exactly ``point_count`` of each); it is empty for other formats.
    """

    kind: str
    line: int
    header: Record
    format: int
    point_count: int
    spacing: str
    side: str
    type: str
    records: tuple[Record, ...]
    values: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())

    @property
    def side_name(self) -> str:
        """``right``, ``left`` or ``both``."""
        return SIDE_NAMES[self.side]

    def data(self, label: str) -> tuple[int, ...]:
        """The decoded integers of one owned data label (empty if none or not format 1)."""
        for owned, numbers in self.values:
            if owned == label:
                return numbers
        return ()

    def trace(self) -> Trace:
        """Decode a ``TRCFMT`` block into a :class:`Trace`.

        Raises :class:`OmaFormatError` naming the format and side for any format but 1, and
        for blocks that are not ``TRCFMT``.
        """
        if self.kind != "TRCFMT":
            raise OmaFormatError(
                f"a {self.kind} block is not a trace", label=self.kind, line=self.line
            )
        if self.format != 1:
            if self.format in _FORMAT_NAMES:
                reason = (
                    "binary/differential trace formats are not supported"
                    f" (format {self.format} is {_FORMAT_NAMES[self.format]};"
                    " only format 1, ASCII absolute, is decoded)"
                )
            else:
                reason = "unknown trace format (only format 1, ASCII absolute, is decoded)"
            raise OmaFormatError(
                f"TRCFMT {self.format} ({self.side_name}): {reason}",
                label="TRCFMT",
                line=self.line,
            )
        angles = self.data("A") if self.spacing == "U" else None
        return Trace(
            self.format,
            self.point_count,
            self.spacing,
            self.side,
            self.type,
            self.data("R"),
            angles,
        )


# --------------------------------------------------------------------------- document


class OmaDocument:
    """An OMA file as an ordered, immutable sequence of :class:`Record` plus its blocks.

    Building one (from :func:`parse` or directly from records) checks the block structure
    and raises :class:`OmaFormatError` if it is broken, so every document is well-formed.
    Two documents are equal when their records are equal, in order.
    """

    __slots__ = ("_blocks", "_records")

    def __init__(self, records: Iterable[Record]) -> None:
        self._records: tuple[Record, ...] = tuple(records)
        self._blocks: tuple[Block, ...] = _find_blocks(self._records)

    @property
    def records(self) -> tuple[Record, ...]:
        """Every record, in order."""
        return self._records

    @property
    def blocks(self) -> tuple[Block, ...]:
        """Every ``TRCFMT`` / ``STHKFMT`` / ``ZFMT`` block, in order."""
        return self._blocks

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OmaDocument):
            return NotImplemented
        return self._records == other._records

    def __hash__(self) -> int:
        return hash(self._records)

    def __repr__(self) -> str:
        return f"OmaDocument({len(self._records)} records, {len(self._blocks)} blocks)"

    def __iter__(self) -> Iterator[Record]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    # -- lookup

    def get(self, label: str) -> str | None:
        """The raw value of the first record with ``label``, or None."""
        return next((r.value for r in self._records if r.label == label), None)

    def get_all(self, label: str) -> list[str]:
        """The raw values of every record with ``label``, in order."""
        return [r.value for r in self._records if r.label == label]

    def trace_blocks(self) -> list[Block]:
        """The ``TRCFMT`` blocks, in order (decodable or not)."""
        return [b for b in self._blocks if b.kind == "TRCFMT"]

    def traces(self) -> list[Trace]:
        """Every ``TRCFMT`` block decoded, in order; raises :class:`OmaFormatError` on the
        first block whose format is not decoded."""
        return [b.trace() for b in self.trace_blocks()]

    def recorded_figures(
        self, labels: Sequence[str] = RECORDED_FIGURE_LABELS
    ) -> dict[str, dict[str, float]]:
        """The figures the file itself records, per side: ``{"R": {"HBOX": 51.0, ...}, ...}``.

        For each label (by default ``HBOX``, ``VBOX``, ``CIRC``, in mm) a single value applies
        to both eyes and a ``right;left`` value to each eye. Per side, the first record of the
        label that gives a number for that side is used; empty, blank and ``?`` values,
        values that are not numbers and records with more than two fields are skipped (the
        last two are reported by :meth:`consistency_warnings`). A side with no recorded
        figure is left out, so a file without any gives ``{}``. Labels keep their order.
        """
        found: dict[str, dict[str, float]] = {"R": {}, "L": {}}
        for label in labels:
            for record in self._records:
                if record.label != label:
                    continue
                parts = record.value.split(";")
                if len(parts) > 2:
                    continue
                right, left = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
                for side, raw in (("R", right), ("L", left)):
                    text = raw.strip()
                    if label not in found[side] and _DECIMAL.fullmatch(text):
                        found[side][label] = float(text)
        return {side: figures for side, figures in found.items() if figures}

    # -- checks

    def consistency_warnings(self, tolerance_mm: float = 0.01) -> list[str]:
        """Disagreements between recorded ``HBOX``/``VBOX``/``CIRC`` and the traces.

        For each such record a single value applies to every traced side, a ``right;left``
        value to the matching side; empty, blank and ``?`` values are skipped. A figure that
        differs from the first trace of its side by more than ``tolerance_mm`` gives one
        message; so does a value that is not a number, and a side whose trace cannot be
        decoded. Never raises for a parsed document.
        """
        warnings: list[str] = []
        traces: dict[str, Trace] = {}
        for block in self.trace_blocks():
            sides = ("R", "L") if block.side == "B" else (block.side,)
            if any(side in traces for side in sides):
                continue
            try:
                trace = block.trace()
            except OmaFormatError as error:
                warnings.append(f"{error}; recorded HBOX/VBOX/CIRC not checked")
                continue
            for side in sides:
                traces[side] = trace  # the figures checked are the same for a mirror image
        checks = (("HBOX", "box width"), ("VBOX", "box height"), ("CIRC", "circumference"))
        for label, what in checks:
            for line, record in enumerate(self._records, start=1):
                if record.label != label:
                    continue
                parts = record.value.split(";")
                if len(parts) > 2:
                    warnings.append(f"{label} (line {line}): expected one or two values")
                    continue
                per_side = (
                    {"R": parts[0], "L": parts[0]}
                    if len(parts) == 1
                    else {"R": parts[0], "L": parts[1]}
                )
                for side, raw in per_side.items():
                    text = raw.strip()
                    if side not in traces or text in ("", "?"):
                        continue
                    if not _DECIMAL.fullmatch(text):
                        warnings.append(
                            f"{label} (line {line}, {SIDE_NAMES[side]}): {raw!r} is not a number"
                        )
                        continue
                    trace = traces[side]
                    computed = {
                        "HBOX": trace.box_width,
                        "VBOX": trace.box_height,
                        "CIRC": trace.circumference,
                    }[label]
                    if abs(computed - float(text)) > tolerance_mm + 1e-9:
                        warnings.append(
                            f"{label} (line {line}, {SIDE_NAMES[side]}): file records {text} mm,"
                            f" the trace gives {what} {computed:.3f} mm"
                            f" (more than {tolerance_mm} mm apart)"
                        )
        return warnings


def parse(text: str) -> OmaDocument:
    """Parse OMA text into a document.

    One ``LABEL=value`` record per line, split at the first ``=``; line ends may be CRLF,
    LF or CR (mixed is fine). Raises :class:`OmaFormatError` naming the line for a line
    without ``=``, an empty label, and every block error (see :class:`OmaDocument`).
    """
    lines = _LINE_BREAK.split(text)
    while lines and lines[-1] == "":
        lines.pop()
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        label, equals, value = line.partition("=")
        if not equals:
            if not line.strip():
                problem = "is empty" if not line else "is blank"
            else:
                shown = line if len(line) <= 40 else line[:37] + "..."
                problem = f"has no '=' ({shown!r})"
            raise OmaFormatError(
                f"line {number} {problem}; every line must be a LABEL=value record",
                line=number,
            )
        if not label:
            raise OmaFormatError(f"line {number} has an empty label", line=number)
        records.append(Record(label, value))
    return OmaDocument(records)


def format_oma(document: OmaDocument | Iterable[Record]) -> str:
    """Write records as ``LABEL=value`` lines ending in CRLF, in their original order."""
    return "".join(f"{r.label}={r.value}\r\n" for r in document)


def outline(document: OmaDocument) -> dict[str, Trace]:
    """The first trace of each side, keyed ``"R"`` / ``"L"``.

    A trace recorded for both eyes (side ``B``) is used as the right eye and, mirrored, as
    the left (unless a side-specific trace came first). Raises :class:`OmaFormatError` if a
    block that would be used cannot be decoded (or, for side ``B``, mirrored: an odd
    number of equally spaced points); a document without traces gives ``{}``.
    """
    result: dict[str, Trace] = {}
    for block in document.trace_blocks():
        if block.side == "B":
            if "R" in result and "L" in result:
                continue
            trace = block.trace()
            try:
                mirror = trace.mirrored()
            except ValueError as error:
                raise OmaFormatError(
                    f"TRCFMT {block.format} (both): {error}", label="TRCFMT", line=block.line
                ) from None
            result.setdefault("R", replace(trace, side="R"))
            result.setdefault("L", replace(mirror, side="L"))
        elif block.side not in result:
            result[block.side] = block.trace()
    return result


# --------------------------------------------------------------------------- internals


def _polar(angle_degrees: float, radius: float) -> tuple[float, float]:
    theta = math.radians(angle_degrees)
    return radius * math.cos(theta), radius * math.sin(theta)


def _perimeter(points: Sequence[tuple[float, float]]) -> float:
    return sum(math.dist(points[i - 1], points[i]) for i in range(len(points)))


def _check_angles(angles: Sequence[int]) -> None:
    if any(not 0 <= a < 36000 for a in angles):
        raise ValueError("angles must lie in [0, 36000) hundredths of a degree")
    if any(b <= a for a, b in itertools.pairwise(angles)):
        raise ValueError("angles must be strictly increasing")


def _chunked(label: str, numbers: Sequence[int], per_line: int) -> list[Record]:
    return [
        Record(label, ";".join(str(n) for n in numbers[i : i + per_line]))
        for i in range(0, len(numbers), per_line)
    ]


@dataclass
class _OpenBlock:
    kind: str
    line: int
    header: Record
    format: int
    point_count: int
    spacing: str
    side: str
    type: str
    owned: tuple[str, ...]
    records: list[Record] = field(default_factory=list)
    values: dict[str, list[int]] = field(default_factory=dict)
    last_line: dict[str, int] = field(default_factory=dict)

    @property
    def counted(self) -> bool:
        return self.format == 1

    def complete(self) -> bool:
        return self.counted and all(
            len(self.values.get(label, ())) == self.point_count for label in self.owned
        )

    def close(self) -> Block:
        if self.counted:
            for label in self.owned:
                found = len(self.values.get(label, ()))
                if found != self.point_count:
                    # Name the last record of that label, or the header if there was none.
                    raise OmaFormatError(
                        f"{self.header} (line {self.line}) announced {self.point_count} {label}="
                        f" values, found {found}",
                        label=label if found else self.kind,
                        line=self.last_line.get(label, self.line),
                    )
            if self.spacing == "U":
                angle_label = "ZA" if self.kind == "ZFMT" else "A"
                try:
                    _check_angles(self.values[angle_label])
                except ValueError as error:
                    raise OmaFormatError(
                        str(error), label=angle_label, line=self.last_line[angle_label]
                    ) from None
        return Block(
            self.kind,
            self.line,
            self.header,
            self.format,
            self.point_count,
            self.spacing,
            self.side,
            self.type,
            tuple(self.records),
            tuple((label, tuple(self.values.get(label, ()))) for label in self.owned)
            if self.counted
            else (),
        )


def _open_block(record: Record, line: int) -> _OpenBlock:
    fields = record.value.split(";")
    kind = record.label
    wanted = "format;points;spacing;side;type" if kind == "TRCFMT" else "format;points;spacing;side"

    def bad(why: str) -> OmaFormatError:
        return OmaFormatError(
            f"malformed {kind}={record.value!r}: {why} (expected {wanted})", label=kind, line=line
        )

    if kind == "TRCFMT" and len(fields) != 5:
        raise bad(f"{len(fields)} fields")
    if kind != "TRCFMT" and len(fields) not in (4, 5):
        raise bad(f"{len(fields)} fields")
    fmt, points, spacing, side = (f.strip() for f in fields[:4])
    trace_type = fields[4].strip() if len(fields) == 5 else ""
    if not fmt.isascii() or not fmt.isdigit():
        raise bad(f"format {fields[0]!r} is not a number")
    if not points.isascii() or not points.isdigit() or int(points) < 1:
        raise bad(f"point count {fields[1]!r} is not a positive integer")
    if spacing not in ("E", "U"):
        raise bad(f"spacing {fields[2]!r} is not E or U")
    if side not in SIDE_NAMES:
        raise bad(f"side {fields[3]!r} is not R, L or B")
    if kind == "TRCFMT" and not trace_type:
        raise bad("the trace type is empty")
    return _OpenBlock(
        kind,
        line,
        record,
        int(fmt),
        int(points),
        spacing,
        side,
        trace_type,
        _OWNED[(kind, spacing)],
    )


def _find_blocks(records: Sequence[Record]) -> tuple[Block, ...]:
    blocks: list[Block] = []
    current: _OpenBlock | None = None
    last_closed: _OpenBlock | None = None
    for line, record in enumerate(records, start=1):
        label = record.label
        if current is not None and label in current.owned:
            if current.counted:
                _take_values(current, record, line)
                if current.complete():
                    blocks.append(current.close())
                    last_closed, current = current, None
            else:
                current.records.append(record)
            continue
        if current is not None:
            blocks.append(current.close())
            last_closed, current = current, None
        if label in ANNOUNCING_LABELS:
            current = _open_block(record, line)
            last_closed = None
        elif label in DATA_LABELS:
            if last_closed is not None and label in last_closed.owned:
                raise OmaFormatError(
                    f"more {label}= values than the {last_closed.point_count} announced by"
                    f" {last_closed.header} (line {last_closed.line})",
                    label=label,
                    line=line,
                )
            raise OmaFormatError(
                f"{label}= record outside any block (no TRCFMT/STHKFMT/ZFMT announced it)",
                label=label,
                line=line,
            )
        else:
            last_closed = None
    if current is not None:
        blocks.append(current.close())
    return tuple(blocks)


def _take_values(block: _OpenBlock, record: Record, line: int) -> None:
    label = record.label
    numbers = block.values.setdefault(label, [])
    for raw in record.value.split(";"):
        if not _INTEGER.fullmatch(raw.strip()):
            raise OmaFormatError(
                f"{raw!r} is not an integer (format-1 {block.kind} values are integers)",
                label=label,
                line=line,
            )
        number = int(raw)
        if label == "R" and number < 0:
            raise OmaFormatError(f"negative radius {raw!r}", label=label, line=line)
        numbers.append(number)
    if len(numbers) > block.point_count:
        raise OmaFormatError(
            f"more {label}= values than the {block.point_count} announced by {block.header}"
            f" (line {block.line})",
            label=label,
            line=line,
        )
    block.records.append(record)
    block.last_line[label] = line
