"""Twelve-factor settings, read from ``ATELIER_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from atelier.platform.admission import default_threads

# Development-only defaults. Settings refuse them unless ATELIER_ENV=development.
DEV_SECRET_KEY = "dev-secret-key-change-me-0123456789abcdef"
DEV_WEBHOOK_SECRET = "dev-webhook-secret-change-me"


class Settings(BaseSettings):
    """Every tunable of the service. See README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="ATELIER_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/atelier.db"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    token_ttl: timedelta = timedelta(hours=12)
    wa_link_ttl: timedelta = timedelta(hours=24)

    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None

    timezone: str = "Asia/Kolkata"
    gate_timeout: timedelta = timedelta(days=23)
    flow_execution_retention_days: int = Field(default=90, ge=1, le=3650)
    # Create the seeded flows (partner dispatcher, daily discoverer) at start when missing.
    seed_flows: bool = True

    embedded_worker: bool = True
    demo_data: bool = False
    worker_poll_interval: float = Field(default=1.0, gt=0, le=60)
    # Stable worker name for outbox leases (default "<kind>@<hostname>"); see platform/identity.
    worker_name: str | None = Field(
        default=None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"
    )
    # Failed attempts of one subscriber on one event before the delivery is parked as dead.
    outbox_max_attempts: int = Field(default=15, ge=1, le=100)
    # Bearer token for GET /metrics; unset: /metrics answers loopback clients only.
    metrics_token: SecretStr | None = None

    public_base_url: str = "http://127.0.0.1:8000"
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path = Path("./var/media")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    media_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    media_max_files: int = Field(default=10, ge=1, le=100)
    request_max_bytes: int = Field(default=1024 * 1024, gt=0)
    media_allowed_types: list[str] = [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "application/pdf",
    ]

    # Partner notifications (see README "Partner notifications").
    whatsapp_graph_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_platform_languages: str | None = None
    whatsapp_image_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    whatsapp_timeout: float = Field(default=10.0, gt=0, le=120)
    default_language: Literal["en", "hi"] = "en"
    message_dedup_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    message_max_attempts: int = Field(default=5, ge=1, le=50)
    brand_logo_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Atelier <no-reply@atelier.local>"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0, le=120)

    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # FastAPI's native OpenTelemetry (spans, metrics, logs through the global providers).
    # Off: Atelier's metrics are Prometheus (/metrics), and the check FastAPI makes on every
    # request for configured providers costs the hot reads ~3 % for nothing.
    opentelemetry: bool = False
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # Worker threads that run sync endpoints and dependencies, per process (see README
    # "Thread model"); unset: 2 on SQLite (one for its single writer, one for readers), the
    # pool size on PostgreSQL. At least 2, so a writer waiting for a lock never holds the last.
    threads: int | None = Field(default=None, ge=2, le=256)
    # ``atelier serve`` worker processes (``--workers`` overrides); see README "Running Atelier".
    workers: int = Field(default=1, ge=1, le=64)
    # Longest a request waits for write admission before a 503 (see platform.admission).
    db_queue_timeout: float = Field(default=30.0, gt=0, le=600)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "development":
            return self
        if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError("ATELIER_SECRET_KEY must be set outside development")
        if self.webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET:
            raise ValueError("ATELIER_WEBHOOK_SECRET must be set outside development")
        if len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("ATELIER_SECRET_KEY must be at least 32 characters")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def worker_threads(self) -> int:
        """``ATELIER_THREADS``, else the default for the database (see ``threads``)."""
        if self.threads is not None:
            return self.threads
        return default_threads(self.database_url, self.db_pool_size)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return Settings()


_active: Settings | None = None


def use_settings(settings: Settings | None) -> None:
    """Make ``settings`` what background code (subscribers, jobs) reads via ``current()``.

    ``create_app`` and ``atelier worker`` call it, so a test app's settings reach the outbox
    subscribers it drives.
    """
    global _active
    _active = settings


def current() -> Settings:
    """The settings the running app or worker was built with (else the environment's)."""
    return _active if _active is not None else get_settings()
