"""One thread that runs a database's reads for the event loop (SQLite: its reads are
synchronous calls, which must not run on the loop's thread).

The loop hands a statement over and awaits its rows; the thread runs statements one after
another on its own connection. A statement marked shared joins an identical one (same SQL,
same parameters) that is queued and has not started yet: under load, the many requests
checking one version row wait for one execution that starts after each of them asked, so
none sees rows older than its own request.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any

Fetch = Callable[[str, Sequence[Any]], list[Any]]


class _Job:
    __slots__ = ("key", "parameters", "sql", "waiters")

    def __init__(self, key: Hashable | None, sql: str, parameters: Sequence[Any]) -> None:
        self.key = key
        self.sql = sql
        self.parameters = parameters
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[list[Any]]]] = []


class ReaderThread:
    def __init__(self, fetch: Fetch, name: str = "optihub-reads") -> None:
        self._fetch = fetch
        self._jobs: deque[_Job] = deque()
        self._pending: dict[Hashable, _Job] = {}
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def fetch(
        self, sql: str, parameters: Sequence[Any], *, shared: bool = False
    ) -> list[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the reader thread is closed")
            key = (sql, tuple(parameters)) if shared else None
            job = self._pending.get(key) if key is not None else None
            if job is None:
                job = _Job(key, sql, parameters)
                if key is not None:
                    self._pending[key] = job
                self._jobs.append(job)
                self._ready.notify()
            job.waiters.append((loop, future))
        return await future

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._jobs and not self._closed:
                    self._ready.wait()
                if not self._jobs:
                    return
                job = self._jobs.popleft()
                if job.key is not None:
                    self._pending.pop(job.key, None)  # started: later callers queue anew
            try:
                rows = self._fetch(job.sql, job.parameters)
            except BaseException as exc:  # handed to every waiter
                for loop, future in job.waiters:
                    loop.call_soon_threadsafe(_fail, future, exc)
            else:
                for loop, future in job.waiters:
                    loop.call_soon_threadsafe(_succeed, future, rows)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._ready.notify_all()
        self._thread.join(timeout=5)


def _succeed(future: asyncio.Future[list[Any]], rows: list[Any]) -> None:
    if not future.done():
        future.set_result(rows)


def _fail(future: asyncio.Future[list[Any]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
