"""The access log: one JSON line per request with the fields structlog's records carry."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest
import structlog

from optihub import logging as optihub_logging

FIELDS = {
    "method": "GET",
    "path": "/api/v1/partner/orders/0a1b",
    "route": "/orders/{order_id}",
    "status": 200,
    "duration_ms": 1.25,
    "event": "request",
    "request_id": "req_0123456789abcdef",
    "logger": "optihub.http",
    "level": "info",
}


@pytest.fixture
def stream(monkeypatch) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    optihub_logging.configure_logging("info", json=True)
    yield out
    optihub_logging._lines.flush()
    optihub_logging._json_handler = None
    root.handlers, root.level = saved
    structlog.reset_defaults()


def log_one(request_id: str = FIELDS["request_id"]) -> None:
    optihub_logging.access("GET", FIELDS["path"], FIELDS["route"], 200, 1.25, request_id)


def test_a_line_has_every_field_and_a_utc_timestamp(stream):
    log_one()
    record = json.loads(stream.getvalue())
    assert {k: record[k] for k in FIELDS} == FIELDS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["timestamp"])


def test_lines_of_one_loop_iteration_are_written_together_and_soon(stream):
    async def requests() -> str:
        log_one("req_a")
        log_one("req_b")
        pending = stream.getvalue()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return pending

    assert asyncio.run(requests()) == ""
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["req_a", "req_b"]


def test_a_line_is_kept_when_its_loop_ends_before_writing_it(stream):
    async def one() -> None:
        log_one("req_a")

    asyncio.run(one())
    asyncio.run(one())
    log_one("req_b")
    optihub_logging._lines.flush()
    ids = [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()]
    assert sorted(ids) == ["req_a", "req_a", "req_b"]


def test_nothing_is_written_below_the_info_level(stream):
    logging.getLogger().setLevel("WARNING")
    log_one()
    assert stream.getvalue() == ""


def test_console_mode_goes_through_structlog(monkeypatch):
    seen: list[dict[str, object]] = []
    monkeypatch.setattr(optihub_logging, "_json_handler", None)
    logger = structlog.wrap_logger(None, processors=[_capture(seen)])
    monkeypatch.setattr(optihub_logging, "_structlog_access", logger)
    access_logger = logging.getLogger(optihub_logging.ACCESS_LOGGER)
    access_logger.setLevel(logging.INFO)
    try:
        log_one()
    finally:
        access_logger.setLevel(logging.NOTSET)
    assert seen and seen[0]["event"] == "request" and seen[0]["route"] == FIELDS["route"]


def _capture(seen: list[dict[str, object]]):
    def processor(_logger, _name, event_dict):
        seen.append(dict(event_dict))
        raise structlog.DropEvent

    return processor
