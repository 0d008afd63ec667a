"""Real servers on loopback for the delivery tests: an HTTP receiver that verifies signatures, and an SMTP sink."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from marketplace.notifications.signing import MESSAGE_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature


@dataclass
class Received:
    """One POST as the receiver saw it."""

    path: str
    headers: dict[str, str]
    raw: bytes
    verified: bool

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return json.loads(self.raw)

    @property
    def message_id(self) -> str:
        """The dedupe key the relay sent in the header."""
        return self.headers[MESSAGE_ID_HEADER]


@dataclass
class WebhookReceiver:
    """Accepts signed POSTs, checks each signature with the shared secret, and answers with ``statuses`` in turn
    (then 200). Only verified deliveries count as received."""

    secret: str
    now: Callable[[], float]
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)
    connections: set[int] = field(default_factory=set)
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def handle(self, path: str, headers: dict[str, str], raw: bytes, connection: int) -> int:
        """Record a POST and choose the answer."""
        verified = verify_signature(
            self.secret, raw, headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), now=self.now()
        )
        with self._lock:
            self.connections.add(connection)
            if not verified:
                self.refused.append(Received(path, headers, raw, False))
                return 401
            status = self.statuses.pop(0) if self.statuses else 200
            if 200 <= status < 300:
                self.received.append(Received(path, headers, raw, True))
            return status


@contextmanager
def webhook_receiver(secret: str, *, now: Callable[[], float], path: str = "/hooks") -> Iterator[WebhookReceiver]:
    """A receiver served by a threaded HTTP/1.1 server (keep-alive) on 127.0.0.1, stopped afterwards."""
    receiver = WebhookReceiver(secret=secret, now=now)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the second until the
        # client's delayed ACK (40 ms), and a kept-alive connection crawls.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.handle(self.path, dict(self.headers.items()), raw, id(self.connection))
            answer = b"ok" if status < 300 else b"no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}{path}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class MailSink:
    """An SMTP server's handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message as parsed by the standard library."""
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(*, username: str | None = None, password: str | None = None) -> Iterator[tuple[MailSink, int]]:
    """An SMTP server (aiosmtpd) on 127.0.0.1; with a username it requires that login."""
    sink = MailSink()
    options: dict[str, Any] = {}
    if username is not None:

        def authenticate(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                username.encode(),
                (password or "").encode(),
            )
            return AuthResult(success=ok, handled=False)

        options = {"authenticator": authenticate, "auth_require_tls": False, "auth_required": True}
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
