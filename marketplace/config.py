"""Settings from the environment, overridable by the mapping given to ``create_app``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


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
        "LOGIN_RATE_LIMIT": setting("LOGIN_RATE_LIMIT", "10 per 5 minutes"),
        "API_RATE_LIMIT": setting("API_RATE_LIMIT", "6000 per minute"),
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
    }
    # Anything else given explicitly (TESTING, SERVER_NAME, …) passes straight through to Flask.
    for key, value in overrides.items():
        if key not in config or key in {"TESTING", "SERVER_NAME", "PREFERRED_URL_SCHEME"}:
            config[key] = value
    return config


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


Clock = Callable[[], datetime]
