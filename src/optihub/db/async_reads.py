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
from typing import Any

import psycopg

# Statements in flight at once per event loop (the server has two cores' worth of work to
# overlap; more connections only queue inside PostgreSQL).
SIZE = 4
# Executions of one shared statement in flight at once; callers beyond them share the next.
SHARED_PARALLEL = 1


class _Round:
    """Callers of one shared statement: the next round is sent when the one in flight
    returns, for everyone who asked meanwhile."""

    __slots__ = ("flying", "next")

    def __init__(self) -> None:
        self.flying = 0  # executions in flight
        self.next: asyncio.Future[list[Any]] | None = None


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
                return await self.fetch(sql, parameters)
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
            waiting.set_result(await self.fetch(key[0], key[1]))
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

    async def aclose(self) -> None:
        conns, self._open, self._idle = self._open, set(), []
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.close()

    def close_now(self) -> None:
        """Close from any thread or after the loop is gone (no await)."""
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
