"""Structured JSON logs (structlog) with the request id bound per request.

The access log (one line per request) is the one record written on every request, so in
JSON mode it skips structlog's processor chain and the stdlib formatter: ``access`` builds
the same fields (``method``, ``path``, ``route``, ``status``, ``duration_ms``, ``event``,
``request_id``, ``logger``, ``level``, ``timestamp``) with orjson and writes the line
straight to the handler's stream (on the event loop, the lines of one loop iteration in
one write). In console mode, or before ``configure_logging``, it
goes through structlog like any other record.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import time
from typing import IO, Any

import orjson
import structlog

ACCESS_LOGGER = "optihub.http"


def configure_logging(level: str = "info", json: bool = True) -> None:
    """Route stdlib and structlog records through one JSON (or console) renderer on stderr."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log duplicates ours (which carries the request id).
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    global _json_handler
    _json_handler = handler if json else None


def get_logger(name: str = "optihub") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


# The handler whose stream JSON access lines go to (None: not configured for JSON).
_json_handler: logging.StreamHandler[IO[str]] | None = None
_access_logger = logging.getLogger(ACCESS_LOGGER)
_structlog_access = get_logger(ACCESS_LOGGER)


class _Lines:
    """Access lines to a handler's stream: written at once off the event loop; on it, the
    lines of one loop iteration are joined into one write at the start of the next (a
    write is a system call, as costly as the rest of a small request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._handler: logging.StreamHandler[IO[str]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, handler: logging.StreamHandler[IO[str]], line: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(handler, line)
            return
        with self._lock:
            if self._pending and (loop is not self._loop or handler is not self._handler):
                self._flush_locked()  # another loop (or handler) holds the pending lines
            if not self._pending:
                self._handler, self._loop = handler, loop
                loop.call_soon(self.flush)
            self._pending.append(line)

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        handler, pending = self._handler, self._pending
        if handler is not None and pending:
            self._pending = []
            self._write(handler, "".join(pending))

    @staticmethod
    def _write(handler: logging.StreamHandler[IO[str]], text: str) -> None:
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(text)
            handler.stream.flush()


_lines = _Lines()
atexit.register(_lines.flush)


class _Clock:
    """ISO-8601 UTC timestamps as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes
    them (``2026-11-23T08:00:00.123456Z``), the seconds part formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        micros = int((now - second) * 1_000_000)
        return f"{self._prefix}.{micros:06d}Z"


_clock = _Clock()


def access(
    method: str, path: str, route: str, status: int, duration_ms: float, request_id: str
) -> None:
    """One access-log line: ``event: request`` with the request's fields, at info level."""
    if not _access_logger.isEnabledFor(logging.INFO):
        return
    handler = _json_handler
    if handler is None:
        _structlog_access.info(
            "request",
            method=method,
            path=path,
            route=route,
            status=status,
            duration_ms=duration_ms,
        )
        return
    record: dict[str, Any] = {
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "event": "request",
        "request_id": request_id,
        "logger": ACCESS_LOGGER,
        "level": "info",
        "timestamp": _clock.now(),
    }
    _lines.add(handler, orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE).decode())
