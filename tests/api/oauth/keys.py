"""Keys and client assertions for the private_key_jwt tests (SMART Backend Services)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_URL = "http://testserver/oauth/token"  # the issuer of the test app + /oauth/token


@cache
def rsa_key(kid: str = "rsa-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


@cache
def ec_key(kid: str = "ec-1", curve: str = "P-384") -> ECKey:
    return ECKey.generate_key(curve, parameters={"kid": kid})  # type: ignore[arg-type]


def public_jwks(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def assertion(
    client_id: str,
    key: RSAKey | ECKey,
    alg: str = "RS384",
    *,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A client assertion as SMART Backend Services describes it, with ``claims`` and
    ``header`` overriding (or ``drop`` removing) the standard members."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": now + 240,
        "jti": secrets.token_urlsafe(16),
    }
    body.update(claims)
    for name in drop:
        body.pop(name, None)
    protected = {"alg": alg, "typ": "JWT", "kid": key.kid}
    protected.update(header or {})
    protected = {k: v for k, v in protected.items() if v is not None}
    return jwt.encode(protected, body, key, algorithms=[alg])


def token_form(signed: str, scope: str = "system/VisionPrescription.rs", **extra: str) -> dict:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
        **extra,
    }


class KeySetServer:
    """A JWKS served over plain http on a loopback port; ``keys`` can be swapped (rotation)
    and ``fetches`` counts the GETs."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def __enter__(self) -> KeySetServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
