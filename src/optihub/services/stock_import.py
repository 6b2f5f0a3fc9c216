"""Stock counts from a CSV file: every row checked first, then all applied or none.

The file names a frame (``sku`` or ``upc``), a ``location`` (its name or external id) and
the ``quantity`` on hand there; a header row is optional (without one the columns are
sku-or-upc, location, quantity), other columns are ignored, the delimiter may be a comma, a
semicolon or a tab. Quantities are set through ``services.frames.apply_stock_changes``: the
partner API's path, with its row locks, audit rows and one ``inventory.updated`` event per
changed frame.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import Frame, FrameStock, Location
from optihub.errors import OptiHubError, ValidationFailed
from optihub.services import audit
from optihub.services.context import Actor
from optihub.services.frames import StockChange, apply_stock_changes
from optihub.services.stock import quantity_problem

MAX_BYTES = 5 * 1024 * 1024
# Measured on the 2-core reference machine (SQLite): 20,000 changed rows take ~13 s, most of
# it the event and audit row each changed frame gets; 50,000 took ~46 s, past what a
# browser or a proxy in front of OptiHub waits for.
MAX_ROWS = 20_000
# Frames per call of apply_stock_changes (SQLite allows 32,766 values in one statement);
# the calls share the caller's transaction, so the import stays all-or-nothing.
_CHUNK = 5_000

# The names a header may give each column (compared lower-cased, "_" and "-" as spaces).
HEADERS: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "frame sku", "item sku", "item", "item number"),
    "upc": ("upc", "barcode", "ean", "gtin", "upc ean"),
    "location": (
        "location",
        "location name",
        "location id",
        "location external id",
        "external id",
        "store",
        "store name",
    ),
    "quantity": ("quantity", "qty", "on hand", "quantity on hand", "stock", "count"),
}
_HEADER_OF = {alias: name for name, aliases in HEADERS.items() for alias in aliases}
POSITIONAL = ("sku", "location", "quantity")


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one row: its line in the file, the column, in plain words."""

    line: int
    field: str
    message: str


@dataclass(frozen=True)
class ImportSummary:
    rows: int
    quantities_changed: int  # rows whose quantity differed from the stored one
    frames_changed: int  # one inventory.updated event each
    locations: int


class ImportRefused(OptiHubError):
    """The file was not applied: ``message`` says why; ``problems`` lists every bad row
    (empty when the whole file was refused: too big, not text, no usable columns)."""

    code = "import_refused"

    def __init__(self, message: str, problems: Iterable[RowProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass
class _Row:
    line: int
    sku: str
    upc: str
    location: str
    quantity: str
    frame_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    problems: list[RowProblem] = field(default_factory=list)

    def problem(self, column: str, message: str) -> None:
        self.problems.append(RowProblem(self.line, column, message))


def import_stock_csv(session: Session, actor: Actor, data: bytes) -> ImportSummary:
    """Set the on-hand quantities the CSV ``data`` lists, all in the caller's transaction.

    Raises ``ImportRefused`` before writing anything when the file is over ``MAX_BYTES`` or
    ``MAX_ROWS``, is not UTF-8 text (a BOM is allowed), lacks a frame or quantity column,
    or when any row is bad: an unknown SKU, UPC or location, a UPC shared by several
    frames, a quantity that is not a whole number from 0 to ``stock.MAX_QUANTITY``, the
    same frame and location twice. Otherwise every row is applied: one
    ``inventory.updated`` event and audit row per frame whose stock changed, and one
    ``stock.imported`` audit row.
    """
    rows = list(_parse(_text_of(data), _locations_required(session, actor)))
    if not rows:
        raise ImportRefused("The file has no rows to import.")
    _resolve(session, actor, rows)
    problems = [p for row in rows for p in row.problems]
    if problems:
        bad = len({p.line for p in problems})
        raise ImportRefused(
            f"{bad:,} of {len(rows):,} rows {'has' if bad == 1 else 'have'} problems: "
            "nothing was changed. Correct them and import the file again.",
            problems,
        )
    changes = [
        StockChange(row.frame_id, row.location_id, quantity=int(row.quantity))
        for row in rows
        if row.frame_id is not None and row.location_id is not None
    ]
    before = _stored(session, actor, {c.frame_id for c in changes})
    differing = sum(1 for c in changes if before.get((c.frame_id, c.location_id), 0) != c.quantity)
    changed: set[uuid.UUID] = set()
    for chunk in _by_frames(changes):
        try:
            changed.update(frame.id for frame in apply_stock_changes(session, actor, chunk))
        except ValidationFailed as failure:  # checked above; kept for a concurrent delete
            raise ImportRefused(
                "The stock changed while importing: nothing was changed. Import the file again."
            ) from failure
    summary = ImportSummary(
        rows=len(changes),
        quantities_changed=differing,
        frames_changed=len(changed),
        locations=len({c.location_id for c in changes}),
    )
    audit.record(
        session,
        actor,
        "stock.imported",
        "practice",
        actor.practice_id,
        {"rows": summary.rows, "frames_changed": summary.frames_changed},
    )
    return summary


def _stored(
    session: Session, actor: Actor, frame_ids: set[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """The quantities stored now for these frames, by (frame, location)."""
    stored: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    ordered = sorted(frame_ids)
    for start in range(0, len(ordered), _CHUNK):
        rows = session.execute(
            select(FrameStock.frame_id, FrameStock.location_id, FrameStock.quantity).where(
                FrameStock.practice_id == actor.practice_id,
                FrameStock.frame_id.in_(ordered[start : start + _CHUNK]),
            )
        )
        stored.update({(frame, location): quantity for frame, location, quantity in rows})
    return stored


def _by_frames(changes: list[StockChange]) -> Iterator[list[StockChange]]:
    """The changes in chunks of at most ``_CHUNK`` frames, a frame's rows in one chunk (so
    a frame gets one event however many locations the file lists for it)."""
    per_frame: dict[uuid.UUID, list[StockChange]] = {}
    for change in changes:
        per_frame.setdefault(change.frame_id, []).append(change)
    frames = list(per_frame.values())
    for start in range(0, len(frames), _CHUNK):
        yield [c for rows in frames[start : start + _CHUNK] for c in rows]


# -- reading the file -----------------------------------------------------------------------


def _text_of(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ImportRefused(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; the largest accepted is "
            f"{MAX_BYTES // 1024 // 1024} MB. Split it into smaller files."
        )
    if data.startswith(b"PK\x03\x04"):
        raise ImportRefused(
            "This is a spreadsheet workbook (such as .xlsx), not a CSV file. In the "
            "spreadsheet, choose Save As (or Download) → “CSV UTF-8”, and import that file."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRefused(
            "The file is saved as UTF-16 (“Unicode text”). Save it as “CSV UTF-8” instead."
        )
    if b"\x00" in data:
        raise ImportRefused(
            "The file contains binary data (NUL bytes): it is not a CSV text file. "
            "Save the spreadsheet as “CSV UTF-8”."
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRefused(
            f"Line {line} is not UTF-8 text (byte 0x{data[error.start]:02X}). Save the file "
            "as “CSV UTF-8” and import it again."
        ) from None
    control = re.search(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise ImportRefused(
            f"Line {line} holds a control character (0x{ord(control.group()):02X}): "
            "this is not a CSV text file."
        )
    if not text.strip():
        raise ImportRefused("The file is empty.")
    return text


def _normal(header: str) -> str:
    return " ".join(re.sub(r"[_\-/]", " ", header).lower().split())


def _delimiter(text: str) -> str:
    first = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str], locations_required: bool) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, cell in enumerate(header):
        name = _HEADER_OF.get(_normal(cell))
        if name is None:
            continue
        if name in columns:
            raise ImportRefused(
                f"The header row names the {name} column twice (columns "
                f"{columns[name] + 1} and {position + 1}). Keep one."
            )
        columns[name] = position
    missing = []
    if "sku" not in columns and "upc" not in columns:
        missing.append("sku or upc")
    if "location" not in columns and locations_required:
        missing.append("location")
    if "quantity" not in columns:
        missing.append("quantity")
    if missing:
        raise ImportRefused(
            "The header row has no " + " and no ".join(missing) + " column. "
            "The columns are: sku or upc, location, quantity."
        )
    return columns


def _parse(text: str, locations_required: bool) -> Iterator[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    columns: dict[str, int] | None = None
    count = 0
    last_line = 0  # the file's lines read so far (a quoted cell may span several)
    try:
        for cells in reader:
            start, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                if any(_normal(cell) in _HEADER_OF for cell in cells):
                    columns = _columns(cells, locations_required)
                    continue
                columns = {name: i for i, name in enumerate(POSITIONAL)}
            count += 1
            if count > MAX_ROWS:
                raise ImportRefused(
                    f"The file has more than {MAX_ROWS:,} rows; the most one import takes is "
                    f"{MAX_ROWS:,}. Split it into smaller files."
                )
            values = {
                name: cells[position].strip() if position < len(cells) else ""
                for name, position in columns.items()
            }
            yield _Row(
                start,
                values.get("sku", ""),
                values.get("upc", ""),
                values.get("location", ""),
                values.get("quantity", ""),
            )
    except csv.Error as error:
        raise ImportRefused(f"Line {last_line + 1}: the file is not valid CSV ({error}).") from None


# -- checking the rows ----------------------------------------------------------------------


def _locations_required(session: Session, actor: Actor) -> bool:
    """A practice with one location may leave the location column out (as the partner
    API's inventory batch may)."""
    count = len(
        session.scalars(
            select(Location.id).where(Location.practice_id == actor.practice_id).limit(2)
        ).all()
    )
    return count != 1


def _chunks(values: set[str]) -> Iterator[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:39] + "…"


def _resolve(session: Session, actor: Actor, rows: list[_Row]) -> None:
    """Find each row's frame and location, check its quantity; problems go on the row."""
    practice_id = actor.practice_id
    by_sku: dict[str, tuple[uuid.UUID, str | None]] = {}
    for chunk in _chunks({r.sku for r in rows if r.sku}):
        for frame_id, sku, upc in session.execute(
            select(Frame.id, Frame.sku, Frame.upc).where(
                Frame.practice_id == practice_id, Frame.sku.in_(chunk)
            )
        ):
            by_sku[sku] = (frame_id, upc)
    by_upc: dict[str, list[uuid.UUID]] = {}
    for chunk in _chunks({r.upc for r in rows if r.upc and not r.sku}):
        for frame_id, upc in session.execute(
            select(Frame.id, Frame.upc).where(
                Frame.practice_id == practice_id, Frame.upc.in_(chunk)
            )
        ):
            by_upc.setdefault(upc or "", []).append(frame_id)
    locations = list(
        session.execute(
            select(Location.id, Location.name, Location.external_id).where(
                Location.practice_id == practice_id
            )
        )
    )
    by_external = {ext: loc_id for loc_id, _, ext in locations if ext}
    by_name: dict[str, list[uuid.UUID]] = {}
    for loc_id, name, _ in locations:
        by_name.setdefault(" ".join(name.casefold().split()), []).append(loc_id)
    only_location = locations[0][0] if len(locations) == 1 else None

    seen: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for row in rows:
        _find_frame(row, by_sku, by_upc)
        _find_location(row, by_external, by_name, only_location)
        _, problem = quantity_problem(row.quantity)
        if problem is not None:
            row.problem("quantity", problem)
        if row.frame_id is not None and row.location_id is not None:
            key = (row.frame_id, row.location_id)
            if key in seen:
                row.problem(
                    "sku" if row.sku else "upc",
                    f"The same frame and location are already on line {seen[key]}.",
                )
            else:
                seen[key] = row.line


def _find_frame(
    row: _Row,
    by_sku: dict[str, tuple[uuid.UUID, str | None]],
    by_upc: dict[str, list[uuid.UUID]],
) -> None:
    if row.sku:
        found = by_sku.get(row.sku)
        if found is None:
            row.problem("sku", f"No frame with SKU “{_shown(row.sku)}” in this practice.")
            return
        frame_id, upc = found
        if row.upc and upc and row.upc != upc:
            row.problem(
                "upc", f"“{_shown(row.upc)}” is not the UPC of SKU {row.sku} (that is {upc})."
            )
            return
        row.frame_id = frame_id
        return
    if not row.upc:
        row.problem("sku", "Give the frame's SKU or UPC.")
        return
    matches = by_upc.get(row.upc, [])
    if len(matches) == 1:
        row.frame_id = matches[0]
    elif matches:
        row.problem("upc", f"{len(matches)} frames have UPC {row.upc}: give the SKU instead.")
    elif re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", row.upc):
        row.problem(
            "upc",
            f"“{row.upc}” is a UPC the spreadsheet turned into a number. Format the UPC "
            "column as text and export again.",
        )
    else:
        row.problem("upc", f"No frame with UPC “{_shown(row.upc)}” in this practice.")


def _find_location(
    row: _Row,
    by_external: dict[str, uuid.UUID],
    by_name: dict[str, list[uuid.UUID]],
    only_location: uuid.UUID | None,
) -> None:
    if not row.location:
        if only_location is not None:
            row.location_id = only_location
        else:
            row.problem("location", "Give the location: its name or external id.")
        return
    if row.location in by_external:
        row.location_id = by_external[row.location]
        return
    named = by_name.get(" ".join(row.location.casefold().split()), [])
    if len(named) == 1:
        row.location_id = named[0]
    elif named:
        row.problem(
            "location",
            f"{len(named)} locations are named “{_shown(row.location)}”: use the external id.",
        )
    else:
        row.problem("location", f"No location named or with external id “{_shown(row.location)}”.")
