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


class AsyncReads:
    """The async connections of one event loop."""

    def __init__(self, connect_kwargs: dict[str, Any], size: int = SIZE) -> None:
        self._kwargs = connect_kwargs
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._open: set[psycopg.AsyncConnection[Any]] = set()
        self._slots = asyncio.Semaphore(size)

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
