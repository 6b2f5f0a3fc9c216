"""POSTs of webhook bodies: the address check, then the request to the checked address.

Two ways, with the same rules: ``post`` (one request on httpx, for a surface's test
delivery) and ``Sender`` (the delivery worker's, many at once on an event loop with
connections kept, ``events.connections``). Both refuse the same URLs (``events.addresses``)
and neither resolves a host twice for a request: it goes to ``Destination.address`` with
the URL's host in ``Host`` and as the TLS server name (SNI and certificate check). Whatever
goes wrong (a refused or malformed address, a lookup past its deadline, a timeout, a
connection error, anything raised) is returned as the attempt's ``error``, never raised:
one bad delivery cannot take its batch down.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

import httpx

from optihub.events.addresses import (
    LOOKUP_SECONDS,
    AddressRefused,
    Destination,
    Lookups,
    LookupTimeout,
    Resolver,
    checked,
    destination,
    parse,
    resolve,
)
from optihub.events.connections import Key, Pool, ProtocolError
from optihub.events.signing import sign
from optihub.logging import get_logger

T = TypeVar("T")

log = get_logger("optihub.webhooks")

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Sent:
    """The receiver's ``status_code``, or why there was none (``error``)."""

    status_code: int | None
    error: str | None
    duration_ms: int
    # Not attempted at all (``Post.start_by`` passed while it waited its turn).
    unsent: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def client(
    verify: ssl.SSLContext | bool = True, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The HTTP client deliveries use: 10 s, no redirects, and no connection kept for a
    next request: connections are to addresses, and one kept from a request to another
    host on the same address would carry this request under that host's TLS session."""
    return httpx.Client(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        verify=verify,
        transport=transport,
    )


def pinned_request(
    http: httpx.Client, target: Destination, content: bytes, headers: Mapping[str, str]
) -> httpx.Request:
    """The POST to ``target``'s checked address, naming its host in ``Host`` and TLS."""
    url = httpx.URL(target.url)
    request_headers = {**headers, "Host": url.netloc.decode("ascii")}
    # SNI carries names only; an address in the URL is what the certificate must name.
    extensions = {} if _is_address(target.host) else {"sni_hostname": target.host}
    return http.build_request(
        "POST",
        url.copy_with(host=target.address),
        content=content,
        headers=request_headers,
        extensions=extensions,
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


def post(
    http: httpx.Client,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    allowed_hosts: Sequence[str],
    resolver: Resolver = resolve,
) -> Sent:
    """Check ``url`` (resolving its host once) and POST ``content`` to the checked address.
    Never raises: a refusal, a timeout or any other failure is the returned ``error``."""
    started = time.monotonic()
    try:
        target = destination(url, allowed_hosts, resolver)
    except AddressRefused as refused:
        return Sent(None, f"refused: {refused}"[:500], 0)
    except Exception:  # a resolver that fails in a way of its own
        log.exception("webhook_address_check_failed")
        return Sent(None, "refused: the address could not be checked", 0)
    try:
        # Only the status matters: the receiver's body is never read.
        response = http.send(pinned_request(http, target, content, headers), stream=True)
        response.close()
    except httpx.TimeoutException:
        return Sent(None, f"timed out after {TIMEOUT_SECONDS} s", _ms(started))
    except httpx.HTTPError as exc:
        return Sent(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
    except Exception as exc:
        log.exception("webhook_send_failed", host=target.host)
        return Sent(None, f"not sent: {type(exc).__name__}", _ms(started))
    return Sent(response.status_code, None, _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class Post:
    """One delivery attempt for ``Sender``: signed with ``secret`` when it is sent."""

    # Deliveries of one group (a subscription) share its limit of requests in flight.
    group: Hashable
    url: str
    webhook_id: str
    secret: str
    body: bytes
    # ``time.monotonic()`` after which it is not started any more (its lease is running
    # short): answered ``NOT_STARTED`` instead.
    start_by: float | None = None


NOT_STARTED = Sent(None, None, 0, unsent=True)


class Sender:
    """The worker's deliveries, sent concurrently on an event loop thread of its own.

    * Fair: at most ``per_group`` requests of one subscription are in flight at once
      (``concurrency`` in all), so a subscriber that hangs holds a few slots, never the
      worker; the other subscribers' deliveries go out beside it.
    * Each host is looked up once per batch (``send``), on a thread, for at most
      ``lookup_timeout`` seconds (``addresses.Lookups``); every delivery of the batch to
      that host is checked against that answer and connects to its first address.
    * Connections are kept per host *and* checked address (``connections.Pool``).
    * The same outcomes as ``post``: a refusal, a timeout (``TIMEOUT_SECONDS`` to connect,
      as many for the answer) or any other failure is the ``Sent.error``, never raised.
    """

    def __init__(
        self,
        allowed_hosts: Sequence[str],
        resolver: Resolver = resolve,
        *,
        tls: ssl.SSLContext | None = None,
        concurrency: int = 64,
        per_group: int = 8,
        timeout: float = TIMEOUT_SECONDS,
        lookup_timeout: float = LOOKUP_SECONDS,
    ) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        self.lookups = resolver if isinstance(resolver, Lookups) else Lookups(resolver)
        self.timeout = timeout
        self.lookup_timeout = lookup_timeout
        self.per_group = per_group
        self._tls = tls or ssl.create_default_context()
        self._concurrency = concurrency
        self._parsed: dict[str, tuple[httpx.URL, str, int, bytes, bytes] | AddressRefused] = {}
        self._groups: dict[Hashable, asyncio.Semaphore] = {}
        # The standard library's loop (events/ may not depend on uvloop: tests/unit/test_layers).
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self.pool = Pool(self._tls, self.timeout, self.timeout)
        self._all = asyncio.Semaphore(self._concurrency)
        self._loop.call_soon(self._started.set)
        self._loop.run_forever()

    def send(
        self, posts: Sequence[tuple[T, Post]], done: Callable[[T, Sent], object]
    ) -> Future[None]:
        """Send every post; ``done(item, sent)`` is called (on the sender's thread) as each
        one is answered. The future is done when all are."""
        return asyncio.run_coroutine_threadsafe(self._batch(posts, done), self._loop)

    async def _batch(
        self, posts: Sequence[tuple[T, Post]], done: Callable[[T, Sent], object]
    ) -> None:
        lookups: dict[tuple[str, int], asyncio.Task[list[str]]] = {}
        await asyncio.gather(*(self._one(item, post, lookups, done) for item, post in posts))
        self.pool.sweep()
        if len(self._groups) > 4096:  # groups come and go; idle semaphores are dropped
            self._groups = {g: s for g, s in self._groups.items() if s.locked()}
        if len(self._parsed) > 4096:
            self._parsed.clear()

    async def _one(
        self,
        item: T,
        post: Post,
        lookups: dict[tuple[str, int], asyncio.Task[list[str]]],
        done: Callable[[T, Sent], object],
    ) -> None:
        started = time.monotonic()
        try:
            sent = await self._deliver(post, lookups)
        except Exception as exc:
            log.exception("webhook_send_failed")
            sent = Sent(None, f"not sent: {type(exc).__name__}", _ms(started))
        done(item, sent)

    async def _deliver(
        self, post: Post, lookups: dict[tuple[str, int], asyncio.Task[list[str]]]
    ) -> Sent:
        parsed = self._parse(post.url)
        if isinstance(parsed, AddressRefused):
            return Sent(None, f"refused: {parsed}"[:500], 0)
        normal, host, port, target, host_header = parsed
        try:
            resolved = await self._lookup(host, port, lookups)
            checked_target = checked(normal, host, port, resolved, self.allowed_hosts)
        except AddressRefused as refused:
            return Sent(None, f"refused: {refused}"[:500], 0)
        except (OSError, UnicodeError, ValueError):
            return Sent(None, f"refused: The host {host} does not resolve.", 0)
        except Exception:  # a resolver that fails in a way of its own
            log.exception("webhook_address_check_failed")
            return Sent(None, "refused: the address could not be checked", 0)
        key = Key(normal.scheme, host, checked_target.address, port)
        group = self._groups.get(post.group)
        if group is None:
            group = self._groups[post.group] = asyncio.Semaphore(self.per_group)
        async with group, self._all:
            started = time.monotonic()
            if post.start_by is not None and started > post.start_by:
                return NOT_STARTED
            timestamp = int(time.time())
            headers = (
                host_header,
                b"Content-Type: application/json\r\nUser-Agent: OptiHub-Webhooks/1\r\n",
                b"X-Webhook-Id: %b\r\nX-Webhook-Timestamp: %d\r\nX-Webhook-Signature: %b\r\n"
                % (
                    _header_value(post.webhook_id),
                    timestamp,
                    sign(post.secret, timestamp, post.body).encode(),
                ),
            )
            try:
                status = await self.pool.post(key, target, headers, post.body)
            except TimeoutError:
                return Sent(None, f"timed out after {self.timeout:g} s", _ms(started))
            except (OSError, ProtocolError, asyncio.IncompleteReadError) as exc:
                return Sent(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        return Sent(status, None, _ms(started))

    def _parse(self, url: str) -> tuple[httpx.URL, str, int, bytes, bytes] | AddressRefused:
        """``url`` normalized, its host and port, the request target and ``Host`` line
        (kept per URL: a batch is usually a handful of subscriptions)."""
        known = self._parsed.get(url)
        if known is None:
            try:
                normal, host, port = parse(url)
                host_line = b"Host: " + normal.netloc + b"\r\n"
                known = (normal, host, port, normal.raw_path, host_line)
            except AddressRefused as refused:
                known = refused
            self._parsed[url] = known
        return known

    async def _lookup(
        self, host: str, port: int, lookups: dict[tuple[str, int], asyncio.Task[list[str]]]
    ) -> list[str]:
        if _is_address(host):
            return [host]
        task = lookups.get((host, port))
        if task is None:
            future = asyncio.wrap_future(self.lookups.start(host, port))
            # Shielded: a deadline passed ends this wait, not the shared lookup.
            waited = asyncio.wait_for(asyncio.shield(future), self.lookup_timeout)
            task = lookups[(host, port)] = asyncio.ensure_future(waited)
        try:
            return await asyncio.shield(task)
        except TimeoutError:
            raise LookupTimeout(host, self.lookup_timeout) from None

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def stop() -> None:
            self.pool.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


def _header_value(value: str) -> bytes:
    encoded = value.encode("ascii")
    if b"\r" in encoded or b"\n" in encoded:
        raise ValueError("a line break in a header value")
    return encoded
