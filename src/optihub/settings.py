"""Runtime settings, read once from the environment (``OPTIHUB_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _default_data_dir() -> Path:
    return Path(os.environ.get("OPTIHUB_DATA_DIR", "var")).resolve()


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
    webhook_allowed_hosts: tuple[str, ...] = ()
    run_worker_in_server: bool = True
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

    @property
    def api_audience(self) -> str:
        """The ``aud`` of access tokens: OptiHub's APIs as one resource server."""
        return f"{self.issuer}/api"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
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
            access_token_ttl_seconds=int(source.get("OPTIHUB_ACCESS_TOKEN_TTL", "900")),
            webhook_allowed_hosts=allowed,
            run_worker_in_server=_bool(source.get("OPTIHUB_RUN_WORKER"), True),
            redis_url=source.get("OPTIHUB_REDIS_URL", ""),
            secret_key=source.get("OPTIHUB_SECRET_KEY", ""),
            metrics_token=source.get("OPTIHUB_METRICS_TOKEN", "").strip(),
        )
