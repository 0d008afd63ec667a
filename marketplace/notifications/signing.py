"""Signing outbound HTTP deliveries (the gateway and the marketplace's webhooks), and verifying them.

The relay sends the JSON body with these headers::

    X-Marketplace-Timestamp: 1790145600            (Unix seconds when it was signed)
    X-Marketplace-Signature: sha256=<hex>          (HMAC-SHA256 of "<timestamp>.<raw body>" with the shared secret)
    X-Marketplace-Message-Id: claim.opened:7:...   (the dedupe key: the same on every resend of one message)

A receiver verifies with the raw bytes it received (before parsing them), refuses a timestamp too far from its own
clock (a replayed old request), and deduplicates by the message id, because delivery is at least once::

    from marketplace.notifications.signing import verify_signature

    if not verify_signature(secret, request.get_data(), request.headers["X-Marketplace-Timestamp"],
                            request.headers["X-Marketplace-Signature"], now=time.time()):
        abort(401)

The module uses only the standard library, so a receiver can copy it as it is.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Marketplace-Timestamp"
SIGNATURE_HEADER = "X-Marketplace-Signature"
MESSAGE_ID_HEADER = "X-Marketplace-Message-Id"
TOPIC_HEADER = "X-Marketplace-Topic"
SCHEME = "sha256="
# A signature older or newer than this is refused: it bounds how long a captured request can be replayed.
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value for ``body`` signed at ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return SCHEME + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The timestamp and signature headers for one delivery."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    received: str | None,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether ``received`` signs ``body`` at ``timestamp`` with ``secret``, and the timestamp is recent.

    ``now`` is the receiver's clock in Unix seconds (``time.time()``). Comparison is constant-time.
    """
    if not timestamp or not received or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), received)
