"""The channels that carry messages out: the log, e-mail over SMTP, and signed HTTP (the gateway and webhooks).

A channel's ``send`` either returns (delivered) or raises ``DeliveryError``; ``permanent`` says that trying again
cannot help (an address refused, a 4xx answer), so the message is dead-lettered at once. Channels are used by the
relay's worker threads at the same time: each thread keeps its own SMTP or HTTP connection and reuses it for every
message of the run (HTTP keep-alive), and ``close`` ends them all.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from marketplace.notifications import routing, signing
from marketplace.notifications.rendering import Notice, render_email, render_notice
from marketplace.notifications.settings import NotifySettings

log = logging.getLogger("marketplace.notifications")


class DeliveryError(Exception):
    """A message could not be delivered this time (or, when ``permanent``, ever)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the relay took it: the row's content and which attempt this is."""

    id: int
    dedupe_key: str
    topic: str
    audience: str
    recipient_id: int | None
    channel: str
    language: str
    address: str | None
    payload: dict[str, Any]
    attempt: int

    @property
    def is_notice(self) -> bool:
        """A notice to a person (rendered from a template), not a webhook to a system."""
        return self.audience in ("buyer", "seller", "staff")


class Channel(Protocol):
    """Something that delivers messages."""

    def send(self, delivery: Delivery, *, now: datetime) -> None: ...

    def close(self) -> None: ...


def _notice(delivery: Delivery, settings: NotifySettings) -> Notice:
    return render_notice(
        delivery.topic, delivery.audience, delivery.language, delivery.payload, timezone=settings.timezone
    )


class LogChannel:
    """Writes each message to the application log (the demo's channel, and the fallback when none is set up)."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    def send(self, delivery: Delivery, *, now: datetime) -> None:
        """Log the message; rendering is skipped when nobody would read the line."""
        if not log.isEnabledFor(logging.INFO):
            return
        what = _notice(delivery, self.settings).subject if delivery.is_notice else json.dumps(delivery.payload)
        log.info(
            "%s %s to %s %s (%s, attempt %d): %s",
            delivery.channel,
            delivery.topic,
            delivery.audience,
            delivery.recipient_id if delivery.recipient_id is not None else "",
            delivery.dedupe_key,
            delivery.attempt,
            what,
        )

    def close(self) -> None:
        """Nothing to close."""


class EmailChannel:
    """Multipart (plain text and HTML) e-mail over SMTP, with STARTTLS or implicit TLS and a login when set."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._opened: list[smtplib.SMTP] = []
        self._lock = threading.Lock()

    def message(self, delivery: Delivery, *, now: datetime) -> EmailMessage:
        """The e-mail for ``delivery``; its Message-ID is derived from the dedupe key, so a resend carries the
        same one and mail systems can drop the duplicate."""
        notice = _notice(delivery, self.settings)
        email = render_email(
            notice,
            recipient_name=delivery.payload.get("recipient_name"),
            audience=delivery.audience,
            public_url=self.settings.public_url,
            timezone=self.settings.timezone,
        )
        message = EmailMessage()
        message["Subject"] = email.subject
        message["From"] = self.settings.smtp_from
        message["To"] = delivery.address
        message["Date"] = format_datetime(now)
        domain = self.settings.smtp_from.rpartition("@")[2].strip("> ") or "marketplace"
        message["Message-ID"] = f"<{hashlib.sha256(delivery.dedupe_key.encode()).hexdigest()[:40]}@{domain}>"
        message[signing.MESSAGE_ID_HEADER] = delivery.dedupe_key
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        return message

    def send(self, delivery: Delivery, *, now: datetime) -> None:
        """Send the e-mail on this thread's connection (opened on first use, reopened once if it was dropped)."""
        if not routing.is_email(delivery.address):
            raise DeliveryError(f"no e-mail address to send to ({delivery.address!r})", permanent=True)
        message = self.message(delivery, now=now)
        for retry in (False, True):
            connection = self._connection()
            try:
                connection.send_message(message)
                return
            except smtplib.SMTPServerDisconnected as exc:
                self._drop(connection)
                if retry:
                    raise DeliveryError(f"SMTP server disconnected: {exc}") from exc
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _text in exc.recipients.values()]
                raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=min(codes) >= 500) from exc
            except smtplib.SMTPResponseException as exc:
                self._drop(connection)
                raise DeliveryError(
                    f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500
                ) from exc
            except (smtplib.SMTPException, OSError) as exc:
                self._drop(connection)
                raise DeliveryError(f"SMTP failed: {type(exc).__name__}: {exc}") from exc

    def _connection(self) -> smtplib.SMTP:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        settings = self.settings
        try:
            if settings.smtp_security == "tls":
                connection = smtplib.SMTP_SSL(
                    settings.smtp_host,
                    settings.smtp_port,
                    timeout=settings.timeout_seconds,
                    context=ssl.create_default_context(),
                )
            else:
                connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds)
                if settings.smtp_security == "starttls":
                    connection.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                connection.login(settings.smtp_username, settings.smtp_password)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused: {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"cannot reach SMTP server: {type(exc).__name__}: {exc}") from exc
        self._local.connection = connection
        with self._lock:
            self._opened.append(connection)
        return connection

    def _drop(self, connection: smtplib.SMTP) -> None:
        self._local.connection = None
        with suppress(OSError):
            connection.close()

    def close(self) -> None:
        """Say goodbye on every connection the run opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


class HttpChannel:
    """POSTs a signed JSON body to one URL, on one kept-alive connection per worker thread."""

    # Answers worth another attempt; any other 4xx means the request itself is wrong.
    TRANSIENT = frozenset({408, 409, 425, 429})

    def __init__(self, url: str, secret: str, *, timeout: int, body: Callable[[Delivery], dict[str, Any]]) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.secret = secret
        self.timeout = timeout
        self.body = body
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def send(self, delivery: Delivery, *, now: datetime) -> None:
        """POST the body; a 2xx answer is delivered."""
        body = json.dumps(self.body(delivery), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            signing.MESSAGE_ID_HEADER: delivery.dedupe_key.encode("ascii", "replace").decode(),
            signing.TOPIC_HEADER: delivery.topic,
            **signing.signed_headers(self.secret, int(now.timestamp()), body),
        }
        for retry in (False, True):
            connection, reused = self._connection()
            try:
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                # A kept-alive connection the receiver had already closed: once more on a fresh one.
                self._drop(connection)
                if retry or not reused:
                    raise DeliveryError(f"connection lost: {type(exc).__name__}: {exc}") from exc
                continue
            except (OSError, http.client.HTTPException) as exc:
                self._drop(connection)
                raise DeliveryError(f"HTTP request failed: {type(exc).__name__}: {exc}") from exc
            if response.will_close:
                self._drop(connection)
            if 200 <= response.status < 300:
                return
            excerpt = answer[:200].decode("utf-8", "replace")
            permanent = 300 <= response.status < 500 and response.status not in self.TRANSIENT
            raise DeliveryError(f"HTTP {response.status} {response.reason}: {excerpt}", permanent=permanent)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, True
        if self.https:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._local.connection = connection
        with self._lock:
            self._opened.append(connection)
        return connection, False

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        self._local.connection = None
        connection.close()

    def close(self) -> None:
        """Close every connection the run opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()


def gateway_body(settings: NotifySettings) -> Callable[[Delivery], dict[str, Any]]:
    """What the gateway (SMS / KakaoTalk / app push) receives: who, in which language, and the rendered notice."""

    def body(delivery: Delivery) -> dict[str, Any]:
        notice = _notice(delivery, settings)
        return {
            "id": delivery.dedupe_key,
            "topic": delivery.topic,
            "audience": delivery.audience,
            "recipient_id": delivery.recipient_id,
            "address": delivery.address,
            "language": notice.language,
            "subject": notice.subject,
            "text": "\n\n".join(notice.paragraphs),
            "facts": [{"label": label, "value": value} for label, value in notice.facts],
        }

    return body


def webhook_body(delivery: Delivery) -> dict[str, Any]:
    """A webhook's body is stored whole in the outbox: ``{"topic", "id", "data"}``."""
    return delivery.payload


class Channels:
    """The channels of one relay run, each built on first use from the settings."""

    def __init__(self, settings: NotifySettings, overrides: dict[str, Channel] | None = None) -> None:
        self.settings = settings
        self._channels: dict[str, Channel] = dict(overrides or {})
        self._lock = threading.Lock()

    def for_delivery(self, delivery: Delivery) -> Channel:
        """The channel that carries ``delivery`` (the log when its own channel is not configured)."""
        name = (
            delivery.channel
            if delivery.channel in self._channels
            else routing.transport(delivery.channel, self.settings)
        )
        with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                channel = self._channels[name] = self._build(name)
            return channel

    def _build(self, name: str) -> Channel:
        settings = self.settings
        if name == routing.EMAIL:
            return EmailChannel(settings)
        if name == routing.GATEWAY:
            return HttpChannel(
                settings.gateway_url,
                settings.gateway_secret,
                timeout=settings.timeout_seconds,
                body=gateway_body(settings),
            )
        if name == routing.WEBHOOK:
            return HttpChannel(
                settings.webhook_url, settings.webhook_secret, timeout=settings.timeout_seconds, body=webhook_body
            )
        return LogChannel(settings)

    def close(self) -> None:
        """Close every channel's connections."""
        for channel in self._channels.values():
            channel.close()


@contextmanager
def open_channels(settings: NotifySettings, overrides: dict[str, Channel] | None = None) -> Iterator[Channels]:
    """Channels for one relay run, closed at the end of it."""
    channels = Channels(settings, overrides)
    try:
        yield channels
    finally:
        channels.close()
