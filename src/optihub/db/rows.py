"""New rows written at once with Core INSERTs, then kept by the session as loaded objects.

The unit of work (``Session.flush``) is most of what a create costs: it sorts the pending
objects, runs each through its mapper and the flush hooks, and emits the INSERTs. A use case
that builds a handful of new rows it knows completely (an order, its lines and first
history entry) writes them here instead: one INSERT per table (executemany), in the order
given (parents first), and the objects then join the session as persistent, as though just
loaded — so the caller reads and changes them as usual (a later status change is an UPDATE
at the next flush, a new line an INSERT).

What the unit of work would have done and this does too: Python-side column defaults
(``default=``) are applied to the objects; foreign keys the caller has not set are not
guessed (set them). What it does not do: the ORM's flush hooks do not see these rows, so a
caller whose rows a hook watches tells that hook itself (``reads.documents.note_inserted``).
Rows whose primary key the database assigns (an integer identity) are written one by one
with ``RETURNING``.

``new_row`` builds such an object the way the ORM's loader builds a loaded one, without the
attribute events a mapped class's constructor runs for each keyword (an order's object:
6 µs rather than 100).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, insert, inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.instrumentation import ClassManager

from optihub.db.prepared import Prepared

_PLANS: dict[type, tuple[tuple[tuple[str, str, Any], ...], Prepared, str | None]] = {}

T = TypeVar("T")
_BUILDERS: dict[type, tuple[ClassManager[Any], frozenset[str]]] = {}


def new_row(cls: type[T], **values: Any) -> T:
    """A new object of the mapped class ``cls`` holding ``values`` (its attributes' names,
    columns or relationships), for ``write_rows`` and ``keep``: built as the ORM's loader
    builds one, the values set straight into the object's dict. What the mapped class's
    constructor does beyond setting attributes does not run (OptiHub's models do nothing
    more); an unknown name is refused, as the constructor refuses it."""
    found = _BUILDERS.get(cls)
    if found is None:
        mapper: Mapper[Any] = inspect(cls)
        found = _BUILDERS[cls] = (mapper.class_manager, frozenset(mapper.attrs.keys()))
    manager, names = found
    if not names.issuperset(values):
        unknown = ", ".join(sorted(set(values) - names))
        raise TypeError(f"{cls.__name__} has no attribute {unknown}")
    obj: T = manager.new_instance()
    obj.__dict__.update(values)
    return obj


def _plan(cls: type) -> tuple[tuple[tuple[str, str, Any], ...], Prepared, str | None]:
    """((attribute, column, default) per column, the INSERT, the identity attribute)."""
    found = _PLANS.get(cls)
    if found is None:
        mapper: Mapper[Any] = inspect(cls)
        table = mapper.local_table
        assert isinstance(table, Table), cls
        columns = []
        identity = None
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            default = column.default
            if default is not None and not (default.is_scalar or default.is_callable):
                raise TypeError(f"{cls.__name__}.{prop.key}: only plain defaults are applied")
            if column.server_default is not None and default is None:
                raise TypeError(f"{cls.__name__}.{prop.key}: a server default is not applied")
            if column.primary_key and column.autoincrement is True:
                identity = prop.key
                continue
            columns.append((prop.key, column.key, default))
        statement = insert(table)
        if identity is not None:
            statement = statement.returning(table.c[mapper.get_property(identity).columns[0].key])
        prepared = Prepared(statement, [column for _attribute, column, _default in columns])
        found = _PLANS[cls] = (tuple(columns), prepared, identity)
    return found


def write_rows(session: Session, objects: Sequence[Any]) -> None:
    """INSERT ``objects`` (new, in no session) on the session's connection, in the order
    given; the objects get their defaults (and database-assigned keys). ``keep`` them
    after. Rows whose key the caller gives are deferred (``Prepared.defer``: on PostgreSQL,
    sent with the transaction's next statement or its COMMIT), so they must take no unique
    key another row may hold (for one that may: ``write_row_unless_taken``)."""
    groups: dict[type, list[Any]] = {}
    for obj in objects:
        groups.setdefault(type(obj), []).append(obj)
    for cls, group in groups.items():
        columns, statement, identity = _plan(cls)
        rows = [_row(obj, columns) for obj in group]
        if identity is None:
            statement.defer_many(session, rows)
        else:
            for obj, row in zip(group, rows, strict=True):
                setattr(obj, identity, statement.execute(session, row).fetchone()[0])


def write_row_unless_taken(session: Session, obj: Any) -> bool:
    """``write_rows`` of one object, unless a unique key of its row is held by another row:
    then nothing is written and False is returned (no error, so no savepoint is needed to
    go on: ``Prepared.insert_unless_taken``). Not for rows whose key the database assigns."""
    columns, _statement, identity = _plan(type(obj))
    if identity is not None:
        raise TypeError(f"{type(obj).__name__}: its key is the database's to assign")
    found = _UNLESS_TAKEN.get(type(obj))
    if found is None:
        table = inspect(type(obj)).local_table
        found = _UNLESS_TAKEN[type(obj)] = Prepared.insert_unless_taken(
            table, [column for _attribute, column, _default in columns]
        )
    return bool(found.execute(session, _row(obj, columns)).rowcount == 1)


_UNLESS_TAKEN: dict[type, Prepared] = {}


def _row(obj: Any, columns: tuple[tuple[str, str, Any], ...]) -> dict[str, Any]:
    """The object's column values, its defaults applied to it where it has none."""
    given = obj.__dict__
    row = {}
    for attribute, column, default in columns:
        if attribute in given:
            value = given[attribute]
        elif default is None:
            value = given[attribute] = None  # a new object: no event to run for it
        else:
            value = given[attribute] = default.arg(None) if default.is_callable else default.arg
        row[column] = value
    return row


def keep(session: Session, objects: Sequence[Any]) -> None:
    """Make ``objects`` (written by ``write_rows``) the session's persistent objects, their
    values and collections as loaded: no flush writes them again."""
    for obj in objects:
        make_transient_to_detached(obj)
    for obj in objects:
        session.add(obj)
