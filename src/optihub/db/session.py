"""Engines and sessions. One ``Database`` per process, shared by the app, CLI and workers."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from optihub.db import prepared
from optihub.db.async_reads import AsyncReadPools
from optihub.db.nul import refuse_nul, refuse_nul_listener
from optihub.db.reader import ReaderThread
from optihub.errors import OptiHubError

T = TypeVar("T")

# What a database call may raise: SQLAlchemy's errors, and psycopg's own from the async
# read connections (``db.async_reads``), which bypass SQLAlchemy.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, psycopg.Error)

# Threads that may hold a connection at once: FastAPI's thread pool (anyio's default limiter,
# 40 tokens), the event loop's reads, the webhook worker and the periodic cache reloads.
POOL_SIZE = 40
# Seconds to wait for a PostgreSQL connection to open, and for a pooled one to be free.
CONNECT_TIMEOUT = 5
POOL_TIMEOUT = 10
POOL_OVERFLOW = 10
# PostgreSQL write transactions of requests at once (``Database.write_threads``): within
# the pool's overflow beside the thread pool's 40.
POSTGRESQL_WRITE_THREADS = 8
# A write thread keeps its connection between transactions while it is busy; one idle this
# long goes back to the pool, and the next transaction checks one out (pinged) again.
WRITE_CONNECTION_IDLE_SECONDS = 2.0
SQLITE_MMAP_BYTES = 2 << 30  # SQLite caps it at its compile-time maximum (2 GiB by default)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Reads map the file instead of copying each page in with a system call.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


class _SQLiteWriters:
    """This process's SQLite writers, one at a time, queued on a lock before ``BEGIN
    IMMEDIATE`` and released when their transaction ends (commit or rollback).

    SQLite's own queue for the write lock is its busy handler: a writer that finds the lock
    taken sleeps 1, 2, 5, 10 … 100 ms between tries, whether or not the lock was freed
    meanwhile. Four concurrent creates spent most of their time asleep there (p99 0.7–1.4 s
    at 4 clients, bench/dialects.py). Writers of this process now wait on a lock that hands
    over the moment the holder commits; other processes still meet SQLite's busy handler.
    A writer that waits ``WAIT_SECONDS`` (the busy timeout) goes on to ``BEGIN IMMEDIATE``
    without the lock, so nothing waits longer than before (e.g. a thread that opens a second
    write transaction while it holds one fails as before instead of waiting forever)."""

    WAIT_SECONDS = 10.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None  # the DBAPI connection whose transaction holds the lock

    def begin(self, conn: Any) -> None:
        dbapi = conn.connection.dbapi_connection
        held = self._lock.acquire(timeout=self.WAIT_SECONDS)
        try:
            dbapi.execute("BEGIN IMMEDIATE")  # on the DBAPI: no SQL of the caller's in it
        except BaseException:
            if held:
                self._lock.release()
            raise
        if held:
            self._holder = dbapi

    def ended(self, connection: Any) -> None:
        """After a DBAPI commit or rollback (the pool's reset on return included), or when
        a connection is closed or dropped. ``connection``: the DBAPI connection or the
        pool's proxy for it (which the dialect is given)."""
        dbapi = getattr(connection, "dbapi_connection", connection)
        if dbapi is not None and self._holder is dbapi:
            self._holder = None
            self._lock.release()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN, so two of them queue instead of one failing with
    # "database is locked" when it upgrades a read lock mid-transaction; this process's
    # writers queue on a lock first (``_SQLiteWriters``). Read-only work
    # (``Database.reading``) begins deferred and never waits for a writer (WAL).
    if conn.get_execution_options().get("optihub_read_only"):
        conn.exec_driver_sql("BEGIN")
        return
    writers: _SQLiteWriters | None = getattr(conn.engine, "optihub_writers", None)
    if writers is None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        writers.begin(conn)


def _queue_sqlite_writers(engine: Engine) -> None:
    """Queue the engine's writers on ``_SQLiteWriters``: released after the DBAPI commit or
    rollback that ends their transaction, and when their connection is closed or dropped."""
    writers = _SQLiteWriters()
    engine.optihub_writers = writers  # type: ignore[attr-defined]
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def commit(dbapi_connection: Any) -> None:
        try:
            do_commit(dbapi_connection)
        finally:
            writers.ended(dbapi_connection)

    def rollback(dbapi_connection: Any) -> None:
        try:
            do_rollback(dbapi_connection)
        finally:
            writers.ended(dbapi_connection)

    dialect.do_commit = commit  # type: ignore[method-assign]
    dialect.do_rollback = rollback  # type: ignore[method-assign]

    def gone(dbapi_connection: Any, *_args: Any) -> None:
        writers.ended(dbapi_connection)

    event.listen(engine, "close", gone)
    event.listen(engine, "invalidate", gone)
    event.listen(engine, "close_detached", gone)


def json_text(value: Any) -> str:
    """A JSON column's value as the text stored (SQLite) or sent (PostgreSQL's JSONB):
    ``orjson`` (a lab order writes about ten JSON values; the standard library's encoder
    was 2–3 % of its server time), the standard library's for what ``orjson`` does not
    write (an integer beyond 64 bits, kept exact as a client sent it)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with OptiHub's per-dialect settings.

    SQLite: the file's folder is created, WAL and foreign keys are on, and every transaction
    begins IMMEDIATE (one writer at a time, waiting up to 10 s). PostgreSQL: psycopg 3, pool
    pre-ping so a restarted server does not fail the first request.
    """
    parsed = make_url(url)
    kwargs.setdefault("json_serializer", json_text)
    engine = _make_engine(parsed, url, **kwargs)
    event.listen(engine, "before_cursor_execute", refuse_nul_listener)
    if engine.dialect.name == "postgresql":
        prepared.send_deferred_on(engine)
    return engine


def _make_engine(parsed: Any, url: str, **kwargs: Any) -> Engine:
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.database and parsed.database != ":memory:" and "poolclass" not in kwargs:
            # One pooled connection per thread that may read at once: an overflow connection
            # is opened (and its PRAGMAs run) and closed again for every request that uses it.
            kwargs.setdefault("pool_size", POOL_SIZE)
            kwargs.setdefault("max_overflow", POOL_OVERFLOW)
            # The most recently used connection first: its page cache is the warm one.
            kwargs.setdefault("pool_use_lifo", True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself (pysqlite's own handling defers it).
            dbapi_connection.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin)
        _queue_sqlite_writers(engine)
        return engine
    if parsed.drivername in {"postgresql", "postgres"}:
        url = str(parsed.set(drivername="postgresql+psycopg"))
    kwargs.setdefault("pool_pre_ping", True)
    if "connect_timeout" not in parsed.query:
        # A database host that does not answer (not one that refuses): give up and answer
        # 503 well within a client's timeout rather than hang the request.
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT)
        kwargs["connect_args"] = connect_args
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        kwargs.setdefault("pool_use_lifo", True)
    return create_engine(url, **kwargs)


# The positional parameter marker of each DBAPI parameter style ``fetch_raw`` speaks.
PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


class Database:
    """An engine plus its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._own: tuple[int, threading.Thread, Any, Any] | None = None
        self._binary_results = self.engine.dialect.name == "postgresql"
        self._own_lock = threading.Lock()
        self._async_reads: AsyncReadPools | None = None
        self._reader_thread: ReaderThread | None = None
        self._write_threads: ThreadPoolExecutor | None = None
        self._write_connections = threading.local()
        self._kept_connections: set[Connection] = set()
        if self.engine.dialect.name == "postgresql" and self.engine.dialect.driver == "psycopg":
            _args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
            kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
            self._async_reads = AsyncReadPools(dict(kwargs))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(
            self.engine.execution_options(optihub_read_only=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed if the block succeeds, else rolled back."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for read-only queries; on SQLite it never waits for the write lock."""
        with self.engine.connect().execution_options(optihub_read_only=True) as connection:
            yield connection

    @property
    def placeholder(self) -> str:
        """The positional parameter marker of ``fetch_raw`` statements on this database."""
        return PLACEHOLDERS[self.engine.dialect.paramstyle]

    def fetch_raw(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """The rows of one read-only statement in the DBAPI's own parameter style, on this
        thread's own connection in autocommit mode: no pool checkout, no transaction to
        begin or roll back, no SQLAlchemy execution layer (for the hottest reads).

        One statement sees one snapshot and leaves nothing open. The connection belongs to
        the first thread that asks (the event loop's, in a server); other threads use a
        pooled one. A connection that fails is dropped, and the next call opens another.
        """
        refuse_nul(parameters)
        own = self._own
        if own is None or own[0] != threading.get_ident():
            own = self._claim()
            if own is None:
                pooled = self.engine.raw_connection()
                try:
                    cursor = pooled.cursor()
                    cursor.execute(sql, parameters)
                    return list(cursor.fetchall())
                finally:
                    pooled.close()  # the pool rolls back what the statement began
        try:
            if self._binary_results:  # psycopg: bytea as bytes, not hex text to decode
                return own[2].execute(sql, parameters, binary=True).fetchall()  # type: ignore[no-any-return]
            return own[2].execute(sql, parameters).fetchall()  # type: ignore[no-any-return]
        except Exception:
            self._release()
            raise

    async def fetch_raw_async(
        self, sql: str, parameters: Sequence[Any], *, shared: bool = False
    ) -> list[Any]:
        """``fetch_raw`` for the event loop, which serves other requests while it waits: on
        PostgreSQL the statement runs on one of the loop's async connections; on SQLite on
        the database's reader thread (one thread, its own connection: a read never stalls
        the loop, even behind a slow disk).

        ``shared``: concurrent callers of the same statement and parameters share one
        execution that starts after each of them asked (``AsyncReads.fetch_shared``)."""
        if self._async_reads is None:
            return await self._reader().fetch(sql, parameters, shared=shared)
        refuse_nul(parameters)
        reads = self._async_reads.current()
        if shared:
            return await reads.fetch_shared(sql, parameters)
        return await reads.fetch(sql, parameters)

    def _reader(self) -> ReaderThread:
        reader = self._reader_thread
        if reader is None:
            with self._own_lock:
                if self._reader_thread is None:
                    # ``fetch_raw`` looked up per statement (tests wrap it on the instance).
                    self._reader_thread = ReaderThread(lambda sql, ps: self.fetch_raw(sql, ps))
                reader = self._reader_thread
        return reader

    async def close_async_reads(self) -> None:
        """Close the running loop's async connections (at application shutdown)."""
        if self._async_reads is not None:
            await self._async_reads.aclose_current()

    def _claim(self) -> tuple[int, threading.Thread, Any, Any] | None:
        """This thread's own connection, opened if no live thread holds one (else None)."""
        with self._own_lock:
            if self._own is not None and self._own[1].is_alive():
                return None
            self._release()
            pooled = self.engine.raw_connection()
            driver = pooled.driver_connection
            assert driver is not None, "a pooled connection has its driver connection"
            pooled.detach()  # closed for real when released, never returned to the pool
            if self.engine.dialect.name == "postgresql":
                driver.rollback()  # the pool's pre-ping may have begun a transaction
                driver.autocommit = True
            self._own = (threading.get_ident(), threading.current_thread(), driver, pooled)
            return self._own

    def _release(self) -> None:
        own, self._own = self._own, None
        if own is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                own[3].close()

    def write_threads(self) -> ThreadPoolExecutor:
        """The threads the requests' write transactions run on (``web``'s
        ``run_transaction``): one on SQLite, ``POSTGRESQL_WRITE_THREADS`` on PostgreSQL.

        SQLite takes one writer at a time; from the thread pool, concurrent writes each
        woke a thread to queue on the writer lock (``_SQLiteWriters``) and handed it, and
        the interpreter lock, from thread to thread. Queued on one thread they run back to
        back: 15–20 % more practice-API creates a second at 4 clients (bench/dialects.py,
        A/B runs). Other writers (sync routes, the webhook worker, the CLI) still queue on
        the lock. PostgreSQL's writers run side by side; an executor of their own hands a
        write to a thread for less of the event loop's time than the framework's thread
        pool (anyio's ``to_thread``: its limiter, task and cancel scope per call were
        a tenth of the loop's samples for a practice-API create)."""
        executor = self._write_threads
        if executor is None:
            with self._own_lock:
                if self._write_threads is None:
                    sqlite = self.engine.dialect.name == "sqlite"
                    self._write_threads = ThreadPoolExecutor(
                        1 if sqlite else POSTGRESQL_WRITE_THREADS,
                        thread_name_prefix=f"{self.engine.dialect.name}-writes",
                    )
                executor = self._write_threads
        return executor

    def write(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in one transaction, committed when it returns, rolled back when
        it raises: for a write thread (``write_threads``), on the connection the thread
        keeps between its transactions.

        A connection checked out of the pool per transaction costs a ping on PostgreSQL (a
        round trip: ``pool_pre_ping``, there so a restarted server fails no request), the
        pool's checkout and reset, and SQLAlchemy's ``Connection`` around it: of a practice
        API create's two INSERTs, BEGIN and COMMIT, the ping was one round trip in five. A
        kept connection is pinged by none of that. It is given back to the pool when the
        thread was idle over ``WRITE_CONNECTION_IDLE_SECONDS`` (the next is checked out,
        and pinged, afresh) and discarded when a transaction on it fails with anything but
        OptiHub's own refusals (a database error: the connection may be the broken part;
        the next transaction opens a new one)."""
        kept = self._write_connections
        connection: Connection | None = getattr(kept, "connection", None)
        now = time.monotonic()
        if connection is not None and now - kept.used > WRITE_CONNECTION_IDLE_SECONDS:
            self._drop(connection)
            connection = None
        if connection is None:
            connection = self.engine.connect()
            with self._own_lock:
                self._kept_connections.add(connection)
        kept.connection = connection
        try:
            with self.sessions(bind=connection) as session:
                try:
                    result = work(session)
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except OptiHubError:
            kept.used = time.monotonic()
            raise
        except BaseException:
            kept.connection = None
            self._drop(connection, broken=True)
            raise
        kept.used = time.monotonic()
        return result

    def release_write_connection(self) -> None:
        """Give the calling thread's kept connection (``write``) back to the pool now."""
        kept = self._write_connections
        connection: Connection | None = getattr(kept, "connection", None)
        kept.connection = None
        if connection is not None:
            self._drop(connection)

    def idle_write_connections(self) -> int:
        """How many connections the write threads keep checked out between their
        transactions (``write``) and are in none now."""
        with self._own_lock:
            kept = list(self._kept_connections)
        return sum(1 for connection in kept if not connection.in_transaction())

    def _drop(self, connection: Connection, *, broken: bool = False) -> None:
        """Give ``connection`` back to the pool; ``broken``: discard its DBAPI connection
        instead (the next checkout opens a new one)."""
        with self._own_lock:
            self._kept_connections.discard(connection)
        with contextlib.suppress(Exception):  # a broken connection may fail to close
            if broken:
                connection.invalidate()
            connection.close()

    def dispose(self) -> None:
        if self._write_threads is not None:
            self._write_threads.shutdown(wait=True)
            self._write_threads = None
        for connection in list(self._kept_connections):  # their threads have ended
            self._drop(connection)
        if self._reader_thread is not None:
            self._reader_thread.close()
            self._reader_thread = None
        with self._own_lock:
            self._release()
        if self._async_reads is not None:
            self._async_reads.close_all()
        self.engine.dispose()
