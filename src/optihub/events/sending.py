"""One POST of a webhook body: the address check, then the request to the checked address.

Shared by the delivery worker and a surface's test delivery, so both refuse the same URLs
and neither resolves a host twice: the request goes to ``Destination.address`` with the
URL's host in ``Host`` and as the TLS server name (SNI and certificate check), through
httpx's ``sni_hostname`` request extension. Whatever goes wrong (a refused or malformed
address, a timeout, a connection error, anything raised) is returned as the attempt's
``error``, never raised: one bad delivery cannot take its batch down.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from optihub.events.addresses import AddressRefused, Destination, Resolver, destination, resolve
from optihub.logging import get_logger

log = get_logger("optihub.webhooks")

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Sent:
    """The receiver's ``status_code``, or why there was none (``error``)."""

    status_code: int | None
    error: str | None
    duration_ms: int

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
