"""Order reads for every surface: pages and details of stored documents (the hot path),
or of plain views when a surface shapes something else from orders (e.g. their Rx).

Lists: one indexed query for the page (stored document bytes joined to the order rows in
the list's sort order) and, for ``total``, a sum over the kept per-status counts when the
filter is by status alone (otherwise an indexed ``COUNT``). A document missing from
storage (an order changed by a process without that projection) is rendered on the fly.

The hot reads (``stored_page``, ``stored_detail``) keep what they read in memory under the
practice's order version (``order_versions``, raised in the transaction of every change to
what the practice's orders show) read in the same statement, and serve a copy again only
after reading that one row and finding the version unchanged: never stale, and one indexed
row instead of fifty documents for the page every poller asks for.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
import weakref
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Dialect, and_, func, select

from optihub.db.models import Order, OrderCount, OrderDocument
from optihub.db.session import PLACEHOLDERS, Database
from optihub.domain.orders import OrderStatus
from optihub.errors import NotFound
from optihub.reads import documents
from optihub.reads.order_views import (
    Keyset,
    OrderFilter,
    OrderView,
    Reader,
    Sort,
    load,
    load_ids,
    ordering,
    where,
)

__all__ = [
    "DocumentPage",
    "Guard",
    "Keyset",
    "OrderFilter",
    "OrderView",
    "Sort",
    "ViewPage",
    "detail",
    "page",
    "stored_detail",
    "stored_detail_async",
    "stored_lab_page_async",
    "stored_page",
    "stored_page_async",
    "total",
    "view",
    "views",
]


@dataclass(frozen=True)
class DocumentPage:
    items: list[bytes]
    total: int
    # The sort position of the last item (when asked for: pollers build their cursor on it).
    last: Keyset | None = None
    # Response bodies a surface assembled from this page (``body``).
    bodies: dict[Hashable, bytes] = field(default_factory=dict, compare=False, repr=False)

    def body(self, key: Hashable, assemble: Callable[[DocumentPage], bytes]) -> bytes:
        """The response body ``assemble`` makes of this page, made once per ``key``: a
        page served again from its copy (the order version unchanged) is served with the
        bytes assembled the first time. ``key`` names everything else the body depends on
        (the surface, and its paging parameters)."""
        found = self.bodies.get(key)
        if found is None:
            found = assemble(self)
            if len(self.bodies) < BODIES_PER_PAGE:
                self.bodies[key] = found
        return found


BODIES_PER_PAGE = 4


@dataclass(frozen=True)
class Guard:
    """A caller's own check, read in the statement that reads the order version (one round
    trip, shared by the requests asking at once): ``columns`` are scalar subqueries in the
    database's placeholder style (``Database.placeholder``), each NULL when it refuses;
    ``parameters`` are theirs, plain ``int``/``str`` values (what a shared statement
    takes)."""

    columns: str
    parameters: tuple[int | str, ...]


@dataclass(frozen=True)
class ViewPage:
    views: list[OrderView]
    total: int


def total(reader: Reader, practice_id: int, flt: OrderFilter) -> int:
    """How many of the practice's orders match ``flt``."""
    if flt.by_status_only:
        wanted = [s.value for s in OrderStatus] if flt.statuses is None else list(flt.statuses)
        wanted = [s for s in wanted if s not in set(flt.hidden_statuses)]
        return int(
            reader.scalar(
                select(func.coalesce(func.sum(OrderCount.count), 0)).where(
                    OrderCount.practice_id == practice_id, OrderCount.status.in_(wanted)
                )
            )
            or 0
        )
    return int(
        reader.scalar(select(func.count()).select_from(Order).where(where(practice_id, flt))) or 0
    )


def _document_of(projection: str) -> ColumnElement[bool]:
    """Join condition: an order's stored document of ``projection``."""
    return and_(
        OrderDocument.practice_id == Order.practice_id,
        OrderDocument.order_id == Order.id,
        OrderDocument.projection == projection,
    )


def page(
    reader: Reader,
    practice_id: int,
    projection: str,
    flt: OrderFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = Sort.NEWEST,
    with_total: bool = True,
    with_last: bool = False,
) -> DocumentPage:
    """A page of the projection's list items, in ``sort`` order."""
    doc = OrderDocument
    columns: list[Any] = [doc.summary] + ([Order.updated_at, Order.id] if with_last else [])
    rows = reader.execute(
        select(*columns)
        .select_from(Order)
        .outerjoin(doc, _document_of(projection))
        .where(where(practice_id, flt))
        .order_by(*ordering(sort))
        .limit(limit)
        .offset(offset)
    ).all()
    items = [row[0] for row in rows]
    if any(item is None for item in items):
        items = _render_page(reader, practice_id, projection, flt, limit, offset, sort)
    last = Keyset(rows[-1][1], rows[-1][2]) if with_last and rows else None
    count = total(reader, practice_id, flt) if with_total else len(items)
    return DocumentPage(items, count, last)


def _render_page(
    reader: Reader,
    practice_id: int,
    projection: str,
    flt: OrderFilter,
    limit: int,
    offset: int,
    sort: Sort,
) -> list[bytes]:
    shape = documents.projection(projection)
    found = load(reader, practice_id, where(practice_id, flt), ordering(sort), limit, offset)
    return [shape.render(order)[0] for order in found]


def detail(
    reader: Reader,
    practice_id: int,
    projection: str,
    order_id: uuid.UUID,
    hidden_statuses: tuple[str, ...] = (),
) -> bytes:
    """One order's detail document; a foreign, hidden or missing order is ``NotFound``."""
    doc = OrderDocument
    condition = where(practice_id, OrderFilter(order_id=order_id, hidden_statuses=hidden_statuses))
    row = reader.execute(
        select(Order.id, doc.summary, doc.detail_extra)
        .select_from(Order)
        .outerjoin(doc, _document_of(projection))
        .where(condition)
    ).first()
    if row is None:
        raise NotFound("Order", order_id)
    summary, extra = row[1], row[2]
    if summary is None:
        summary, extra = documents.projection(projection).render(
            view(reader, practice_id, order_id)
        )
    return documents.detail_bytes(summary, extra)


def views(
    reader: Reader,
    practice_id: int,
    flt: OrderFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = Sort.NEWEST,
    with_total: bool = True,
) -> ViewPage:
    """A page of plain views, for surfaces that shape something other than the order.
    ``with_total=False`` skips counting (keyset lists that only say whether more follow);
    ``total`` is then the page's length."""
    found = load(reader, practice_id, where(practice_id, flt), ordering(sort), limit, offset)
    return ViewPage(found, total(reader, practice_id, flt) if with_total else len(found))


def view(
    reader: Reader,
    practice_id: int,
    order_id: uuid.UUID,
    hidden_statuses: tuple[str, ...] = (),
) -> OrderView:
    """One order as a view; a foreign, hidden or missing order is ``NotFound``."""
    found = load_ids(reader, practice_id, [order_id])
    if not found or found[0].status in hidden_statuses:
        raise NotFound("Order", order_id)
    return found[0]


# --- the hot reads ---------------------------------------------------------------------------
#
# ``stored_page`` and ``stored_detail`` answer the two reads every poller repeats (a page of
# newest orders filtered by status at most, one order by id) with plain SQL on the thread's
# own DBAPI connection (``Database.fetch_raw``): the statements ``page``, ``total`` and
# ``detail`` build with SQLAlchemy Core (same joins, same ``practice_id`` filter first, same
# order), without building, caching and executing a Core statement each time, which costs
# ten times the query itself. Any other filter, an empty page, and a page with a document
# missing from storage go through Core.

_DOCUMENT_JOIN = (
    "FROM orders LEFT OUTER JOIN order_documents"
    " ON order_documents.practice_id = orders.practice_id"
    " AND order_documents.order_id = orders.id AND order_documents.projection = {p}"
    " WHERE orders.practice_id = {p}"
)
_PLACEHOLDERS = PLACEHOLDERS


def _in_list(column: str, count: int, placeholder: str, negate: bool = False) -> str:
    marks = ", ".join([placeholder] * count)
    return f" AND {column} {'NOT IN' if negate else 'IN'} ({marks})"


class _HotSQL:
    """The hot statements in one dialect's parameter style, by the shape of their filter."""

    def __init__(self, dialect: Dialect) -> None:
        self.p = _PLACEHOLDERS[dialect.paramstyle]
        processor = Order.__table__.c.id.type.dialect_impl(dialect).bind_processor(dialect)
        self.order_id: Callable[[uuid.UUID], Any] = processor or (lambda value: value)
        self._pages: dict[tuple[tuple[str, ...] | None, tuple[str, ...]], Any] = {}
        self._details: dict[int, str] = {}
        # The practice's order version: alone, and as a column of a statement (one snapshot).
        self.version = f"SELECT version FROM order_versions WHERE practice_id = {self.p}"  # noqa: S608
        self.version_of = f"({self.version})"

    def _where(self, statuses: int, hidden: int) -> str:
        sql = _DOCUMENT_JOIN.format(p=self.p)
        if statuses >= 0:
            sql += _in_list("orders.status", statuses, self.p)
        if hidden:
            sql += _in_list("orders.status", hidden, self.p, negate=True)
        return sql

    def page(
        self, statuses: tuple[str, ...] | None, hidden: tuple[str, ...]
    ) -> tuple[str, tuple[str, ...]]:
        """The page, each row with the total (the sum of the kept counts of the statuses the
        filter covers, which it returns as well): one statement, so one snapshot and one
        round trip."""
        key = (statuses, hidden)
        found = self._pages.get(key)
        if found is None:
            counted = tuple(
                status
                for status in ([s.value for s in OrderStatus] if statuses is None else statuses)
                if status not in hidden
            )
            # Only placeholders and fixed names go into the text; values are parameters.
            total = "0"
            if counted:
                total = (
                    "(SELECT coalesce(sum(order_counts.count), 0) FROM order_counts"  # noqa: S608
                    f" WHERE order_counts.practice_id = {self.p}"
                    f"{_in_list('order_counts.status', len(counted), self.p)})"
                )
            where = self._where(-1 if statuses is None else len(statuses), len(hidden))
            sql = (
                f"SELECT order_documents.summary, {total}, {self.version_of} {where}"
                f" ORDER BY orders.created_at DESC, orders.id DESC LIMIT {self.p} OFFSET {self.p}"
            )
            if len(self._pages) > 1000:  # filters are client-chosen: keep it bounded
                self._pages.clear()
            found = self._pages[key] = (sql, counted)
        return found

    def lab_page(self) -> str:
        """A lab account's orders, newest first (every status: a lab list shows drafts)."""
        return (
            f"SELECT order_documents.summary, {self.version_of} {self._where(-1, 0)}"
            f" AND orders.lab_id = {self.p} AND orders.lab_account_number = {self.p}"
            f" ORDER BY orders.created_at DESC, orders.id DESC LIMIT {self.p}"
        )

    def detail(self, hidden: int) -> str:
        sql = self._details.get(hidden)
        if sql is None:
            sql = self._details[hidden] = (
                "SELECT orders.id, order_documents.summary, order_documents.detail_extra, "
                f"{self.version_of} {self._where(-1, hidden)} AND orders.id = {self.p}"
            )
        return sql


class _Copies:
    """Pages and documents of one database, each kept with the order version it was read
    under. Bounded: when full it starts over (the hot keys come back at once)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[Hashable, tuple[int, Any]] = {}

    def get(self, key: Hashable, version: int) -> Any:
        found = self._items.get(key)
        if found is not None and found[0] == version:
            return found[1]
        return None

    def put(self, key: Hashable, version: int | None, value: Any) -> None:
        if version is None:  # a practice without a version row yet: nothing to check against
            return
        if len(self._items) >= self.size:
            self._items = {}
        self._items[key] = (version, value)


# Per database: list pages (up to 50 documents each, a few filters and offsets are hot) and
# order details (about 2 KB each): at most about 20 MB and 16 MB.
PAGE_COPIES = 256
DETAIL_COPIES = 8192
_copies: weakref.WeakKeyDictionary[Database, tuple[_Copies, _Copies]] = weakref.WeakKeyDictionary()
_copies_lock = threading.Lock()


def _copies_of(db: Database) -> tuple[_Copies, _Copies]:
    """The database's (pages, details) copies."""
    found = _copies.get(db)
    if found is None:
        with _copies_lock:
            found = _copies.setdefault(db, (_Copies(PAGE_COPIES), _Copies(DETAIL_COPIES)))
    return found


_hot_sql: dict[tuple[str, str, str], _HotSQL | None] = {}


def _hot(db: Database) -> _HotSQL | None:
    """The database's hot statements (None: a dialect they are not written for)."""
    dialect = db.engine.dialect
    key = (dialect.name, dialect.driver, dialect.paramstyle)
    if key not in _hot_sql:
        supported = dialect.name in {"sqlite", "postgresql"} and dialect.paramstyle in _PLACEHOLDERS
        _hot_sql[key] = _HotSQL(dialect) if supported else None
    return _hot_sql[key]


# Each hot read is a plan of statements (``_Steps``: it yields a statement, its parameters
# and whether concurrent readers may share its execution, receives the rows, and returns
# the result, or None for the Core fallback), run on a blocking connection (``stored_page``)
# or on the event loop (``stored_page_async``).
_Steps = Generator[tuple[str, list[Any], bool], list[Any], Any]


def _run(db: Database, steps: _Steps) -> Any:
    try:
        sql, parameters, _shared = next(steps)
        while True:
            sql, parameters, _shared = steps.send(db.fetch_raw(sql, parameters))
    except StopIteration as done:
        return done.value


async def _run_async(db: Database, steps: _Steps) -> Any:
    try:
        sql, parameters, shared = next(steps)
        while True:
            rows = await db.fetch_raw_async(sql, parameters, shared=shared)
            sql, parameters, shared = steps.send(rows)
    except StopIteration as done:
        return done.value


def _page_steps(
    db: Database, practice_id: int, projection: str, flt: OrderFilter, limit: int, offset: int
) -> _Steps:
    """The page from a copy (when the version stands) or from the hot statement."""
    hot = _hot(db)
    if hot is None:
        return None
    statuses = None if flt.statuses is None else tuple(flt.statuses)
    hidden = tuple(flt.hidden_statuses)
    copies = _copies_of(db)[0]
    key = ("page", practice_id, projection, statuses, hidden, limit, offset)
    versions = yield hot.version, [practice_id], True  # the version row: shared
    if versions:
        found: DocumentPage | None = copies.get(key, versions[0][0])
        if found is not None:
            return found
    sql, counted = hot.page(statuses, hidden)
    parameters: list[Any] = [practice_id, *counted] if counted else []
    parameters += [practice_id, projection, practice_id, *(statuses or ()), *hidden]
    parameters += [limit, offset]
    rows = yield sql, parameters, False
    items = [row[0] for row in rows]
    # No rows: no total either. A document missing: Core renders it.
    if not items or None in items:
        return None
    result = DocumentPage(items, int(rows[0][1]))
    copies.put(key, rows[0][2], result)
    return result


def _detail_steps(
    db: Database,
    practice_id: int,
    projection: str,
    order_id: uuid.UUID,
    hidden_statuses: tuple[str, ...],
) -> _Steps:
    """The detail from a copy (when the version stands) or from the hot statement."""
    hot = _hot(db)
    if hot is None:
        return None
    copies = _copies_of(db)[1]
    key = ("detail", practice_id, projection, order_id, hidden_statuses)
    versions = yield hot.version, [practice_id], True  # the version row: shared
    if versions:
        found: bytes | None = copies.get(key, versions[0][0])
        if found is not None:
            return found
    parameters = [practice_id, projection, practice_id, *hidden_statuses]
    parameters.append(hot.order_id(order_id))
    rows = yield hot.detail(len(hidden_statuses)), parameters, False
    if not rows:
        raise NotFound("Order", order_id)
    row = rows[0]
    if row[1] is None:
        return None
    body = documents.detail_bytes(row[1], row[2])
    copies.put(key, row[3], body)
    return body


def _lab_page_steps(
    db: Database,
    practice_id: int,
    projection: str,
    lab_id: uuid.UUID,
    account_number: str,
    limit: int,
    guard: Guard | None,
) -> _Steps:
    """A lab account's newest orders from a copy (when the version stands) or the hot
    statement; ``_REFUSED`` when ``guard`` refuses; None when a document is missing (Core
    renders it)."""
    hot = _hot(db)
    if hot is None:
        return None
    copies = _copies_of(db)[0]
    key = ("lab", practice_id, projection, lab_id, account_number, limit)
    if guard is None:
        versions = yield hot.version, [practice_id], True
        version = versions[0][0] if versions else None
    else:
        checked = yield (
            f"SELECT {hot.version_of}, {guard.columns}",
            [practice_id, *guard.parameters],
            True,
        )
        if any(value is None for value in checked[0][1:]):
            return _REFUSED
        version = checked[0][0]
    if version is not None:
        found: DocumentPage | None = copies.get(key, version)
        if found is not None:
            return found
    parameters = [practice_id, projection, practice_id, hot.order_id(lab_id), account_number]
    rows = yield hot.lab_page(), [*parameters, limit], False
    items = [row[0] for row in rows]
    if None in items:
        return None
    result = DocumentPage(items, len(items))
    copies.put(key, rows[0][1] if rows else version, result)
    return result


# What a lab page's steps return when the caller's guard refuses.
_REFUSED: Any = object()


async def stored_lab_page_async(
    db: Database,
    practice_id: int,
    projection: str,
    lab_id: uuid.UUID,
    account_number: str,
    limit: int,
    guard: Guard | None = None,
) -> DocumentPage | None:
    """The list items of a lab account's ``limit`` newest orders (drafts included), kept
    as a page whose ``body`` the caller may assemble once; None when ``guard`` refuses."""
    steps = _lab_page_steps(db, practice_id, projection, lab_id, account_number, limit, guard)
    found = await _run_async(db, steps)
    if found is _REFUSED:
        return None
    if found is not None:
        return found  # type: ignore[no-any-return]
    if guard is not None and _hot(db) is None:  # the guard was not read: read it now
        checked = await db.fetch_raw_async(
            f"SELECT {guard.columns}", list(guard.parameters), shared=True
        )
        if any(value is None for value in checked[0]):
            return None
    flt = OrderFilter(lab_id=lab_id, lab_account_number=account_number)
    return await asyncio.to_thread(
        _core_page, db, practice_id, projection, flt, limit, 0, Sort.NEWEST, False
    )


def _is_hot_page(flt: OrderFilter, sort: Sort, with_last: bool) -> bool:
    simple = flt.by_status_only and sort is Sort.NEWEST and not with_last
    return simple and (flt.statuses is None or bool(flt.statuses))


def stored_page(
    db: Database,
    practice_id: int,
    projection: str,
    flt: OrderFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = Sort.NEWEST,
    with_last: bool = False,
) -> DocumentPage:
    """``page`` with its own connection: the hot statement (or its copy) when the filter is
    by status only and the sort is newest first, else SQLAlchemy Core."""
    if _is_hot_page(flt, sort, with_last):
        found = _run(db, _page_steps(db, practice_id, projection, flt, limit, offset))
        if found is not None:
            return found  # type: ignore[no-any-return]
    return _core_page(db, practice_id, projection, flt, limit, offset, sort, with_last)


async def stored_page_async(
    db: Database,
    practice_id: int,
    projection: str,
    flt: OrderFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = Sort.NEWEST,
    with_last: bool = False,
) -> DocumentPage:
    """``stored_page`` for a route on the event loop (PostgreSQL reads do not block it)."""
    if _is_hot_page(flt, sort, with_last):
        steps = _page_steps(db, practice_id, projection, flt, limit, offset)
        found = await _run_async(db, steps)
        if found is not None:
            return found  # type: ignore[no-any-return]
    # Core blocks: off the event loop.
    return await asyncio.to_thread(
        _core_page, db, practice_id, projection, flt, limit, offset, sort, with_last
    )


def _core_page(
    db: Database,
    practice_id: int,
    projection: str,
    flt: OrderFilter,
    limit: int,
    offset: int,
    sort: Sort,
    with_last: bool,
) -> DocumentPage:
    with db.reading() as reader:
        return page(
            reader,
            practice_id,
            projection,
            flt,
            limit=limit,
            offset=offset,
            sort=sort,
            with_last=with_last,
        )


def stored_detail(
    db: Database,
    practice_id: int,
    projection: str,
    order_id: uuid.UUID,
    hidden_statuses: tuple[str, ...] = (),
) -> bytes:
    """``detail`` on a connection of its own (the hot statement, or its copy, when the
    document is stored)."""
    found = _run(db, _detail_steps(db, practice_id, projection, order_id, hidden_statuses))
    if found is not None:
        return found  # type: ignore[no-any-return]
    with db.reading() as reader:
        return detail(reader, practice_id, projection, order_id, hidden_statuses)


async def stored_detail_async(
    db: Database,
    practice_id: int,
    projection: str,
    order_id: uuid.UUID,
    hidden_statuses: tuple[str, ...] = (),
) -> bytes:
    """``stored_detail`` for a route on the event loop (PostgreSQL reads do not block it)."""
    steps = _detail_steps(db, practice_id, projection, order_id, hidden_statuses)
    found = await _run_async(db, steps)
    if found is not None:
        return found  # type: ignore[no-any-return]
    return await asyncio.to_thread(
        _core_detail, db, practice_id, projection, order_id, hidden_statuses
    )


def _core_detail(
    db: Database,
    practice_id: int,
    projection: str,
    order_id: uuid.UUID,
    hidden_statuses: tuple[str, ...],
) -> bytes:
    with db.reading() as reader:
        return detail(reader, practice_id, projection, order_id, hidden_statuses)


async def kept_async(
    db: Database, practice_id: int, key: Hashable, render: Callable[[], bytes | None]
) -> bytes | None:
    """What ``render`` gives (run in a worker thread: it may use a blocking session), kept
    with the practice's order version it was read under and served again while that
    version stands: for a dialect's reading of one order that is not a stored document
    (it joins the order with rows of the dialect's own that raise the version too, such as
    the portal's synced records). ``key`` must name the dialect and the object. Nothing is
    kept for None (e.g. not found: the route answers that) or without a version row."""
    hot = _hot(db)
    if hot is None:
        return await asyncio.to_thread(render)
    copies = _copies_of(db)[1]
    versions = await db.fetch_raw_async(hot.version, [practice_id], shared=True)
    version: int | None = versions[0][0] if versions else None
    if version is not None:
        found: bytes | None = copies.get(key, version)
        if found is not None:
            return found
    # Read after the version: a change in between raises it, so this copy is not served.
    value = await asyncio.to_thread(render)
    if value is not None:
        copies.put(key, version, value)
    return value
