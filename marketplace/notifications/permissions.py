"""Who may see the outbox, retry a message, and read an inbox."""

from __future__ import annotations

from marketplace.core.models import Role
from marketplace.core.permissions import STAFF, define_permission

VIEW_OUTBOX = define_permission("notifications.view_outbox", roles=STAFF)
RETRY_MESSAGE = define_permission("notifications.retry", roles=STAFF)
# Staff see every message in the outbox; an inbox is a buyer's or a seller's own notices.
READ_INBOX = define_permission("notifications.read_inbox", roles=(Role.BUYER, Role.SELLER))
