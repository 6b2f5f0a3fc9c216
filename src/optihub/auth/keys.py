"""The instance key (encrypts secrets at rest) and the JWT signing key set.

Signing keys live in the database so every process of a cluster signs and verifies with the
same set; private halves are encrypted with the instance key. Rotation adds a new active
key and keeps the previous one published until ``retire`` removes it from the JWKS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import SigningKey
from optihub.db.session import Database
from optihub.settings import Settings

ALGORITHM = "ES256"


class InstanceKey:
    """Symmetric encryption for secrets at rest (webhook secrets, private JWKs).

    From ``OPTIHUB_SECRET_KEY`` when set (required when several machines share a database),
    else a random key kept in ``<data dir>/instance.key`` (created once, mode 0600).
    """

    def __init__(self, material: bytes) -> None:
        self._material = material
        digest = hashlib.sha256(material).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def derive(self, purpose: str) -> str:
        """A separate secret for ``purpose`` (e.g. signing session cookies)."""
        import hmac

        return hmac.new(self._material, purpose.encode(), hashlib.sha256).hexdigest()

    @classmethod
    def from_settings(cls, settings: Settings) -> InstanceKey:
        if settings.secret_key:
            return cls(settings.secret_key.encode())
        path = Path(settings.data_dir) / "instance.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return cls(path.read_text().strip().encode())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Raises ``ValueError`` when the ciphertext was made with another instance key."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret was encrypted with a different instance key") from exc


def create_signing_key(session: Session, instance_key: InstanceKey) -> SigningKey:
    """Add a new active ES256 key; earlier keys stay published (verification only)."""
    kid = "k_" + secrets.token_hex(8)
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
    session.execute(update(SigningKey).where(SigningKey.active.is_(True)).values(active=False))
    row = SigningKey(
        kid=kid,
        alg=ALGORITHM,
        private_jwk_ciphertext=instance_key.encrypt(_json(key.as_dict(private=True))),
        public_jwk=key.as_dict(private=False),
        active=True,
    )
    session.add(row)
    session.flush()
    return row


def ensure_signing_key(session: Session, instance_key: InstanceKey) -> None:
    if session.scalar(select(SigningKey.kid).where(SigningKey.active.is_(True))) is None:
        create_signing_key(session, instance_key)


def retire_signing_key(session: Session, kid: str, *, checked: bool = False) -> SigningKey:
    """Stop publishing key ``kid``: tokens it signed no longer verify.

    ``checked`` (the operator's command): refuse an unknown or already retired key, and the
    active one (every new token is signed with it: rotate first), with ``Conflict``.
    """
    from optihub.errors import Conflict, NotFound

    row = session.get(SigningKey, kid)
    if row is None:
        raise NotFound("Signing key", kid)
    if checked and row.retired_at is not None:
        raise Conflict(f"Key {kid} was already retired on {row.retired_at:%Y-%m-%d %H:%M} UTC")
    if checked and row.active:
        raise Conflict(
            f"Key {kid} is the one signing new tokens: run `optihub keys rotate` first, "
            "then retire it once its tokens have expired"
        )
    row.active = False
    row.retired_at = utcnow()
    session.flush()
    return row


def signing_keys(session: Session) -> list[SigningKey]:
    """Every key, the newest first."""
    return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())))


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value)


class KeyRing:
    """In-process cache of the signing key and the published public keys.

    Reloaded from the database at most every ``refresh_seconds`` (and when a token names an
    unknown ``kid``, at most once a second), so verifying a token costs no database query.
    """

    def __init__(
        self, db: Database, instance_key: InstanceKey, refresh_seconds: float = 300
    ) -> None:
        self._db = db
        self._instance_key = instance_key
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._signing: ECKey | None = None
        self._public: KeySet = KeySet([])
        self._public_dicts: list[dict[str, Any]] = []
        # Key ids published right now: a cached verification holds only while its kid is.
        self.published_kids: frozenset[str] = frozenset()

    def load(self) -> None:
        import json

        with self._db.reading() as connection:
            rows = list(
                connection.execute(
                    select(
                        SigningKey.active, SigningKey.private_jwk_ciphertext, SigningKey.public_jwk
                    )
                    .where(SigningKey.retired_at.is_(None))
                    .order_by(SigningKey.created_at.desc())
                )
            )
        signing = next((r for r in rows if r.active), None)
        with self._lock:
            self._signing = (
                ECKey.import_key(
                    json.loads(self._instance_key.decrypt(signing.private_jwk_ciphertext))
                )
                if signing
                else None
            )
            self._public_dicts = [dict(r.public_jwk) for r in rows]
            self._public = KeySet([ECKey.import_key(d) for d in self._public_dicts])
            self.published_kids = frozenset(str(d.get("kid")) for d in self._public_dicts)
            self._loaded_at = time.monotonic()

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._refresh_seconds

    @property
    def due(self) -> bool:
        """Half-way to stale: time to reload in the background, before anyone must wait."""
        return time.monotonic() - self._loaded_at > self._refresh_seconds / 2

    def _maybe_refresh(self, force: bool = False) -> None:
        age = time.monotonic() - self._loaded_at
        if age > self._refresh_seconds or (force and age > 1.0):
            if _on_event_loop():
                # Never a synchronous reload on the loop: the next request's fresh caches
                # (``auth.resource``) reload it off the loop; this one sees the keys held.
                self._loaded_at = 0.0
            else:
                self.load()

    @property
    def signing_key(self) -> ECKey:
        self._maybe_refresh()
        if self._signing is None:
            self.load()
        if self._signing is None:
            raise RuntimeError("no active signing key: run `optihub migrate` / start the server")
        return self._signing

    def public_keys(self, kid: str | None = None) -> KeySet:
        """The published keys; an unknown ``kid`` triggers one early reload (key rotation)."""
        self._maybe_refresh()
        if kid is not None and all(d.get("kid") != kid for d in self._public_dicts):
            self._maybe_refresh(force=True)
        return self._public

    def jwks(self) -> dict[str, Any]:
        self._maybe_refresh()
        return {"keys": list(self._public_dicts)}


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
