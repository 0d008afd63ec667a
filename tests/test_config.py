"""Settings: environment, overrides, the secret key and the injectable clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketplace import create_app
from marketplace.config import ConfigurationError, load_config, normalize_database_url
from marketplace.core import clock as clock_module
from marketplace.core.clock import FrozenClock


def test_production_refuses_to_start_without_secret_key(tmp_path, monkeypatch) -> None:
    """MARKETPLACE_ENV=production requires SECRET_KEY from the environment."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_config(tmp_path)


def test_production_makes_cookies_secure(tmp_path, monkeypatch) -> None:
    """Production sessions travel over HTTPS only."""
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    config = load_config(tmp_path)
    assert config["SECRET_KEY"] == "from-the-environment"
    assert config["SESSION_COOKIE_SECURE"] is True


def test_local_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch) -> None:
    """Outside production a key is generated into the instance folder and reused."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("MARKETPLACE_ENV", raising=False)
    first = load_config(tmp_path)["SECRET_KEY"]
    second = load_config(tmp_path)["SECRET_KEY"]
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch) -> None:
    """Without DATABASE_URL the embedded SQLite file is used."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert load_config(tmp_path, {"SECRET_KEY": "x"})["DATABASE_URL"] == f"sqlite:///{tmp_path / 'marketplace.db'}"


def test_postgres_urls_use_psycopg3() -> None:
    """Plain postgresql:// and postgres:// URLs are given the psycopg 3 driver."""
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_mapping_overrides_environment(tmp_path, monkeypatch) -> None:
    """create_app's mapping wins over the environment."""
    monkeypatch.setenv("TIMEZONE", "UTC")
    assert load_config(tmp_path, {"SECRET_KEY": "x", "TIMEZONE": "Asia/Seoul"})["TIMEZONE"] == "Asia/Seoul"


def test_app_reads_time_from_the_configured_clock(tmp_path) -> None:
    """Entry points read `now` from CLOCK."""
    frozen = FrozenClock(datetime(2026, 2, 16, 1, 0, tzinfo=UTC))
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "CLOCK": frozen})
    with app.app_context():
        assert clock_module.now() == datetime(2026, 2, 16, 1, 0, tzinfo=UTC)


def test_naive_clock_is_refused(tmp_path) -> None:
    """A clock returning naive datetimes is a configuration error, caught at first use."""
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "CLOCK": datetime.now})
    with app.app_context(), pytest.raises(ValueError, match="aware"):
        clock_module.now()


def test_clock_must_be_callable(tmp_path) -> None:
    """CLOCK that is not callable is refused at start."""
    with pytest.raises(ConfigurationError, match="CLOCK"):
        load_config(tmp_path, {"SECRET_KEY": "x", "CLOCK": "now"})
