"""Who may send order events: the marketplace's systems, with an API key carrying ``events:write``."""

from __future__ import annotations

from marketplace.core.auth import register_scope
from marketplace.core.permissions import define_permission

EVENTS_WRITE = register_scope("events:write", "Send order events (paid, shipped, delivered, cancelled, refunded)")

# No role: people never send order events; only the marketplace's systems do.
INGEST_ORDER_EVENTS = define_permission("orders.ingest", roles=(), scopes=(EVENTS_WRITE,))
