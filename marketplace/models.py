"""Every domain's models, imported so that ``Base.metadata`` knows all tables (migrations, tests)."""

from marketplace.claims.models import Claim, ClaimEvent, Evidence
from marketplace.compensation.models import (
    Compensation,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Recovery,
    SettlementEvent,
)
from marketplace.core.models import ApiKey, AuditRecord, PlatformHoliday, PolicyVersion, User
from marketplace.incidents.models import Incident, IncidentOrder
from marketplace.notifications.models import DeliveryFailure, OutboxMessage
from marketplace.orders.models import Buyer, Order
from marketplace.sanctions.models import Appeal, Sanction, SanctionPause, SellerStanding, StageChange, Violation
from marketplace.scorecard.models import ScorecardDay, ScorecardSnapshot, ScorecardState
from marketplace.sellers.models import Seller

__all__ = [
    "ApiKey",
    "Appeal",
    "AuditRecord",
    "Buyer",
    "Claim",
    "ClaimEvent",
    "Compensation",
    "DeliveryFailure",
    "Evidence",
    "Incident",
    "IncidentOrder",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "Order",
    "OutboxMessage",
    "PlatformHoliday",
    "PolicyVersion",
    "Recovery",
    "Sanction",
    "SanctionPause",
    "ScorecardDay",
    "ScorecardSnapshot",
    "ScorecardState",
    "Seller",
    "SellerStanding",
    "SettlementEvent",
    "StageChange",
    "User",
    "Violation",
]
