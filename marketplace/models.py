"""Every domain's models, imported so that ``Base.metadata`` knows all tables (migrations, tests)."""

from marketplace.claims.models import Claim, ClaimEvent, Evidence
from marketplace.core.models import ApiKey, AuditRecord, PlatformHoliday, PolicyVersion, User
from marketplace.notifications.models import OutboxMessage
from marketplace.orders.models import Buyer, Order
from marketplace.sanctions.models import Appeal, Sanction, SanctionPause, SellerStanding, StageChange, Violation
from marketplace.sellers.models import Seller

__all__ = [
    "ApiKey",
    "Appeal",
    "AuditRecord",
    "Buyer",
    "Claim",
    "ClaimEvent",
    "Evidence",
    "Order",
    "OutboxMessage",
    "PlatformHoliday",
    "PolicyVersion",
    "Sanction",
    "SanctionPause",
    "Seller",
    "SellerStanding",
    "StageChange",
    "User",
    "Violation",
]
