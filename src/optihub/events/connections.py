"""Webhook POSTs over HTTP/1.1 on asyncio streams, connections kept alive per destination.

The worker's hot path (``events.sending.Sender``). httpx cost the worker more than half
of its time per delivery (a request object, its headers and extensions, a transport and a
new connection each time, on a thread), and a connection could not be kept: httpx pools by
URL origin, and the URL holds the checked *address*, so two hosts on one address would
share a connection (and its TLS session, which names the first host).

Here a connection is kept under its ``Key``: scheme, host name, checked address and port.
It is reused only for a request to that same host at that same address, so the rule of
``events.addresses`` holds (the address connected to is the one checked for this host);
a host that resolves elsewhere next time gets a new connection. Only what a webhook needs
is spoken: one POST with a ``Content-Length`` body; the answer's status line and headers;
its body is read and dropped when it is short (so the connection can be kept), else the
connection is closed. Redirects are not followed (a 3xx is the answer).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass

# An answer's status line and headers at most (asyncio's StreamReader limit); a body up
# to this many bytes is read and dropped to keep the connection, a longer one closes it.
HEAD_LIMIT = 64 * 1024
DRAIN_LIMIT = 64 * 1024
# Idle connections kept per destination, and for how long.
KEEP_PER_KEY = 16
IDLE_SECONDS = 30.0


class ProtocolError(Exception):
    """The receiver's answer is not HTTP/1.x as we read it."""


@dataclass(frozen=True)
class Key:
    """Where a connection goes: only a request for the same host at the same checked
    address (and port and scheme) may use it."""

    scheme: str
    host: str
    address: str
    port: int


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and now - self.idle_since < IDLE_SECONDS
        )

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Keep-alive connections by ``Key``, used from one event loop."""

    def __init__(self, tls: ssl.SSLContext, connect_timeout: float, read_timeout: float) -> None:
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: dict[Key, list[_Connection]] = {}

    async def post(self, key: Key, target: bytes, headers: Iterable[bytes], body: bytes) -> int:
        """POST ``body`` to ``target`` (path and query) at ``key``; the answer's status.

        ``headers`` are whole header lines (``b"Name: value\\r\\n"``), ``Host`` among them.
        Raises ``TimeoutError`` (connecting, or waiting for the answer, past its timeout),
        ``OSError`` or ``ProtocolError``. A kept connection that the receiver closed while
        it was idle (no byte of an answer came) is replaced by a new one, once.
        """
        request = b"".join(
            (b"POST ", target, b" HTTP/1.1\r\n", *headers, b"Content-Length: ")
        ) + b"%d\r\n\r\n%b" % (len(body), body)
        connection = self._take(key)
        if connection is not None:
            try:
                return await self._exchange(key, connection, request)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
                # The receiver closed its end of an idle connection: nothing was answered.
        return await self._exchange(key, await self._connect(key), request)

    def _take(self, key: Key) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now):
                return connection
            connection.close()
        return None

    async def _connect(self, key: Key) -> _Connection:
        tls = self.tls if key.scheme == "https" else None
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(
                key.address,
                key.port,
                ssl=tls,
                # SNI and the certificate check name the URL's host, not the address.
                server_hostname=key.host if tls is not None else None,
                limit=HEAD_LIMIT,
            )
        return _Connection(reader, writer)

    async def _exchange(self, key: Key, connection: _Connection, request: bytes) -> int:
        keep = False
        try:
            async with asyncio.timeout(self.read_timeout):
                connection.writer.write(request)
                await connection.writer.drain()
                status, keep = await _answer(connection.reader)
        finally:
            if keep:
                self._keep(key, connection)
            else:
                connection.close()
        return status

    def _keep(self, key: Key, connection: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= KEEP_PER_KEY:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    def sweep(self) -> None:
        """Close the connections idle for longer than ``IDLE_SECONDS``."""
        now = time.monotonic()
        for key in list(self._idle):
            kept = []
            for connection in self._idle[key]:
                if connection.usable(now):
                    kept.append(connection)
                else:
                    connection.close()
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one answer: its status, and whether the connection can carry another request."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise ProtocolError("the answer's headers are too long") from None
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1 answer: {lines[0][:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200:  # informational (we never ask for 100-continue): skip it
            continue
        break
    keep = parts[0] == b"HTTP/1.1"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit():
                raise ProtocolError("a Content-Length that is not a number")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = keep and b"close" not in value.lower()
    if status in (204, 304):
        return status, keep
    if chunked:
        return status, keep and await _drain_chunks(reader)
    if length is None or length > DRAIN_LIMIT:  # a body until the end, or a long one
        return status, False
    await reader.readexactly(length)
    return status, keep


async def _drain_chunks(reader: asyncio.StreamReader) -> bool:
    """Read a chunked body to its end, if it is short; whether it was read whole."""
    drained = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError("a malformed chunk size") from None
        drained += size
        if drained > DRAIN_LIMIT:
            return False
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return True
        await reader.readexactly(size + 2)
