"""Notification settings from the environment: refused clearly when they cannot work."""

from __future__ import annotations

import pytest

from marketplace.config import ConfigurationError, load_config


def test_defaults_send_everything_to_the_log(tmp_path) -> None:
    """Nothing configured: no SMTP host, no gateway, no webhook URL; ten attempts."""
    config = load_config(tmp_path, {"SECRET_KEY": "x"})
    assert (config["SMTP_HOST"], config["NOTIFY_GATEWAY_URL"], config["NOTIFY_WEBHOOK_URL"]) == ("", "", "")
    assert config["NOTIFY_MAX_ATTEMPTS"] == 10 and config["NOTIFY_BUYER_CHANNELS"] == ("email", "gateway")


def test_environment_sets_smtp_and_channels(tmp_path, monkeypatch) -> None:
    """Values come from the environment, typed."""
    monkeypatch.setenv("SMTP_HOST", "smtp.example")
    monkeypatch.setenv("SMTP_SECURITY", "tls")
    monkeypatch.setenv("NOTIFY_SELLER_CHANNELS", "gateway, email")
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "4")
    config = load_config(tmp_path, {"SECRET_KEY": "x"})
    assert (config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_SECURITY"]) == ("smtp.example", 465, "tls")
    assert config["NOTIFY_SELLER_CHANNELS"] == ("gateway", "email") and config["NOTIFY_MAX_ATTEMPTS"] == 4


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"NOTIFY_GATEWAY_URL": "https://gw.example"}, "NOTIFY_GATEWAY_SECRET must be set"),
        ({"NOTIFY_WEBHOOK_URL": "ftp://x", "NOTIFY_WEBHOOK_SECRET": "s"}, "http:// or https://"),
        ({"SMTP_SECURITY": "ssl3"}, "SMTP_SECURITY must be one of"),
        ({"NOTIFY_MAX_ATTEMPTS": "ten"}, "NOTIFY_MAX_ATTEMPTS must be a whole number"),
        ({"NOTIFY_BUYER_CHANNELS": "email,pigeon"}, "unknown channels"),
        ({"NOTIFY_LEASE_SECONDS": "30"}, "NOTIFY_LEASE_SECONDS"),
    ],
)
def test_unusable_settings_are_refused_with_the_name_to_fix(tmp_path, overrides, message) -> None:
    """The app does not start with settings the relay could not use; the message says which one."""
    with pytest.raises(ConfigurationError, match=message):
        load_config(tmp_path, {"SECRET_KEY": "x", **overrides})
