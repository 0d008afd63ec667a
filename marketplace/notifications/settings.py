"""The notification settings the relay and the routing read, taken from the app's configuration once per run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """Where messages go, how hard the relay tries, and how it schedules the next attempt."""

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "no-reply@localhost"
    gateway_url: str = ""
    gateway_secret: str = ""
    webhook_url: str = ""
    webhook_secret: str = ""
    buyer_channels: tuple[str, ...] = ("email", "gateway")
    seller_channels: tuple[str, ...] = ("email", "gateway")
    public_url: str = ""
    timezone: str = "Asia/Seoul"
    max_attempts: int = 10
    backoff_seconds: int = 60
    backoff_max_seconds: int = 6 * 3600
    batch_size: int = 200
    concurrency: int = 8
    timeout_seconds: int = 10
    lease_seconds: int = 600

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NotifySettings:
        """Read the settings ``marketplace.config`` parsed from the environment."""
        return cls(
            smtp_host=config["SMTP_HOST"],
            smtp_port=config["SMTP_PORT"],
            smtp_security=config["SMTP_SECURITY"],
            smtp_username=config["SMTP_USERNAME"],
            smtp_password=config["SMTP_PASSWORD"],
            smtp_from=config["SMTP_FROM"],
            gateway_url=config["NOTIFY_GATEWAY_URL"],
            gateway_secret=config["NOTIFY_GATEWAY_SECRET"],
            webhook_url=config["NOTIFY_WEBHOOK_URL"],
            webhook_secret=config["NOTIFY_WEBHOOK_SECRET"],
            buyer_channels=tuple(config["NOTIFY_BUYER_CHANNELS"]),
            seller_channels=tuple(config["NOTIFY_SELLER_CHANNELS"]),
            public_url=config["NOTIFY_PUBLIC_URL"],
            timezone=config["TIMEZONE"],
            max_attempts=config["NOTIFY_MAX_ATTEMPTS"],
            backoff_seconds=config["NOTIFY_BACKOFF_SECONDS"],
            backoff_max_seconds=config["NOTIFY_BACKOFF_MAX_SECONDS"],
            batch_size=config["NOTIFY_BATCH_SIZE"],
            concurrency=config["NOTIFY_CONCURRENCY"],
            timeout_seconds=config["NOTIFY_TIMEOUT_SECONDS"],
            lease_seconds=config["NOTIFY_LEASE_SECONDS"],
        )

    def backoff(self, attempt: int) -> timedelta:
        """How long after the ``attempt``-th failure the next attempt is due: doubling, capped, no jitter.

        With the defaults: 1, 2, 4, 8, 16, 32, 64, 128, 256 minutes, then dead after the 10th failure (about
        8.5 hours after the first). The schedule is deterministic so that tests and staff can predict it; the
        due times of a burst of failures are spread anyway by when each message failed.
        """
        seconds = self.backoff_seconds * 2 ** max(attempt - 1, 0)
        return timedelta(seconds=min(seconds, self.backoff_max_seconds))

    @property
    def lease(self) -> timedelta:
        """How long a relay holds the messages it took before another relay may take them again."""
        return timedelta(seconds=self.lease_seconds)

    def configured(self, channel: str) -> bool:
        """Whether ``channel`` has what it needs to deliver (the log channel always has)."""
        if channel == "email":
            return bool(self.smtp_host)
        if channel == "gateway":
            return bool(self.gateway_url)
        if channel == "webhook":
            return bool(self.webhook_url)
        return channel == "log"
