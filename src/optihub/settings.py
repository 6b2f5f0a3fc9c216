"""Runtime settings, read once from the environment (``OPTIHUB_*``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _default_data_dir() -> Path:
    return Path(os.environ.get("OPTIHUB_DATA_DIR", "var")).resolve()


# The dialects with a token call of their own, each with a lifetime setting of its own:
# OPTIHUB_ACCESS_TOKEN_TTL_<NAME> (docs/oauth.md, "One token policy").
DIALECT_TOKEN_CALLS = ("labs", "portal", "fulfillment")
TTL_PREFIX = "OPTIHUB_ACCESS_TOKEN_TTL_"


def _seconds(name: str, value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of seconds, not {value!r}") from None
    if seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return seconds


def _dialect_token_ttls(source: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    found = []
    for name, value in source.items():
        if not name.startswith(TTL_PREFIX) or value == "":
            continue
        dialect = name.removeprefix(TTL_PREFIX).lower()
        if dialect not in DIALECT_TOKEN_CALLS:
            known = ", ".join(TTL_PREFIX + d.upper() for d in DIALECT_TOKEN_CALLS)
            raise ValueError(f"{name} names no dialect token call (known: {known})")
        found.append((dialect, _seconds(name, value)))
    return tuple(sorted(found))


@dataclass(frozen=True)
class Settings:
    """Everything an operator can set. See docs/operating.md for each variable."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    data_dir: Path = field(default_factory=_default_data_dir)
    log_level: str = "info"
    log_json: bool = True
    access_token_ttl_seconds: int = 900
    # (dialect, seconds) an operator set for a dialect's token call (see DIALECT_TOKEN_CALLS).
    dialect_token_ttls: tuple[tuple[str, int], ...] = ()
    webhook_allowed_hosts: tuple[str, ...] = ()
    run_worker_in_server: bool = True
    # Seconds a webhook worker's claim on a delivery lasts (see events/worker.py).
    webhook_lease_seconds: int = 60
    redis_url: str = ""
    secret_key: str = ""
    # Bearer token that opens /metrics; empty: /metrics is not served.
    metrics_token: str = ""

    @property
    def issuer(self) -> str:
        """The public base URL: the OAuth issuer and the root of links we hand out."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in {"127.0.0.1", "0.0.0.0", "::"} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def token_ttl_for(self, dialect: str, documented: int | None = None) -> int:
        """The lifetime of access tokens from ``dialect``'s own token call: the operator's
        ``OPTIHUB_ACCESS_TOKEN_TTL_<DIALECT>`` when set, else the lifetime the dialect's
        vendor documents (``documented``), else ``OPTIHUB_ACCESS_TOKEN_TTL``."""
        assert dialect in DIALECT_TOKEN_CALLS, dialect
        for name, seconds in self.dialect_token_ttls:
            if name == dialect:
                return seconds
        return documented if documented is not None else self.access_token_ttl_seconds

    @property
    def api_audience(self) -> str:
        """The ``aud`` of access tokens: OptiHub's APIs as one resource server."""
        return f"{self.issuer}/api"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        data_dir = Path(source.get("OPTIHUB_DATA_DIR", "var")).resolve()
        database_url = source.get("OPTIHUB_DATABASE_URL") or f"sqlite:///{data_dir / 'optihub.db'}"
        allowed = tuple(
            h.strip()
            for h in source.get("OPTIHUB_WEBHOOK_ALLOWED_HOSTS", "").split(",")
            if h.strip()
        )
        return cls(
            database_url=database_url,
            host=source.get("OPTIHUB_HOST", "127.0.0.1"),
            port=int(source.get("OPTIHUB_PORT", "8000")),
            public_url=source.get("OPTIHUB_PUBLIC_URL", ""),
            data_dir=data_dir,
            log_level=source.get("OPTIHUB_LOG_LEVEL", "info").lower(),
            log_json=_bool(source.get("OPTIHUB_LOG_JSON"), True),
            access_token_ttl_seconds=_seconds(
                "OPTIHUB_ACCESS_TOKEN_TTL", source.get("OPTIHUB_ACCESS_TOKEN_TTL") or "900"
            ),
            dialect_token_ttls=_dialect_token_ttls(source),
            webhook_allowed_hosts=allowed,
            webhook_lease_seconds=_seconds(
                "OPTIHUB_WEBHOOK_LEASE_SECONDS",
                source.get("OPTIHUB_WEBHOOK_LEASE_SECONDS") or "60",
            ),
            run_worker_in_server=_bool(source.get("OPTIHUB_RUN_WORKER"), True),
            redis_url=source.get("OPTIHUB_REDIS_URL", ""),
            secret_key=source.get("OPTIHUB_SECRET_KEY", ""),
            metrics_token=source.get("OPTIHUB_METRICS_TOKEN", "").strip(),
        )
