"""Records an integrating system keeps in sync by its own ids: create-or-update by external
id, read and delete by it, and list.

``portal_records`` remembers, per practice and resource (the system's id spaces are
separate), which core row an external id names (``synced_rows``: a location, an employee,
a patient, a family link, an order, a prescription, an appointment; or none, for lists of
the system's own) and the record as last sent, in the caller's shape, with its
fingerprint:

* the same record sent again (same fingerprint) changes nothing and emits nothing;
* a record whose core row was removed elsewhere makes it again;
* a core row another channel made with the same external id is taken over on first sync;
* reading gives the record as last sent and the core's current values of its row, for the
  caller to show where they changed since; a record whose row is gone reads as gone.

The caller checks and translates the record and writes the core row (``write``, through
``synced_rows``); this module keeps the bookkeeping around it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import bindparam, literal, null, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optihub.db import prepared
from optihub.db.base import new_id as new_record_id
from optihub.db.base import utcnow
from optihub.db.models import PortalRecord
from optihub.db.prepared import Prepared
from optihub.errors import Conflict, NotFound
from optihub.reads import documents
from optihub.services import audit, synced_rows
from optihub.services.context import Actor

Values = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One resource of the system's: ``resource`` keys its records, ``noun`` names it in
    errors and the audit log, ``row`` is the kind of core row it maps to
    (``synced_rows.ROWS``; None: the record alone)."""

    resource: str
    noun: str
    row: str | None = None


@dataclass(frozen=True)
class Stored:
    """A record as last sent (``body``), the core row it names and, for rows the core
    reads back, that row's current values (``synced_rows.CURRENT``)."""

    external_id: str
    row_id: uuid.UUID
    body: dict[str, Any]
    current: Values | None = None


@dataclass(frozen=True)
class Record:
    """What an answer shows of a record as kept: its external id, core row and body."""

    external_id: str
    record_id: uuid.UUID
    body: dict[str, Any]


@dataclass(frozen=True)
class Upserted:
    id: uuid.UUID
    created: bool
    changed: bool
    # The record as kept (for ``kept``: the answer without reading it again).
    entry: Record | None = field(default=None, compare=False, repr=False)


def fingerprint(
    record: Mapping[str, Any], file: bytes | None = None, file_sent: bool = True
) -> str:
    """The record's fingerprint, with its attached file (or the note that the stored file
    was kept)."""
    digest = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
    if file is not None:
        digest.update(hashlib.sha256(file).digest())
    elif not file_sent:
        digest.update(b"file kept")
    return digest.hexdigest()


# Built once (the statement and its cache key), bound per call.
_ENTRY = select(PortalRecord).where(
    PortalRecord.practice_id == bindparam("practice_id"),
    PortalRecord.resource == bindparam("resource"),
    PortalRecord.external_id == bindparam("external_id"),
)
_ENTRY_LOCKED = _ENTRY.with_for_update()


def _entry(
    session: Session, practice_id: int, resource: str, external_id: str, *, lock: bool = False
) -> PortalRecord | None:
    found: PortalRecord | None = session.scalar(
        _ENTRY_LOCKED if lock else _ENTRY,
        {"practice_id": practice_id, "resource": resource, "external_id": external_id},
    )
    return found


def row_of(session: Session, practice_id: int, resource: str, external_id: str) -> uuid.UUID | None:
    """The core row the record kept under ``external_id`` names (its row unchecked), without
    loading the record: what a link to it needs. A link ``upsert`` was told of has been
    looked up already, in its first statement."""
    looked_up: dict[tuple[str, str], uuid.UUID | None] | None = session.info.get(_LINKS)
    if looked_up is not None and (resource, external_id) in looked_up:
        return looked_up.pop((resource, external_id))
    found = _ROW_OF.first(
        session, {"practice_id": practice_id, "resource": resource, "external_id": external_id}
    )
    return found[0] if found is not None else None


_ROW_OF = Prepared(
    select(PortalRecord.record_id).where(
        PortalRecord.practice_id == bindparam("practice_id"),
        PortalRecord.resource == bindparam("resource"),
        PortalRecord.external_id == bindparam("external_id"),
    )
)


def find(session: Session, practice_id: int, resource: str, external_id: str) -> Stored | None:
    """The record kept under ``external_id`` (its core row unchecked): what a link to it
    names."""
    entry = _entry(session, practice_id, resource, external_id)
    return _stored(entry) if entry is not None else None


def _stored(entry: PortalRecord | Record, current: Values | None = None) -> Stored:
    return Stored(entry.external_id, entry.record_id, entry.body, current)


def _exists(session: Session, practice_id: int, kind: Kind, row_id: uuid.UUID | None) -> bool:
    if row_id is None:
        return False
    if kind.row is None:
        return True
    return _lookup(kind.row).first(session, {"practice_id": practice_id, "id": row_id}) is not None


# Per kind of core row: its id by id, built once, sent past SQLAlchemy's execution layer
# (``db.prepared``).
_BY_ID: dict[str, Prepared] = {}


def _lookup(row: str) -> Prepared:
    found = _BY_ID.get(row)
    if found is None:
        model = synced_rows.ROWS[row]
        found = _BY_ID[row] = Prepared(
            select(model.id).where(
                model.practice_id == bindparam("practice_id"), model.id == bindparam("id")
            )
        )
    return found


_CLAIMED = Prepared(
    select(PortalRecord.id).where(
        PortalRecord.practice_id == bindparam("practice_id"),
        PortalRecord.resource == bindparam("resource"),
        PortalRecord.record_id == bindparam("record_id"),
    )
)


# The rows the links of the record being kept name, looked up with it (``upsert``), by
# (resource, external id): ``row_of`` takes each from here once.
_LINKS = "optihub.external_records.links"

# (row kind, practice id, external id) this transaction found no core row holding: the
# ``write`` that makes the row next need not look again (``noted_free``).
_FREE = "optihub.external_records.free"


def noted_free(session: Session, row: str, practice_id: int, external_id: str) -> bool:
    """True when this transaction has just found no ``row`` of the practice holding
    ``external_id`` (``upsert``, before its ``write``): the note is used up."""
    noted: set[tuple[str, int, str]] | None = session.info.get(_FREE)
    if noted is None or (row, practice_id, external_id) not in noted:
        return False
    noted.discard((row, practice_id, external_id))
    return True


def _adopt(
    session: Session, practice_id: int, kind: Kind, external_id: str, held: uuid.UUID | None
) -> uuid.UUID | None:
    """A core row another channel made with this external id, not yet synced: ``held``, the
    row of the practice holding it (``_KEPT_OR_HELD`` looked it up), unless a record of the
    resource already names it."""
    if kind.row not in synced_rows.ADOPTABLE:
        return None
    if held is None:
        session.info.setdefault(_FREE, set()).add((kind.row, practice_id, external_id))
        return None
    claimed = _CLAIMED.first(
        session, {"practice_id": practice_id, "resource": kind.resource, "record_id": held}
    )
    return None if claimed is not None else held


def upsert(
    session: Session,
    actor: Actor,
    kind: Kind,
    external_id: str,
    body: Mapping[str, Any],
    *,
    digest: str,
    write: Callable[[uuid.UUID | None, Stored | None], uuid.UUID],
    links: Sequence[tuple[str, str]] = (),
) -> Upserted:
    """Keep ``body`` under ``external_id``: unchanged when ``digest`` is the one kept and the
    row is there; otherwise ``write(row_id, previous)`` writes the core row (``row_id`` the
    one named so far, None for a new one; ``previous`` the record kept before) and returns
    its id. ``write`` raises what refuses the record (nothing is kept); a record being
    written by a concurrent request is a ``Conflict``. ``links``: the (resource, external
    id) of the records ``write`` links to (``row_of``), looked up beforehand."""
    try:
        practice_id = actor.practice_id
        key: dict[str, Any] = {
            "practice_id": practice_id,
            "resource": kind.resource,
            "external_id": external_id,
        }
        for n, (resource, linked) in enumerate(links):
            key[f"link_resource_{n}"] = resource
            key[f"link_external_id_{n}"] = linked
        # The record kept (locked until the commit on PostgreSQL), the core row holding the
        # external id, which a new record adopts, and the rows the links name: one statement,
        # one round trip.
        found = _kept_or_held(kind, len(links)).first(session, key)
        assert found is not None  # one row, whether or not either is there
        if links:
            session.info[_LINKS] = dict(zip(links, found[5:], strict=True))
        kept_row = found[:4] if found[0] is not None else None
        if kept_row is not None:
            _entry_id, kept_id, kept_digest, kept_body = kept_row
            if kept_digest == digest and _exists(session, practice_id, kind, kept_id):
                # The same record again: the answer reads the record as kept, nothing is written.
                same = Record(external_id, kept_id, kept_body)
                return Upserted(kept_id, created=False, changed=False, entry=same)
        if kept_row is None:
            return _upsert_new(session, actor, kind, external_id, body, digest, write, found[4])
        entry = session.get(PortalRecord, kept_row[0])
        if entry is None:  # removed since the lookup (SQLite: no row lock): keep it again
            return _upsert_new(session, actor, kind, external_id, body, digest, write, found[4])
        row_id: uuid.UUID | None = entry.record_id
        if not _exists(session, practice_id, kind, row_id):
            row_id = None  # the core row was removed elsewhere: make it again
        new_id = write(row_id, _stored(entry))
        entry.record_id = new_id
        entry.digest = digest
        entry.body = dict(body)
        entry.updated_at = utcnow()
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError as exc:
            raise _written_elsewhere(kind, external_id) from exc
        # Written at once (Core): nothing else is left for the commit's flush.
        audit.add(session, actor, f"{actor.via}.{kind.resource}.upserted", kind.noun, new_id)
        shown = Record(external_id, new_id, entry.body)
        return Upserted(new_id, created=row_id is None, changed=True, entry=shown)
    finally:
        session.info.pop(_LINKS, None)  # what ``write`` did not use is not kept for later


_KEPT = (
    select(PortalRecord.id, PortalRecord.record_id, PortalRecord.digest, PortalRecord.body)
    .where(
        PortalRecord.practice_id == bindparam("practice_id"),
        PortalRecord.resource == bindparam("resource"),
        PortalRecord.external_id == bindparam("external_id"),
    )
    .with_for_update()
    .cte("kept")
)
# Per kind and number of links: the record kept (its id, core row id, digest and body: NULLs
# when none), the id of the practice's core row holding the external id (NULL when none, and
# for a kind whose rows have no external id) and the row each link's record names (NULL when
# none), in one row. The lock is taken in the ``kept`` CTE:
# PostgreSQL locks no row on the nullable side of an outer join.
_KEPT_OR_HELD: dict[tuple[str, int], Prepared] = {}
_ONE = select(literal(1).label("one")).subquery("one")


def _kept_or_held(kind: Kind, links: int) -> Prepared:
    found = _KEPT_OR_HELD.get((kind.resource, links))
    if found is None:
        held: Any = null()
        if kind.row in synced_rows.ADOPTABLE:
            model = synced_rows.ROWS[kind.row]
            held = (
                select(model.id)
                .where(
                    model.practice_id == bindparam("practice_id"),
                    model.external_id == bindparam("external_id"),
                )
                .scalar_subquery()
            )
        linked = [
            select(PortalRecord.record_id)
            .where(
                PortalRecord.practice_id == bindparam("practice_id"),
                PortalRecord.resource == bindparam(f"link_resource_{n}"),
                PortalRecord.external_id == bindparam(f"link_external_id_{n}"),
            )
            .scalar_subquery()
            .label(f"link_{n}")
            for n in range(links)
        ]
        found = _KEPT_OR_HELD[(kind.resource, links)] = Prepared(
            select(
                _KEPT.c.id,
                _KEPT.c.record_id,
                _KEPT.c.digest,
                _KEPT.c.body,
                held.label("held"),
                *linked,
            ).select_from(_ONE.outerjoin(_KEPT, true()))
        )
    return found


def _written_elsewhere(kind: Kind, external_id: str) -> Conflict:
    return Conflict(f"{kind.noun.capitalize()} {external_id} is being written by another request")


def _upsert_new(
    session: Session,
    actor: Actor,
    kind: Kind,
    external_id: str,
    body: Mapping[str, Any],
    digest: str,
    write: Callable[[uuid.UUID | None, Stored | None], uuid.UUID],
    held: uuid.UUID | None,
) -> Upserted:
    """``upsert`` of an external id the practice has no record under: the core row adopted
    (``held``: the row holding the external id, when no record names it yet) or written,
    then the record (``db.prepared``: on PostgreSQL with the commit; a concurrent request
    that kept the same external id first makes this one a ``Conflict``, nothing kept)."""
    practice_id = actor.practice_id
    row_id = _adopt(session, practice_id, kind, external_id, held)
    try:
        new_id = write(row_id, None)
    except IntegrityError as exc:
        # A core row's key (its external id) taken by a concurrent request since the
        # lookup: as ``session.flush`` below, that request's record wins.
        raise _written_elsewhere(kind, external_id) from exc
    now = utcnow()
    kept_body = dict(body)
    row = {
        "id": new_record_id(),
        "practice_id": practice_id,
        "resource": kind.resource,
        "external_id": external_id,
        "record_id": new_id,
        "digest": digest,
        "body": kept_body,
        "created_at": now,
        "updated_at": now,
    }
    # What ``write`` left to the unit of work is written first. A refusal here ends the
    # request's transaction (a ``Conflict``): nothing is kept, so no savepoint is needed.
    try:
        session.flush()
    except IntegrityError as exc:
        raise _written_elsewhere(kind, external_id) from exc
    try:
        # On PostgreSQL it goes with the commit, in its round trip, after the core row
        # ``write`` deferred: a key either takes that a concurrent request took first (the
        # external id) fails the commit, which then refuses this request as written
        # elsewhere (``refuse_as``). On SQLite it runs now and fails here.
        _INSERT_RECORD.defer(session, row)
    except IntegrityError as exc:
        raise _written_elsewhere(kind, external_id) from exc
    prepared.refuse_as(session, _written_elsewhere(kind, external_id))
    if row_id is not None or kind.row not in _UNSHOWN_WHEN_NEW:
        documents.note_shown_written(session, practice_id)
    audit.add(session, actor, f"{actor.via}.{kind.resource}.upserted", kind.noun, new_id)
    shown = Record(external_id, new_id, kept_body)
    return Upserted(new_id, created=row_id is None, changed=True, entry=shown)


# Kinds of core row no order reading shows until an order names the row: a record naming
# one this request made (not adopted) changes no reading kept before it, so the practice's
# order version is not raised for it (a new patient synced is one statement less; the
# orders, prescriptions and lists of the portal's own that readings do show still raise it).
_UNSHOWN_WHEN_NEW = frozenset({"patient", "location", "employee"})


# A new record's row, written with Core (``db.prepared``): no ORM object, as the answer
# reads the record from ``Record`` and nothing else in the request reads it back.
_INSERT_RECORD = Prepared.insert(
    PortalRecord,
    (
        "id", "practice_id", "resource", "external_id", "record_id", "digest", "body",
        "created_at", "updated_at",
    ),
)  # fmt: skip


def _present(
    session: Session,
    practice_id: int,
    kind: Kind,
    entry: PortalRecord | Record,
    written: Values | None = None,
) -> Stored | None:
    """The record with its row's current values (``written``: the values this transaction
    has just written to a new row, as ``synced_rows.CURRENT`` reads them: not read back);
    None when the row is gone."""
    if kind.row is None:
        return _stored(entry)
    if written is not None:
        return _stored(entry, written)
    current = synced_rows.CURRENT.get(kind.row)
    if current is not None:
        values = current(session, practice_id, entry.record_id)
        return _stored(entry, values) if values is not None else None
    if session.get(synced_rows.ROWS[kind.row], entry.record_id) is None:
        return None
    return _stored(entry)


def kept(
    session: Session, practice_id: int, kind: Kind, done: Upserted, written: Values | None = None
) -> Stored | None:
    """What ``read`` gives right after ``upsert`` (the record just kept, its row's current
    values), from the record the session holds instead of reading it again; ``written``:
    the current values of a row the write has just made (see ``_present``)."""
    if done.entry is None:
        return None
    return _present(session, practice_id, kind, done.entry, written)


def read(session: Session, practice_id: int, kind: Kind, external_id: str) -> Stored | None:
    """The record kept under ``external_id`` and its row's current values; None when there
    is none (or its core row is gone)."""
    entry = _entry(session, practice_id, kind.resource, external_id)
    if entry is None:
        return None
    return _present(session, practice_id, kind, entry)


def records(session: Session, practice_id: int, kind: Kind) -> Iterator[Stored]:
    """Every record of the resource whose row is there, oldest first."""
    entries = session.scalars(
        select(PortalRecord)
        .where(PortalRecord.practice_id == practice_id, PortalRecord.resource == kind.resource)
        .order_by(PortalRecord.created_at, PortalRecord.id)
    )
    for entry in entries:
        shown = _present(session, practice_id, kind, entry)
        if shown is not None:
            yield shown


def remove(session: Session, actor: Actor, kind: Kind, external_id: str) -> None:
    """Delete the record and its core row. Raises ``NotFound``."""
    entry = _entry(session, actor.practice_id, kind.resource, external_id, lock=True)
    if entry is None:
        raise NotFound(kind.noun.capitalize(), external_id)
    if kind.row is not None:
        synced_rows.REMOVE[kind.row](session, actor, entry.record_id)
    session.delete(entry)
    session.flush()
    audit.record(session, actor, f"{actor.via}.{kind.resource}.deleted", kind.noun, entry.record_id)


def names(session: Session, practice_id: int, resource: str, member: str) -> dict[str, str | None]:
    """``member`` of each record of the resource as last sent, by external id (in order):
    the names of a list of the system's own."""
    return dict(
        session.execute(
            select(PortalRecord.external_id, PortalRecord.body[member].as_string())
            .where(PortalRecord.practice_id == practice_id, PortalRecord.resource == resource)
            .order_by(PortalRecord.external_id)
        ).all()
    )
