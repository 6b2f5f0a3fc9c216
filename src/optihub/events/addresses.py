"""Where webhooks may go: https URLs whose host resolves only to public addresses, unless
the operator allow-lists the host (``OPTIHUB_WEBHOOK_ALLOWED_HOSTS``: names or CIDRs).

Checked when a subscription is saved and again before every delivery, so a name that
later resolves inward is still refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit


def _allowed(host: str, addresses: Sequence[str], allowed_hosts: Sequence[str]) -> bool:
    networks = []
    for entry in allowed_hosts:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if entry.lower() == host.lower():
                return True
    return bool(addresses) and all(
        any(ipaddress.ip_address(a) in n for n in networks) for a in addresses
    )


def resolve(host: str, port: int) -> list[str]:
    """The addresses a webhook host resolves to (one place, so tests can stand in DNS)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port)})


def url_problem(
    url: str, allowed_hosts: Sequence[str], resolver: Callable[[str, int], list[str]] = resolve
) -> str | None:
    """Why deliveries to ``url`` are refused, or None when they are allowed."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.scheme not in {"https", "http"}:
        return "Must be an absolute https URL."
    try:
        addresses = resolver(host, parts.port or 443)
    except (socket.gaierror, UnicodeError):
        return f"The host {host} does not resolve."
    if _allowed(host, addresses, allowed_hosts):
        return None
    if parts.scheme != "https":
        return "Must use https."
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            return (
                f"The host {host} resolves to a private, loopback or link-local address "
                f"({address}); the operator can allow it with OPTIHUB_WEBHOOK_ALLOWED_HOSTS."
            )
    return None
