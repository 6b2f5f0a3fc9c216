"""Hot reads on PostgreSQL without blocking the event loop: a few psycopg async connections
per loop, in autocommit, each statement its own snapshot.

A read on the loop's own blocking connection stops every other request for the round trip
to the server; with these, the loop serves other requests while PostgreSQL answers, so
throughput grows with concurrent clients instead of falling. SQLite needs none of this:
its reads run in-process in microseconds (``Database.fetch_raw``).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import pq
from psycopg.pq import ConnStatus, ExecStatus

# Statements in flight at once per event loop (the server has two cores' worth of work to
# overlap; more connections only queue inside PostgreSQL).
SIZE = 4
# Executions of one shared statement in flight at once; callers beyond them share the next.
SHARED_PARALLEL = 1
# Seconds a lane waits for a statement's answer before it gives the connection up: a
# statement whose answer never comes (its connection lost without the socket saying so)
# fails its callers (503) instead of holding every later round of the statement.
ANSWER_SECONDS = 10.0


class _Round:
    """Callers of one shared statement: the next round is sent when the one in flight
    returns, for everyone who asked meanwhile."""

    __slots__ = ("flying", "next")

    def __init__(self) -> None:
        self.flying = 0  # executions in flight
        self.next: asyncio.Future[list[Any]] | None = None


class _Lane:
    """One connection driven through libpq directly, for the shared statements: prepared
    once, then each execution is one send and one read, with the socket registered with
    the loop for as long as the connection lives.

    psycopg's async execute costs the loop about a hundred microseconds of Python per
    statement (a cursor, generators, a reader added and removed); a version row needs a
    tenth of that. Parameters go as text, and results come back as text and are read into
    ``int`` (integer columns) or ``str``: the shared statements read a few small values.
    """

    __slots__ = ("_conn", "_fd", "_loop", "_names", "_pg", "_results", "_waiter", "broken")

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._pg = conn.pgconn
        self._pg.nonblocking = 1
        self._fd = self._pg.socket
        self._loop = asyncio.get_running_loop()
        self._names: dict[str, bytes] = {}  # statement → its prepared name
        self._waiter: asyncio.Future[pq.abc.PGresult | None] | None = None
        self._results: list[pq.abc.PGresult] = []
        self.broken = False
        self._loop.add_reader(self._fd, self._readable)

    @classmethod
    async def open(cls, connect_kwargs: dict[str, Any]) -> _Lane:
        return cls(await psycopg.AsyncConnection.connect(autocommit=True, **connect_kwargs))

    async def run(self, sql: str, values: list[bytes | None]) -> list[tuple[Any, ...]]:
        """The statement's rows (one statement at a time on a lane; ``values``: the
        parameters as text, see ``_text``)."""
        expiry = self._loop.call_later(ANSWER_SECONDS, self._expire)
        try:
            name = self._names.get(sql)
            if name is None:
                name = b"optihub_shared_%d" % len(self._names)
                self._pg.send_prepare(name, _numbered(sql).encode())
                self._check(await self._answer(), ExecStatus.COMMAND_OK)
                self._names[sql] = name
            self._pg.send_query_prepared(name, values)
            result = self._check(await self._answer(), ExecStatus.TUPLES_OK)
        except BaseException as exc:
            # A statement error leaves the connection as it was; a lost connection, or a
            # caller cancelled while the statement is out, leaves it unusable.
            if self._waiter is not None or self._pg.status != ConnStatus.OK:
                self.close(exc)
            raise
        finally:
            expiry.cancel()
        return _rows(result)

    def _expire(self) -> None:
        self.close(psycopg.OperationalError(f"no answer from the server in {ANSWER_SECONDS:g} s"))

    def _answer(self) -> asyncio.Future[pq.abc.PGresult | None]:
        """The statement just sent, flushed; its last result when the server has answered."""
        if self.broken or self._pg.status != ConnStatus.OK:
            raise psycopg.OperationalError("the connection is closed")
        if self._pg.flush():  # the rest when the socket can take it (rare: a few bytes)
            self._loop.add_writer(self._fd, self._writable)
        self._waiter = self._loop.create_future()
        return self._waiter

    def _writable(self) -> None:
        try:
            if not self._pg.flush():
                self._loop.remove_writer(self._fd)
        except psycopg.Error as exc:
            self.close(exc)

    def _readable(self) -> None:
        pg = self._pg
        try:
            pg.consume_input()
            while not pg.is_busy():
                result = pg.get_result()
                if result is None:  # the statement's results are all in
                    waiter, self._waiter = self._waiter, None
                    results, self._results = self._results, []
                    if waiter is not None and not waiter.done():
                        waiter.set_result(results[-1] if results else None)
                    return
                self._results.append(result)
        except psycopg.Error as exc:
            self.close(exc)
            return
        if pg.status != ConnStatus.OK:  # the server closed it
            self.close(psycopg.OperationalError("the server closed the connection"))

    def _check(self, result: pq.abc.PGresult | None, expected: ExecStatus) -> pq.abc.PGresult:
        if result is None:
            raise psycopg.OperationalError("no result from the server")
        if result.status != expected:
            raise psycopg.errors.error_from_result(result)
        return result

    def finish(self) -> None:
        """Close from any thread or after the loop is gone."""
        self.broken = True
        with contextlib.suppress(Exception):
            self._pg.finish()

    def close(self, exc: BaseException | None = None) -> None:
        """Stop reading, fail whoever waits, close the connection (from the loop's thread)."""
        if self.broken:
            return
        self.broken = True
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(
                exc if isinstance(exc, Exception) else psycopg.OperationalError("closed")
            )
        with contextlib.suppress(Exception):
            self._pg.finish()


def _numbered(sql: str) -> str:
    """``%s`` placeholders as ``$1, $2, …`` (the hot statements contain no other ``%``)."""
    if "%%" in sql or "%(" in sql:
        raise ValueError("a shared statement takes positional %s placeholders only")
    parts = sql.split("%s")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


def _text(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"a shared statement takes int or str parameters, not {type(value)}")
    return str(value).encode()


_INTEGERS = frozenset({20, 21, 23})  # int8, int2, int4


def _rows(result: pq.abc.PGresult) -> list[tuple[Any, ...]]:
    columns = range(result.nfields)
    integer = [result.ftype(c) in _INTEGERS for c in columns]
    rows = []
    for r in range(result.ntuples):
        row: list[Any] = []
        for c in columns:
            raw = result.get_value(r, c)
            row.append(None if raw is None else int(raw) if integer[c] else raw.decode())
        rows.append(tuple(row))
    return rows


class AsyncReads:
    """The async connections of one event loop."""

    def __init__(
        self, connect_kwargs: dict[str, Any], size: int = SIZE, parallel: int = SHARED_PARALLEL
    ) -> None:
        self._kwargs = connect_kwargs
        self._parallel = parallel
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._open: set[psycopg.AsyncConnection[Any]] = set()
        self._slots = asyncio.Semaphore(size)
        self._lanes: list[_Lane] = []  # idle
        self._open_lanes: set[_Lane] = set()
        self._rounds: dict[tuple[str, tuple[Any, ...]], _Round] = {}

    async def fetch_shared(self, sql: str, parameters: Any) -> list[Any]:
        """``fetch`` for a small statement many requests repeat (a version row): callers
        that ask while the same statement is in flight share the *next* execution, which
        starts after they asked, so each sees everything committed before it asked; under
        load one round trip answers them all, and a lone caller just runs it."""
        key = (sql, tuple(parameters))
        found = self._rounds.get(key)
        if found is None:
            found = self._rounds[key] = _Round()
        if found.flying < self._parallel:  # run it now, then the round of who came meanwhile
            found.flying += 1
            try:
                return await self.fetch_small(sql, parameters)
            finally:
                self._next_round(key, found)
        if found.next is None:
            found.next = asyncio.get_running_loop().create_future()
        return await asyncio.shield(found.next)

    def _next_round(self, key: tuple[str, tuple[Any, ...]], found: _Round) -> None:
        """After an execution: send the next one for those who asked meanwhile, if any (it
        takes over the finished execution's place)."""
        if found.next is not None:
            asyncio.get_running_loop().create_task(self._fly(key, found))  # still flying
            return
        found.flying -= 1
        if not found.flying and self._rounds.get(key) is found:
            del self._rounds[key]

    async def _fly(self, key: tuple[str, tuple[Any, ...]], found: _Round) -> None:
        waiting, found.next = found.next, None
        assert waiting is not None
        try:
            waiting.set_result(await self.fetch_small(key[0], key[1]))
        except Exception as exc:  # each caller gets the failure
            waiting.set_exception(exc)
            waiting.exception()  # retrieved: no "never retrieved" warning
        finally:
            self._next_round(key, found)

    async def fetch(self, sql: str, parameters: Any) -> list[Any]:
        async with self._slots:
            if self._idle:
                conn = self._idle.pop()
            else:
                conn = await psycopg.AsyncConnection.connect(autocommit=True, **self._kwargs)
                self._open.add(conn)
            try:
                cursor = await conn.execute(sql, parameters, binary=True)
                rows = await cursor.fetchall()
            except BaseException:
                self._open.discard(conn)
                with contextlib.suppress(Exception):
                    await conn.close()
                raise
            self._idle.append(conn)
            return rows

    async def fetch_small(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        """A statement with ``int``/``str`` parameters and small results (integer columns
        read as ``int``, others as ``str``) on a lean connection (``_Lane``)."""
        values = [_text(value) for value in parameters]  # refused before any connection
        async with self._slots:
            if self._lanes:
                lane = self._lanes.pop()
            else:
                lane = await _Lane.open(self._kwargs)
                self._open_lanes.add(lane)
            try:
                return await lane.run(sql, values)
            finally:
                if lane.broken:
                    self._open_lanes.discard(lane)
                else:
                    self._lanes.append(lane)

    async def aclose(self) -> None:
        lanes, self._open_lanes, self._lanes = self._open_lanes, set(), []
        for lane in lanes:
            lane.close()
        conns, self._open, self._idle = self._open, set(), []
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.close()

    def close_now(self) -> None:
        """Close from any thread or after the loop is gone (no await)."""
        lanes, self._open_lanes, self._lanes = self._open_lanes, set(), []
        for lane in lanes:
            lane.finish()
        conns, self._open, self._idle = self._open, set(), []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.pgconn.finish()


class AsyncReadPools:
    """``AsyncReads`` per running event loop (connections belong to the loop they opened on)."""

    def __init__(self, connect_kwargs: dict[str, Any]) -> None:
        self._kwargs = connect_kwargs
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncReads] = (
            weakref.WeakKeyDictionary()
        )

    def current(self) -> AsyncReads:
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(loop)
        if found is None:
            found = self._by_loop[loop] = AsyncReads(self._kwargs)
        return found

    async def aclose_current(self) -> None:
        found = self._by_loop.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found.aclose()

    def close_all(self) -> None:
        for reads in list(self._by_loop.values()):
            reads.close_now()
        self._by_loop.clear()
