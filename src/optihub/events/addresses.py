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
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

Resolver = Callable[[str, int], list[str]]

MAX_LENGTH = 2000
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


def destination(
    url: str, allowed_hosts: Sequence[str], resolver: Resolver = resolve
) -> Destination:
    """Normalize ``url``, resolve its host once and check every address; the destination
    to connect to, or ``AddressRefused``."""
    normal = httpx.URL(normalize(url))
    host = normal.raw_host.decode("ascii")
    port = normal.port or (443 if normal.scheme == "https" else 80)
    try:
        resolved = resolver(host, port)
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolved]
    except (OSError, UnicodeError, ValueError):
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
