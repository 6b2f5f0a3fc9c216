"""Limits a surface declares: the largest body it reads (413 before anything parses it),
what a body may hold (``kit.bodies``: 400 before any route reads it), and a request rate
per (client, module) on ``limits`` (in memory, or in Redis when ``OPTIHUB_REDIS_URL`` is
set so every process shares one budget)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from optihub.counters import SharedCounters
from optihub.errors import PayloadTooLarge, RateLimited

# Renders a problem for the surface owning the path: (scope, exception) → ASGI app.
ProblemSender = Callable[[Scope, Exception], Awaitable[ASGIApp]]
BodyLimitOf = Callable[[str], int | None]
# The refusal of a body that was read in full, or None: (scope, body) → exception.
BodyCheck = Callable[[Scope, bytes], Exception | None]


class BodyLimit:
    """Refuse request bodies over the owning surface's limit before anything parses them.

    A declared Content-Length over the limit is refused at once; otherwise the body is read
    here (never more than the limit plus one chunk) and handed on, so a chunked body
    without a length is held to the same limit. The body read, ``check`` may refuse it too
    (what it holds), before any route sees it.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit_of: BodyLimitOf,
        refuse: ProblemSender,
        check: BodyCheck | None = None,
    ) -> None:
        self.app = app
        self.limit_of = limit_of
        self.refuse = refuse
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "DELETE", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await (await self.refuse(scope, PayloadTooLarge(limit)))(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await (await self.refuse(scope, PayloadTooLarge(limit)))(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refused = self.check(scope, body) if self.check is not None else None
        if refused is not None:
            await (await self.refuse(scope, refused))(scope, receive, send)
            return
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RateLimiter:
    """Fixed one-minute windows per (surface, module, client); shared through Redis."""

    def __init__(self, storage_url: str = "") -> None:
        # Redis unreachable: each process counts in its own memory until it is back
        # (``optihub.counters``), so an outage never fails a request.
        self._limiter = SharedCounters(FixedWindowRateLimiter, storage_url, "rate_limits")
        # In memory a hit is a dict update; in Redis a round trip, never on the event loop.
        self._blocking = self._limiter.remote

    async def hit_async(self, rate: str | RateLimitItem, *identifiers: str) -> None:
        """``hit`` for the event loop."""
        if self._blocking:
            await run_in_threadpool(self.hit, rate, *identifiers)
        else:
            self.hit(rate, *identifiers)

    def hit(self, rate: str | RateLimitItem, *identifiers: str) -> None:
        """Count one request; over the rate → ``RateLimited`` with the seconds to wait."""
        item = parse(rate) if isinstance(rate, str) else rate
        if not self._limiter.hit(item, *identifiers):
            reset, _remaining = self._limiter.get_window_stats(item, *identifiers)
            raise RateLimited(
                f"Too many requests: the limit is {item.amount} per "
                f"{item.get_expiry()} seconds; retry later",
                retry_after_seconds=max(1, int(reset - time.time()) + 1),
            )
