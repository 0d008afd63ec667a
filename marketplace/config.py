"""Settings from the environment, overridable by the mapping given to ``create_app``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from limits import parse_many


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def system_clock() -> datetime:
    """The wall clock as an aware UTC datetime."""
    return datetime.now(UTC)


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written without a driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _local_secret_key(instance_path: Path) -> str:
    # Generated once and kept beside the database so sessions survive a restart of the demo.
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_config(instance_path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings: defaults, then the environment, then ``overrides``."""
    overrides = dict(overrides or {})
    instance = Path(instance_path)
    env = os.environ

    def setting(name: str, default: Any = None) -> Any:
        if name in overrides:
            return overrides[name]
        return env.get(name, default)

    marketplace_env = setting("MARKETPLACE_ENV", "development")
    production = marketplace_env == "production"

    database_url = setting("DATABASE_URL") or f"sqlite:///{instance / 'marketplace.db'}"
    secret_key = setting("SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigurationError("SECRET_KEY must be set in the environment when MARKETPLACE_ENV=production.")
        secret_key = _local_secret_key(instance)

    clock = setting("CLOCK", system_clock)
    if not callable(clock):
        raise ConfigurationError("CLOCK must be a callable returning an aware datetime.")

    config: dict[str, Any] = {
        "MARKETPLACE_ENV": marketplace_env,
        "DATABASE_URL": normalize_database_url(database_url),
        "DATABASE_ECHO": _as_bool(setting("DATABASE_ECHO", False)),
        "SECRET_KEY": secret_key,
        "TIMEZONE": setting("TIMEZONE", "Asia/Seoul"),
        "CLOCK": clock,
        # Sessions: HttpOnly and SameSite=Lax always; Secure when served over HTTPS (production).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _as_bool(setting("SESSION_COOKIE_SECURE", production)),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": _as_bool(setting("SESSION_COOKIE_SECURE", production)),
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_ENABLED": _as_bool(setting("WTF_CSRF_ENABLED", True)),
        "BABEL_DEFAULT_LOCALE": "ko",
        "BABEL_DEFAULT_TIMEZONE": setting("TIMEZONE", "Asia/Seoul"),
        "LANGUAGES": ("ko", "en"),
        # Rate limits: memory for one process, Redis (RATELIMIT_STORAGE_URI=redis://…) when several run.
        "RATELIMIT_STORAGE_URI": setting("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _as_bool(setting("RATELIMIT_ENABLED", True)),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis unreachable: each process counts in memory until it is back, rather than answering 500s.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "LOGIN_RATE_LIMIT": _rate_limit(setting, "LOGIN_RATE_LIMIT", "10 per 5 minutes"),
        "API_RATE_LIMIT": _rate_limit(setting, "API_RATE_LIMIT", "6000 per minute"),
        "SCHEDULER_INTERVAL_SECONDS": int(setting("SCHEDULER_INTERVAL_SECONDS", 60)),
        "API_TITLE": "Marketplace seller accountability API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "MAX_CONTENT_LENGTH": int(setting("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)),
        "EVIDENCE_DIR": setting("EVIDENCE_DIR") or str(instance / "evidence"),
        "EVIDENCE_MAX_BYTES": int(setting("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)),
        "JSON_SORT_KEYS": False,
        **_notification_settings(setting),
    }
    # Anything else given explicitly (TESTING, SERVER_NAME, …) passes straight through to Flask.
    for key, value in overrides.items():
        if key not in config or key in {"TESTING", "SERVER_NAME", "PREFERRED_URL_SCHEME"}:
            config[key] = value
    return config


SMTP_SECURITY = ("starttls", "tls", "none")
NOTICE_CHANNELS = ("email", "gateway")


def _notification_settings(setting: Callable[..., Any]) -> dict[str, Any]:
    """The relay, its channels and the routing of notices (README: Notifications)."""

    def whole(name: str, default: int, minimum: int) -> int:
        raw = setting(name, default)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{name} must be a whole number, got {raw!r}.") from None
        if value < minimum:
            raise ConfigurationError(f"{name} must be at least {minimum}, got {value}.")
        return value

    def channels(name: str) -> tuple[str, ...]:
        raw = setting(name, "email,gateway")
        names = tuple(part.strip() for part in str(raw).split(",") if part.strip())
        unknown = sorted(set(names) - set(NOTICE_CHANNELS))
        if unknown:
            raise ConfigurationError(f"{name} lists unknown channels {unknown}; use {', '.join(NOTICE_CHANNELS)}.")
        return names

    security = str(setting("SMTP_SECURITY", "starttls")).strip().lower()
    if security not in SMTP_SECURITY:
        raise ConfigurationError(f"SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}, got {security!r}.")
    smtp_host = setting("SMTP_HOST") or ""
    config: dict[str, Any] = {
        "SMTP_HOST": smtp_host,
        "SMTP_PORT": whole("SMTP_PORT", 465 if security == "tls" else 587, 1),
        "SMTP_SECURITY": security,
        "SMTP_USERNAME": setting("SMTP_USERNAME") or "",
        "SMTP_PASSWORD": setting("SMTP_PASSWORD") or "",
        "SMTP_FROM": setting("SMTP_FROM") or "no-reply@localhost",
        "NOTIFY_GATEWAY_URL": setting("NOTIFY_GATEWAY_URL") or "",
        "NOTIFY_GATEWAY_SECRET": setting("NOTIFY_GATEWAY_SECRET") or "",
        "NOTIFY_WEBHOOK_URL": setting("NOTIFY_WEBHOOK_URL") or "",
        "NOTIFY_WEBHOOK_SECRET": setting("NOTIFY_WEBHOOK_SECRET") or "",
        "NOTIFY_BUYER_CHANNELS": channels("NOTIFY_BUYER_CHANNELS"),
        "NOTIFY_SELLER_CHANNELS": channels("NOTIFY_SELLER_CHANNELS"),
        "NOTIFY_PUBLIC_URL": str(setting("NOTIFY_PUBLIC_URL") or "").rstrip("/"),
        "NOTIFY_MAX_ATTEMPTS": whole("NOTIFY_MAX_ATTEMPTS", 10, 1),
        "NOTIFY_BACKOFF_SECONDS": whole("NOTIFY_BACKOFF_SECONDS", 60, 1),
        "NOTIFY_BACKOFF_MAX_SECONDS": whole("NOTIFY_BACKOFF_MAX_SECONDS", 6 * 3600, 1),
        "INCIDENT_WORKERS": whole("INCIDENT_WORKERS", 2, 1),
        "SWEEP_WORKERS": whole("SWEEP_WORKERS", 2, 1),
        "NOTIFY_BATCH_SIZE": whole("NOTIFY_BATCH_SIZE", 200, 1),
        "NOTIFY_CONCURRENCY": whole("NOTIFY_CONCURRENCY", 8, 1),
        "NOTIFY_TIMEOUT_SECONDS": whole("NOTIFY_TIMEOUT_SECONDS", 10, 1),
        "NOTIFY_LEASE_SECONDS": whole("NOTIFY_LEASE_SECONDS", 600, 1),
    }
    for url, secret in (
        ("NOTIFY_GATEWAY_URL", "NOTIFY_GATEWAY_SECRET"),
        ("NOTIFY_WEBHOOK_URL", "NOTIFY_WEBHOOK_SECRET"),
    ):
        if config[url] and not config[secret]:
            raise ConfigurationError(f"{secret} must be set when {url} is: receivers verify the signature with it.")
        if config[url] and not str(config[url]).startswith(("http://", "https://")):
            raise ConfigurationError(f"{url} must be an http:// or https:// URL, got {config[url]!r}.")
    # A relay must finish a batch before its lease on it runs out, or another relay sends the batch again.
    worst_batch = -(-config["NOTIFY_BATCH_SIZE"] // config["NOTIFY_CONCURRENCY"]) * config["NOTIFY_TIMEOUT_SECONDS"]
    if config["NOTIFY_LEASE_SECONDS"] <= worst_batch:
        raise ConfigurationError(
            f"NOTIFY_LEASE_SECONDS ({config['NOTIFY_LEASE_SECONDS']}) must exceed the longest a batch can take "
            f"(NOTIFY_BATCH_SIZE / NOTIFY_CONCURRENCY x NOTIFY_TIMEOUT_SECONDS = {worst_batch}s)."
        )
    return config


def _rate_limit(setting: Callable[..., Any], name: str, default: str) -> str:
    """A rate limit such as ``6000 per minute``, checked at start rather than at the first request."""
    raw = str(setting(name, default)).strip()
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a rate limit such as '6000 per minute', got {raw!r}.") from None
    return raw


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


Clock = Callable[[], datetime]
