"""Process configuration (pydantic-settings, prefix ``PHONEGATE_``).

Built once at start-up and passed down; nothing reads the environment after that.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PHONEGATE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    # Comma-separated server keys; the first signs and encrypts, the others still verify
    # (rotation). When empty, a key is generated once into ``<data_dir>/secret.key``.
    secret_keys: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    code_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    code_max_attempts: int = Field(default=5, ge=1, le=20)
    mfa_token_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    access_token_ttl_seconds: int = Field(default=86400, ge=60)
    # argon2id for passwords (OWASP's baseline: 19 MiB, 2 passes, 1 lane). Raising memory or
    # passes slows every login and every guess alike; see docs/benchmarks.md for the cost.
    argon2_time_cost: int = Field(default=2, ge=1, le=20)
    argon2_memory_kib: int = Field(default=19 * 1024, ge=1024, le=4 * 1024 * 1024)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    mfa_access_token_ttl_seconds: int = 600
    dispatch_interval_seconds: float = Field(default=2.0, gt=0)
    # Sends in flight at once per dispatcher (per process): a slow provider holds up only
    # its own messages while the other slots keep sending.
    dispatch_concurrency: int = Field(default=32, ge=1, le=512)
    # Outbound requests (providers, webhooks, log streams) may reach private, loopback and
    # link-local addresses only when this is set: a URL typed into the Management API must not
    # reach the metadata service or the database port.
    outbound_allow_private: bool = False
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    # Tenant log events older than this are purged (by the worker or the server's loop).
    log_retention_days: int = Field(default=30, ge=1, le=3650)
    # /metrics: off entirely, or protected by a bearer token when one is set.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    # Whether `phonegate serve` runs the outbox dispatcher and the log shipper in its own
    # processes; false when `phonegate worker` runs them separately.
    background_in_server: bool = True

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'phonegate.db').as_posix()}"

    @property
    def is_production(self) -> bool:
        return self.env == "production"


TRACE = 5  # uvicorn's level below DEBUG


def configure_logging(settings: Settings) -> None:
    """phonegate's own loggers at PHONEGATE_LOG_LEVEL (uvicorn's "trace" included), in every
    process: `serve --workers N` starts its workers through the app factory."""
    logging.addLevelName(TRACE, "TRACE")
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s"
    )
