"""An app's public keys, for verifying its client assertions (``private_key_jwt``).

Registered inline (``oauth_clients.jwks``) or published at the app's ``jwks_uri``. A key set
at an address is fetched here, in the worker thread where the token endpoint's work runs
(never on the event loop), and kept ``CACHE_SECONDS``:

* the address is checked as webhook targets are (``services.client_keys``): https to a
  public address, or an operator-allowed host; its host is resolved once and the request
  goes to the checked address (the name still in ``Host`` and in TLS), so a name cannot
  rebind between the check and the fetch;
* one GET, no redirects, ``FETCH_TIMEOUT_SECONDS`` for the whole of it, at most
  ``MAX_KEY_SET_BYTES``; the document is checked as a registered key set is (public RSA /
  P-384 EC keys only);
* a kid the cached set does not hold fetches the set again once (a rotated key), at most
  every ``REFETCH_SECONDS`` per address, so unknown kids cannot make us hammer the app.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey, import_key

from optihub.errors import ValidationFailed
from optihub.logging import get_logger
from optihub.services import client_keys

log = get_logger("optihub.auth")

CACHE_SECONDS = 300.0
REFETCH_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_KEY_SET_BYTES = client_keys.MAX_KEY_SET_BYTES

PublicKey = RSAKey | ECKey


class KeysUnavailable(Exception):
    """The app's keys cannot be had; ``reason`` is safe to show the app."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class KeySet:
    """Parsed public keys, by position, each with its kid ("" when it has none)."""

    keys: tuple[tuple[str, PublicKey], ...]

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(kid for kid, _ in self.keys if kid)

    def candidates(self, kid: str | None, kty: str) -> list[PublicKey]:
        """The keys that may have signed: the one with ``kid``, or (no kid in the header)
        every key of type ``kty``."""
        if kid is not None:
            return [key for key_kid, key in self.keys if key_kid == kid and key.key_type == kty]
        return [key for _, key in self.keys if key.key_type == kty]


def parse_key_set(document: str | dict[str, Any], where: str) -> KeySet:
    """The keys of a JWKS checked as a registered one is; ``KeysUnavailable`` otherwise."""
    try:
        checked = client_keys.public_key_set(document)
    except ValidationFailed as failure:
        raise KeysUnavailable(f"{where}: {failure.errors[0].message}") from None
    parsed: list[tuple[str, PublicKey]] = []
    for member in checked["keys"]:
        try:
            key = import_key(member)
        except (JoseError, ValueError, TypeError):
            raise KeysUnavailable(f"{where}: a key cannot be read.") from None
        if isinstance(key, RSAKey | ECKey) and not key.is_private:
            parsed.append((str(member.get("kid", "")), key))
    return KeySet(tuple(parsed))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, naming the URL's host in TLS (SNI and certificate)."""

    def __init__(self, address: str, port: int, host: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_name = host

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self._server_name
        )


def fetch_key_set(
    url: str, allowed_hosts: Sequence[str], timeout: float = FETCH_TIMEOUT_SECONDS
) -> KeySet:
    """GET the key set at ``url`` (checked, pinned, bounded in time and size), parsed."""
    try:
        target = client_keys.jwks_uri_destination(url, allowed_hosts)
    except ValidationFailed as failure:
        reason = failure.errors[0].message
        raise KeysUnavailable(f"The app's key set address is refused: {reason}") from None
    parts = urlsplit(target.url)
    deadline = time.monotonic() + timeout
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(target.address, target.port, target.host, timeout)
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    where = f"The app's key set at {target.url}"
    try:
        connection.request(
            "GET",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            headers={
                "Host": parts.netloc,
                "Accept": "application/jwk-set+json, application/json",
                "User-Agent": "OptiHub",
            },
        )
        response = connection.getresponse()
        if response.status != 200:
            raise KeysUnavailable(f"{where} answered HTTP {response.status}, not 200.")
        body = bytearray()
        while chunk := response.read(8192):
            body += chunk
            if len(body) > MAX_KEY_SET_BYTES:
                raise KeysUnavailable(f"{where} is larger than {MAX_KEY_SET_BYTES // 1024} KiB.")
            if time.monotonic() > deadline:
                raise KeysUnavailable(f"{where} took longer than {timeout:g} s to fetch.")
    except TimeoutError:
        raise KeysUnavailable(f"{where} took longer than {timeout:g} s to fetch.") from None
    except (OSError, http.client.HTTPException) as exc:
        raise KeysUnavailable(f"{where} could not be fetched ({type(exc).__name__}).") from None
    finally:
        connection.close()
    try:
        document = json.loads(bytes(body))
    except ValueError:
        raise KeysUnavailable(f"{where} is not JSON.") from None
    return parse_key_set(document, where)


@dataclass
class _Fetched:
    keys: KeySet
    fetched_at: float
    forced_at: float = -1e9


class ClientKeySource:
    """The key sets of apps: parsed inline sets, and fetched sets cached per address."""

    def __init__(
        self,
        allowed_hosts: Sequence[str] = (),
        *,
        cache_seconds: float = CACHE_SECONDS,
        refetch_seconds: float = REFETCH_SECONDS,
        timeout: float = FETCH_TIMEOUT_SECONDS,
    ) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        self.cache_seconds = cache_seconds
        self.refetch_seconds = refetch_seconds
        self.timeout = timeout
        self._fetched: dict[str, _Fetched] = {}
        self._inline: dict[str, KeySet] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def inline(self, jwks: str) -> KeySet:
        """A registered key set, parsed once per distinct text."""
        found = self._inline.get(jwks)
        if found is None:
            found = parse_key_set(jwks, "The app's registered key set")
            if len(self._inline) > 1000:
                self._inline.clear()
            self._inline[jwks] = found
        return found

    def at(self, url: str, kid: str | None) -> KeySet:
        """The key set published at ``url``: cached while fresh and holding ``kid``;
        fetched again when stale, or once (every ``refetch_seconds``) for an unknown kid."""
        with self._lock_for(url):
            now = time.monotonic()
            cached = self._fetched.get(url)
            if cached is not None and now - cached.fetched_at < self.cache_seconds:
                if kid is None or kid in cached.keys.kids:
                    return cached.keys
                if now - cached.forced_at < self.refetch_seconds:
                    return cached.keys  # asked again too soon: the kid stays unknown
                forced_at = now
            else:
                forced_at = cached.forced_at if cached is not None else -1e9
            keys = fetch_key_set(url, self.allowed_hosts, self.timeout)
            self._fetched[url] = _Fetched(keys, time.monotonic(), forced_at)
            log.info("client_key_set_fetched", url=url, keys=len(keys.keys))
            return keys

    def _lock_for(self, url: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(url)
            if lock is None:
                if len(self._locks) > 1000:
                    self._locks.clear()
                lock = self._locks[url] = threading.Lock()
            return lock
