"""The webhook address rules (``events.addresses``) and the pinned request
(``events.sending``), without a database or a network."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from optihub.events import sending
from optihub.events.addresses import (
    AddressRefused,
    MalformedUrl,
    destination,
    is_public,
    normalize,
)

PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104  (an address under test, not a bind)
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "ff02::1",
        "ff0e::1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::a00:1",
        "64:ff9b:1::5db8:d70e",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
        "2002:a00:1::1",
        "::7f00:1",
        "::a9fe:a9fe",
        "::ffff:0:7f00:1",
        "::ffff:0:a00:1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2001::1",  # Teredo
    ],
)
def test_non_global_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [PUBLIC, "8.8.8.8", "2606:4700::1111", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1"],
)
def test_global_unicast_is_public(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTPS://Hooks.Example.COM:443/a/./b/../c?x=1#f", "https://hooks.example.com/a/c?x=1"),
        ("https://hooks.example.com", "https://hooks.example.com/"),
        ("http://hooks.example.com:80/x", "http://hooks.example.com/x"),
        ("https://hooks.example.com:8443/caf\u00e9", "https://hooks.example.com:8443/caf%C3%A9"),
        ("https://b\u00fccher.example/", "https://xn--bcher-kva.example/"),
        ("https://[2606:4700::1111]:8443", "https://[2606:4700::1111]:8443/"),
    ],
)
def test_normal_form(url, normal):
    assert normalize(url) == normal
    assert normalize(normal) == normal


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example/x\r\nX: 1",
        "https://hooks.example/a b",
        "https://hooks.example\\x",
        "https://hooks.example:0/",
        "https://hooks.example:65536/",
        "https://hooks.example:+1/",
        "https://[1.2.3.4]/",
        "https://%61.example/",
        "ftp://hooks.example/",
        "https:/hooks.example",
        "https://",
        "https://hooks.example/" + "a" * 2000,
    ],
)
def test_malformed(url):
    with pytest.raises(MalformedUrl):
        normalize(url)


def test_the_host_is_resolved_once_and_every_answer_checked():
    asked = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return [PUBLIC, "10.0.0.1"] if len(asked) > 1 else [PUBLIC, "2606:4700::1111"]

    target = destination("https://Hooks.Example.com:8443/x", (), resolver)
    assert (target.host, target.port, target.address) == ("hooks.example.com", 8443, PUBLIC)
    assert asked == [("hooks.example.com", 8443)]
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.1"):
        destination("https://hooks.example.com/x", (), resolver)


def test_the_request_goes_to_the_checked_address_naming_the_host():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    answers = iter([[PUBLIC], ["10.0.0.1"]])
    with sending.client(transport=httpx.MockTransport(answer)) as http:
        sent = sending.post(
            http, "https://hooks.example.com/x?y=1", b"{}", {}, (), lambda *_: next(answers)
        )
    assert sent.status_code == 204
    [request] = seen
    assert str(request.url) == f"https://{PUBLIC}/x?y=1"
    assert request.headers["Host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"


@pytest.mark.parametrize(
    "failure",
    [httpx.InvalidURL("bad"), RuntimeError("boom"), httpx.ConnectError("refused")],
)
def test_a_failure_is_the_attempts_error_never_raised(failure):
    def answer(_request: httpx.Request) -> httpx.Response:
        raise failure

    with sending.client(transport=httpx.MockTransport(answer)) as http:
        sent = sending.post(http, "https://hooks.example.com/", b"{}", {}, (), lambda *_: [PUBLIC])
    assert sent.status_code is None and sent.error


def test_a_malformed_stored_url_is_refused_not_raised():
    def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("a malformed URL is refused before any resolution")

    with sending.client() as http:
        sent = sending.post(http, "https://hooks.example.com/x\r\nX: 1", b"{}", {}, (), resolver)
    assert sent.error is not None and sent.error.startswith("refused:")
