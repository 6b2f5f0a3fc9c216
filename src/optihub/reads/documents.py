"""Stored order documents: each surface's rendering of an order, kept in step with it.

A surface registers a ``Projection`` (how it shows an order: the list item, and the keys a
detail adds). Whenever a transaction changes something an order shows — the order itself,
its lines or history, its patient, its location — the documents of the affected orders are
re-rendered *in that transaction*, just before it commits (a session hook installed by
``install_session_hooks``), so a read never serves a stale one. The same hook keeps
``order_counts`` (orders per practice and status) by the deltas of each flush, so list
totals need no ``COUNT(*)`` over the practice's orders.

A process that changes orders without having every projection registered (a script, say)
still deletes the affected orders' documents; reads render a missing document on the fly,
and ``rebuild`` (``optihub documents rebuild``, also run by ``optihub serve`` at start)
stores them again.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    bindparam,
    delete,
    event,
    exists,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from optihub.db.models import (
    Lab,
    LabAccount,
    Location,
    OAuthClient,
    Order,
    OrderCount,
    OrderDocument,
    OrderLine,
    OrderStatusChange,
    OrderVersion,
    Patient,
    PortalRecord,
    PortalStatusMapping,
)
from optihub.db.prepared import Prepared
from optihub.db.session import Database
from optihub.reads.order_views import OrderView, Reader, load_ids

Render = Callable[[OrderView], dict[str, Any]]


@dataclass(frozen=True)
class Projection:
    """How one surface shows an order: ``summary`` is the list item; ``detail_extra`` the
    keys its detail read adds at the end (a detail is the summary plus those keys)."""

    name: str
    summary: Render
    detail_extra: Render | None = None

    def render(self, order: OrderView) -> tuple[bytes, bytes | None]:
        extra = self.detail_extra(order) if self.detail_extra is not None else None
        return orjson.dumps(self.summary(order)), orjson.dumps(extra) if extra else None

    def detail(self, order: OrderView) -> bytes:
        """The detail document, rendered now (what a stored one must equal)."""
        return detail_bytes(*self.render(order))


_PROJECTIONS: dict[str, Projection] = {}


def register(projection: Projection) -> None:
    """Make ``projection`` one that every order change renders (idempotent per name)."""
    _PROJECTIONS[projection.name] = projection


def unregister(name: str) -> None:
    _PROJECTIONS.pop(name, None)


def projection(name: str) -> Projection:
    try:
        return _PROJECTIONS[name]
    except KeyError:
        raise LookupError(f"no order projection named {name!r} is registered") from None


def registered() -> tuple[Projection, ...]:
    return tuple(_PROJECTIONS.values())


def detail_bytes(summary: bytes, extra: bytes | None) -> bytes:
    """The detail document: the summary object with the extra keys appended."""
    if not extra:
        return summary
    return summary[:-1] + b"," + extra[1:]


def store(
    reader: Reader,
    practice_id: int,
    order_ids: Iterable[uuid.UUID],
    views: dict[tuple[int, uuid.UUID], OrderView] | None = None,
    new: frozenset[uuid.UUID] | set[uuid.UUID] = frozenset(),
) -> int:
    """Render and store every registered projection of these orders (replacing what was
    stored). Orders that no longer exist just lose their documents. Returns orders stored.

    ``views``: orders already loaded as they are now (``keep_view``), not loaded again.
    ``new``: orders inserted in this transaction (they have no document to replace)."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return 0
    connection = _connection(reader)
    stored = [i for i in ids if i not in new]
    if stored:
        connection.execute(_DELETE_DOCUMENTS, {"practice_id": practice_id, "ids": stored})
    raise_version(reader, practice_id)
    projections = registered()
    if not projections:
        return 0
    ready = [views[(practice_id, i)] for i in ids if views and (practice_id, i) in views]
    rest = [i for i in ids if not views or (practice_id, i) not in views]
    loaded = load_ids(reader, practice_id, rest) if rest else []
    rows = []
    for view in [*ready, *loaded]:
        for each in projections:
            summary, extra = each.render(view)
            rows.append(
                {
                    "practice_id": practice_id,
                    "order_id": view.id,
                    "projection": each.name,
                    "summary": summary,
                    "detail_extra": extra,
                }
            )
    if rows:
        _INSERT_DOCUMENTS.defer_many(connection, rows)
    return len(ready) + len(loaded)


# Built once (a statement built per call costs more than running it), values as parameters.
_LOCK_ORDERS = (
    select(Order.id)
    .where(
        Order.practice_id == bindparam("practice_id"),
        Order.id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(Order.id)
    .with_for_update()
)
_DELETE_DOCUMENTS = delete(OrderDocument).where(
    OrderDocument.practice_id == bindparam("practice_id"),
    OrderDocument.order_id.in_(bindparam("ids", expanding=True)),
)
_INSERT_DOCUMENTS = Prepared.insert(
    OrderDocument, ("practice_id", "order_id", "projection", "summary", "detail_extra")
)
_UPSERTS: dict[str, tuple[Prepared, Prepared]] = {}


def _upserts(dialect: str) -> tuple[Prepared, Prepared]:
    """The order version and order count upserts in ``dialect`` (built once each, sent
    past SQLAlchemy's execution layer: ``db.prepared``)."""
    found = _UPSERTS.get(dialect)
    if found is None:
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        version = upsert(OrderVersion).values(
            practice_id=bindparam("practice_id"), version=bindparam("version")
        )
        version = version.on_conflict_do_update(
            index_elements=[OrderVersion.practice_id],
            set_={"version": OrderVersion.version + 1},
        )
        count = upsert(OrderCount).values(
            practice_id=bindparam("practice_id"),
            status=bindparam("status"),
            count=bindparam("delta"),
        )
        count = count.on_conflict_do_update(
            index_elements=[OrderCount.practice_id, OrderCount.status],
            set_={"count": OrderCount.count + count.excluded.count},
        )
        found = _UPSERTS[dialect] = (Prepared(version), Prepared(count))
    return found


def _connection(reader: Reader) -> Any:
    """The connection a session's transaction runs on (Core statements skip the ORM's
    execute path, which they do not need), or ``reader`` itself."""
    return reader.connection() if isinstance(reader, Session) else reader


def raise_version(reader: Reader, practice_id: int) -> None:
    """Raise the practice's order version in this transaction: copies read under an older
    one are not served again. A practice's first version is the time in microseconds, so a
    version never repeats even when the practice's rows are deleted and made again."""
    connection = _connection(reader)
    statement = _upserts(connection.dialect.name)[0]
    statement.defer(connection, {"practice_id": practice_id, "version": time.time_ns() // 1000})


# -- keeping documents and counts in step with every change -------------------------------

_PENDING = "optihub.reads.pending"
# Orders a route has just loaded as views to answer with (``keep_view``): the commit stores
# their documents from these instead of loading them again, unless anything an order view
# shows is written after (then every kept view is dropped).
_VIEWS = "optihub.reads.views"
_SHOWN_IN_VIEWS = (
    Order, OrderLine, OrderStatusChange, Patient, Location, LabAccount, PortalRecord,
    PortalStatusMapping, Lab, OAuthClient,
)  # fmt: skip


def keep_view(session: Session, practice_id: int, view: OrderView) -> None:
    """``view`` was loaded in this transaction after its last write (e.g. to render the
    answer): the commit may store its documents from it. Kept only for an order this
    transaction wrote (new, or its row updated and so locked on PostgreSQL until the
    commit): no other transaction can change what it shows in between."""
    pending: _Pending | None = session.info.get(_PENDING)
    key = (practice_id, view.id)
    if pending is not None and key in pending.written:
        session.info.setdefault(_VIEWS, {})[key] = view


@dataclass
class _Pending:
    orders: set[tuple[int, uuid.UUID]] = field(default_factory=set)
    # Of those, the ones whose own row this transaction inserted or updated (locked).
    written: set[tuple[int, uuid.UUID]] = field(default_factory=set)
    # Of those, the ones this transaction inserted: no other transaction sees them yet, and
    # they have no documents to replace.
    inserted: set[tuple[int, uuid.UUID]] = field(default_factory=set)
    patients: set[tuple[int, uuid.UUID]] = field(default_factory=set)
    locations: set[tuple[int, uuid.UUID]] = field(default_factory=set)
    # Practices that lost an order (its documents go with it: no document is stored), or
    # whose locations or lab accounts changed (the orders board lists them), or whose
    # synced portal records or status mapping changed (the portal reads orders with them).
    deleted: set[int] = field(default_factory=set)
    # A lab or an app renamed: every practice's orders may show its name.
    everyone: bool = False

    def __bool__(self) -> bool:
        return bool(self.orders or self.patients or self.locations or self.deleted or self.everyone)


def _names_changed(obj: Lab | OAuthClient) -> bool:
    state: Any = inspect(obj)
    return bool(state.attrs.name.history.deleted)


def _status_change(order: Order) -> tuple[str | None, str | None]:
    history = inspect(order).attrs.status.history
    old = history.deleted[0] if history.deleted else None
    new = history.added[0] if history.added else None
    return old, new


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    if _VIEWS in session.info and any(
        isinstance(obj, _SHOWN_IN_VIEWS)
        for group in (session.new, session.dirty, session.deleted)
        for obj in group
    ):
        session.info.pop(_VIEWS, None)  # written after it was loaded: load it again
    pending: _Pending = session.info.setdefault(_PENDING, _Pending())
    deltas: defaultdict[tuple[int, str], int] = defaultdict(int)
    for obj in session.new:
        if isinstance(obj, Order):
            pending.orders.add((obj.practice_id, obj.id))
            pending.written.add((obj.practice_id, obj.id))
            pending.inserted.add((obj.practice_id, obj.id))
            deltas[(obj.practice_id, obj.status)] += 1
        elif isinstance(obj, OrderLine | OrderStatusChange):
            pending.orders.add((obj.practice_id, obj.order_id))
        elif isinstance(obj, Location | LabAccount | PortalRecord | PortalStatusMapping):
            pending.deleted.add(obj.practice_id)
    for obj in session.dirty:
        if not session.is_modified(obj, include_collections=False):
            continue
        if isinstance(obj, Order):
            pending.orders.add((obj.practice_id, obj.id))
            pending.written.add((obj.practice_id, obj.id))
            old, new = _status_change(obj)
            if old is not None and new is not None and old != new:
                deltas[(obj.practice_id, old)] -= 1
                deltas[(obj.practice_id, new)] += 1
        elif isinstance(obj, OrderLine | OrderStatusChange):
            pending.orders.add((obj.practice_id, obj.order_id))
        elif isinstance(obj, Patient):
            pending.patients.add((obj.practice_id, obj.id))
        elif isinstance(obj, Location):
            pending.locations.add((obj.practice_id, obj.id))
            pending.deleted.add(obj.practice_id)
        elif isinstance(obj, LabAccount | PortalRecord | PortalStatusMapping):
            pending.deleted.add(obj.practice_id)
        elif isinstance(obj, Lab | OAuthClient) and _names_changed(obj):
            pending.everyone = True
    for obj in session.deleted:
        if isinstance(obj, Order):
            old, new = _status_change(obj)
            deltas[(obj.practice_id, old or obj.status)] -= 1
            pending.deleted.add(obj.practice_id)
        elif isinstance(obj, OrderLine | OrderStatusChange):
            pending.orders.add((obj.practice_id, obj.order_id))
        elif isinstance(obj, Location | LabAccount | PortalRecord | PortalStatusMapping):
            pending.deleted.add(obj.practice_id)
    if any(deltas.values()):
        _apply_count_deltas(session, {k: v for k, v in deltas.items() if v})


def _apply_count_deltas(session: Session, deltas: dict[tuple[int, str], int]) -> None:
    connection = session.connection()
    statement = _upserts(connection.dialect.name)[1]
    for (practice_id, status), delta in sorted(deltas.items()):
        statement.defer(connection, {"practice_id": practice_id, "status": status, "delta": delta})


def note_inserted(session: Session, practice_id: int, order_id: uuid.UUID, status: str) -> None:
    """An order was inserted with Core (``db.rows``), out of the flush hook's sight: keep
    its documents and the practice's counts in step as the hook would have."""
    session.info.pop(_VIEWS, None)  # an order written after any kept view: load it again
    pending: _Pending = session.info.setdefault(_PENDING, _Pending())
    key = (practice_id, order_id)
    pending.orders.add(key)
    pending.written.add(key)
    pending.inserted.add(key)
    _apply_count_deltas(session, {(practice_id, status): 1})


def note_shown_written(session: Session, practice_id: int) -> None:
    """A row order views show but no order owns (a portal record, a location…) was written
    with Core, out of the flush hook's sight: as the hook does for one, the practice's
    copies of order readings read before are not served again (its version is raised)."""
    session.info.pop(_VIEWS, None)
    pending: _Pending = session.info.setdefault(_PENDING, _Pending())
    pending.deleted.add(practice_id)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint released (``begin_nested``): SQLAlchemy calls this hook for it too.
        # The documents are stored once, at the real commit, from everything by then.
        return
    # The commit's own flush comes after this hook: flush first so its changes count too.
    if session.new or session.dirty or session.deleted:
        session.flush()
    pending: _Pending | None = session.info.pop(_PENDING, None)
    views = session.info.pop(_VIEWS, None)
    if not pending:
        return
    affected: defaultdict[int, set[uuid.UUID]] = defaultdict(set)
    for practice_id, order_id in pending.orders:
        affected[practice_id].add(order_id)
    for column, keys in (
        (Order.patient_id, pending.patients),
        (Order.location_id, pending.locations),
    ):
        by_practice: defaultdict[int, list[uuid.UUID]] = defaultdict(list)
        for practice_id, key in keys:
            by_practice[practice_id].append(key)
        for practice_id, key_ids in by_practice.items():
            showing = session.scalars(
                select(Order.id).where(Order.practice_id == practice_id, column.in_(key_ids))
            ).all()
            if showing:  # a practice with no order to store still has its version raised
                affected[practice_id].update(showing)
    for practice_id, order_ids in sorted(affected.items()):
        ids = sorted(order_ids)
        new = {i for i in ids if (practice_id, i) in pending.inserted}
        existing = [i for i in ids if i not in new]
        if existing:
            # Two transactions changing what one order shows (its status, its patient)
            # render it one after the other, each seeing the other's committed change
            # (PostgreSQL; SQLite runs one writer at a time anyway). An order this
            # transaction inserted is seen by no other until the commit.
            session.connection().execute(
                _LOCK_ORDERS, {"practice_id": practice_id, "ids": existing}
            ).all()
        store(session, practice_id, ids, views, new)
    for practice_id in sorted(pending.deleted - set(affected)):
        raise_version(session, practice_id)
    if pending.everyone:
        session.execute(update(OrderVersion).values(version=OrderVersion.version + 1))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_VIEWS, None)


def install_session_hooks() -> None:
    """Keep documents and counts in step for every ORM session of this process."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_transaction_end", _after_transaction_end)


# -- filling documents that are missing ---------------------------------------------------


def missing_count(db: Database) -> int:
    """Orders lacking a stored document of some registered projection."""
    with db.reading() as connection:
        return sum(
            connection.scalar(select(func.count(Order.id)).where(_lacks(p.name))) or 0
            for p in registered()
        )


def _lacks(name: str) -> Any:
    return ~exists().where(
        OrderDocument.practice_id == Order.practice_id,
        OrderDocument.order_id == Order.id,
        OrderDocument.projection == name,
    )


def rebuild(
    db: Database,
    *,
    everything: bool = False,
    batch: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Store the documents of orders that lack one (``everything``: of all orders), in
    transactions of ``batch`` orders. ``progress(done, total)`` after each batch."""
    names = [p.name for p in registered()]
    if not names:
        return 0
    with db.reading() as connection:
        query = select(Order.practice_id, Order.id)
        if not everything:
            query = query.where(or_(*[_lacks(name) for name in names]))
        keys = [(p, i) for p, i in connection.execute(query.order_by(Order.practice_id, Order.id))]
    done = 0
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        by_practice: defaultdict[int, list[uuid.UUID]] = defaultdict(list)
        for practice_id, order_id in chunk:
            by_practice[practice_id].append(order_id)
        with db.transaction() as session:
            for practice_id, ids in by_practice.items():
                store(session, practice_id, ids)
        done += len(chunk)
        if progress is not None:
            progress(done, len(keys))
    return done
