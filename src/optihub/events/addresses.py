"""Where webhooks may go, decided once for every surface and for every delivery.

* ``normalize``: the URL's syntax. One parser decides it, the one that sends (httpx's), so
  the address checked is the address requested: an absolute ``https``/``http`` URL with a
  host; no control characters, spaces or backslashes anywhere (other parsers drop or
  rewrite them, httpx refuses them); a port in 1–65535; brackets only around an IPv6
  address; a host name of letters, digits, ``.``, ``-`` and ``_`` (IDNA-encoded first).
  The normal form (lower-case scheme and host, IDNA host, no default port, ``/`` for an
  empty path, non-ASCII percent-encoded, no fragment) is what is stored and sent.
* ``destination``: the host is resolved **once**; every address it resolves to must be
  public (``is_public``), unless the operator allow-lists the host or its network
  (``OPTIHUB_WEBHOOK_ALLOWED_HOSTS``: names or CIDRs); plain ``http`` only when allow-listed.
  The request then connects to the first checked address (``events.sending``), never
  resolving again, so a name cannot rebind between the check and the connection.

Checked when a subscription is saved and again before every delivery, so a name that
later resolves inward is still refused.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

Resolver = Callable[[str, int], list[str]]

MAX_LENGTH = 2000
# How long a host's lookup may take before the delivery fails (a lookup that hangs would
# otherwise hold its delivery, and the worker's batch, for as long as it hangs).
LOOKUP_SECONDS = 5.0
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_IP = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that carry an IPv4 address, and where it sits: the IPv4 address decides.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d
# RFC 8215 local-use NAT64 prefix: not globally reachable (IANA), whatever it embeds.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


class AddressRefused(ValueError):
    """Deliveries to this URL are refused; the message says why, in words."""


class MalformedUrl(AddressRefused):
    """Not a URL deliveries can go to at all, whatever its host resolves to."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _COMPATIBLE or ip in _TRANSLATED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: _IP) -> bool:
    """Globally reachable unicast: ``ipaddress``'s ``is_global``, no multicast, and for
    IPv6 forms that embed an IPv4 address (NAT64, 6to4, IPv4-compatible, -mapped,
    -translated) the embedded address decides. The rule is written out here rather than
    left to ``is_global`` alone, whose tables differ between Python releases (3.11 counts
    ``64:ff9b::10.0.0.1``, ``2002:7f00:1::`` and ``224.0.0.1`` as global)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public(embedded)
    return ip.is_global and not ip.is_multicast


def normalize(url: str) -> str:
    """The URL in its normal form, or ``MalformedUrl`` saying what is wrong with it."""
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        raise MalformedUrl("Must not contain spaces or control characters.")
    if "\\" in url:
        raise MalformedUrl("Must not contain backslashes.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise MalformedUrl(f"Not a valid URL: {exc}") from None
    if parsed.scheme not in {"https", "http"} or not parsed.raw_host:
        raise MalformedUrl("Must be an absolute https URL.")
    _check_port(url)
    host = parsed.raw_host.decode("ascii")
    if ":" not in host and not _NAME.fullmatch(host):
        raise MalformedUrl(
            "The host may hold only letters, digits, '.', '-' and '_' (or be an IP address)."
        )
    normal = parsed.copy_with(fragment=None)
    if not urlsplit(str(normal)).path:
        normal = normal.copy_with(path="/")
    text = str(normal)
    if len(text) > MAX_LENGTH:
        raise MalformedUrl(f"Must be at most {MAX_LENGTH} characters once normalized.")
    return text


def _check_port(url: str) -> None:
    """The port as written must be digits in 1–65535 (httpx takes 0, 70000, -1 or +1)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError as exc:
        raise MalformedUrl(f"Not a valid URL: {exc}") from None
    host_and_port = netloc.rpartition("@")[2]
    if host_and_port.startswith("["):
        host_and_port = host_and_port.rpartition("]")[2]
    _, colon, port = host_and_port.rpartition(":")
    if colon and port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise MalformedUrl("The port must be a number between 1 and 65535.")


def resolve(host: str, port: int) -> list[str]:
    """The addresses a webhook host resolves to, in the system's order of preference (one
    place, so tests can stand in DNS)."""
    found = (str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    return list(dict.fromkeys(found))


class Lookups:
    """Host lookups with a deadline, one at a time per host.

    ``getaddrinfo`` cannot be cancelled, so each lookup runs on a daemon thread of its own
    and the caller waits at most its deadline; a lookup still hanging is shared by every
    later ask for the same host and port (one stuck thread per host, not one per delivery)
    until it ends."""

    def __init__(self, resolver: Resolver = resolve) -> None:
        self.resolver = resolver
        self._running: dict[tuple[str, int], Future[list[str]]] = {}
        self._lock = threading.Lock()

    def start(self, host: str, port: int) -> Future[list[str]]:
        """The lookup of ``host`` (running, or started now)."""
        with self._lock:
            running = self._running.get((host, port))
            if running is not None:
                return running
            future: Future[list[str]] = Future()
            self._running[(host, port)] = future
        threading.Thread(
            target=self._run, args=(host, port, future), name="webhook-lookup", daemon=True
        ).start()
        return future

    def _run(self, host: str, port: int, future: Future[list[str]]) -> None:
        try:
            future.set_result(self.resolver(host, port))
        except BaseException as exc:  # the asker reports it
            future.set_exception(exc)
        finally:  # (the future is never cancelled: askers wait on it through a shield)
            with self._lock:
                self._running.pop((host, port), None)

    def __call__(self, host: str, port: int, timeout: float = LOOKUP_SECONDS) -> list[str]:
        """The addresses of ``host``, or ``LookupTimeout`` after ``timeout`` seconds."""
        try:
            return self.start(host, port).result(timeout)
        except FutureTimeout:
            raise LookupTimeout(host, timeout) from None


class LookupTimeout(AddressRefused):
    def __init__(self, host: str, seconds: float) -> None:
        super().__init__(f"The host {host} did not resolve within {seconds:g} s.")


def _allowed(host: str, addresses: Sequence[_IP], allowed_hosts: Sequence[str]) -> bool:
    networks = []
    for entry in allowed_hosts:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if entry.lower() == host.lower():
                return True
    return bool(addresses) and all(any(a in n for n in networks) for a in addresses)


@dataclass(frozen=True)
class Destination:
    """Where a delivery goes: the normalized ``url`` and the checked ``address`` the
    request connects to (``host``, the URL's host, names it in ``Host`` and TLS)."""

    url: str
    host: str
    port: int
    address: str


def parse(url: str) -> tuple[httpx.URL, str, int]:
    """``url`` normalized (or ``MalformedUrl``), its host and its port."""
    normal = httpx.URL(normalize(url))
    host = normal.raw_host.decode("ascii")
    return normal, host, normal.port or (443 if normal.scheme == "https" else 80)


def destination(
    url: str,
    allowed_hosts: Sequence[str],
    resolver: Resolver = resolve,
    timeout: float = LOOKUP_SECONDS,
) -> Destination:
    """Normalize ``url``, resolve its host once (within ``timeout`` seconds) and check
    every address; the destination to connect to, or ``AddressRefused``."""
    normal, host, port = parse(url)
    lookups = resolver if isinstance(resolver, Lookups) else Lookups(resolver)
    try:
        resolved = lookups(host, port, timeout)
    except LookupTimeout:
        raise
    except (OSError, UnicodeError, ValueError):
        raise AddressRefused(f"The host {host} does not resolve.") from None
    return checked(normal, host, port, resolved, allowed_hosts)


def checked(
    normal: httpx.URL, host: str, port: int, resolved: Sequence[str], allowed_hosts: Sequence[str]
) -> Destination:
    """The destination of a normalized URL whose host resolved to ``resolved``, once every
    address is checked; or ``AddressRefused``."""
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolved]
    except ValueError:
        raise AddressRefused(f"The host {host} does not resolve.") from None
    if not addresses:
        raise AddressRefused(f"The host {host} does not resolve.")
    if not _allowed(host, addresses, allowed_hosts):
        if normal.scheme != "https":
            raise AddressRefused("Must use https.")
        for address in addresses:
            if not is_public(address):
                raise AddressRefused(
                    f"The host {host} resolves to a private, loopback, link-local or other "
                    f"non-public address ({address}); the operator can allow it with "
                    "OPTIHUB_WEBHOOK_ALLOWED_HOSTS."
                )
    return Destination(str(normal), host, port, str(addresses[0]))
