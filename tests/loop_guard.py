"""A guard for the tests that drive the application: a synchronous database or Redis call
made on the event loop's thread (which stalls every other request the loop serves) fails the
test that made it, naming the call.

Watched: every statement SQLAlchemy runs (``before_cursor_execute`` on the test's engine),
``Database.fetch_raw`` (the hot reads' own connection), every prepared statement
(``db.prepared.send``: the writes' statements sent past SQLAlchemy), and a Redis command
(``redis.Redis.execute_command``). A call is on the loop when the thread that makes it is
running an asyncio event loop. Threads of the pool (sync routes, ``run_in_threadpool``,
``asyncio.to_thread``) run none, so their calls are fine.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from optihub.db.session import Database


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _where() -> str:
    frames = [
        f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_stack()
        if "/src/optihub/" in frame.filename
    ]
    return " ← ".join(reversed(frames[-4:])) or "outside OptiHub"


@contextmanager
def guarded(db: Database) -> Iterator[list[str]]:
    """Collect each blocking call made on an event loop's thread while the block runs."""
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if _on_loop():
            seen.append(f"SQL on the event loop: {sql.split()[0]} … at {_where()}")

    original = Database.fetch_raw

    def fetch_raw(self: Database, sql: str, parameters: Any) -> list[Any]:
        if _on_loop():
            seen.append(f"fetch_raw on the event loop at {_where()}")
        return original(self, sql, parameters)

    from optihub.db import prepared

    original_send = prepared.send

    def send(driver: Any, sql: str, values: Any, many: bool) -> Any:
        if _on_loop():
            seen.append(f"prepared statement on the event loop: {sql.split()[0]} … at {_where()}")
        return original_send(driver, sql, values, many)

    import redis

    original_command = redis.Redis.execute_command

    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        if _on_loop():
            seen.append(f"Redis {args[0] if args else ''} on the event loop at {_where()}")
        return original_command(self, *args, **options)

    event.listen(db.engine, "before_cursor_execute", statement)
    Database.fetch_raw = fetch_raw  # type: ignore[method-assign]
    prepared.send = send
    redis.Redis.execute_command = execute_command  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
        Database.fetch_raw = original  # type: ignore[method-assign]
        prepared.send = original_send
        redis.Redis.execute_command = original_command  # type: ignore[method-assign]
