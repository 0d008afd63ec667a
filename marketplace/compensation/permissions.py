"""Who may see and act on compensations, the compensation policy, deductions and settlement events."""

from __future__ import annotations

from marketplace.core.auth import register_scope
from marketplace.core.models import Role
from marketplace.core.permissions import EVERYONE, STAFF, SUPERVISORS, define_permission

COMPENSATIONS_READ = register_scope("compensations:read", "Read compensations, the compensation policy and deductions")
SETTLEMENTS_WRITE = register_scope("settlements:write", "Confirm payouts to buyers and deductions from sellers")

# Buyers see their own compensations and sellers those they are charged for (object-level checks narrow it).
READ_COMPENSATION = define_permission("compensations.read", roles=EVERYONE, scopes=(COMPENSATIONS_READ,))
VOID_COMPENSATION = define_permission("compensations.void", roles=SUPERVISORS)
GRANT_COMPENSATION = define_permission("compensations.grant", roles=SUPERVISORS)
READ_COMPENSATION_POLICY = define_permission("compensation_policy.read", roles=STAFF, scopes=(COMPENSATIONS_READ,))
PUBLISH_COMPENSATION_POLICY = define_permission("compensation_policy.publish", roles=SUPERVISORS)
# A seller sees its own deductions; staff and the marketplace's settlement system see every seller's.
READ_DEDUCTIONS = define_permission(
    "deductions.read", roles=(*STAFF, Role.SELLER), scopes=(COMPENSATIONS_READ, SETTLEMENTS_WRITE)
)
RECORD_SETTLEMENT_EVENTS = define_permission("settlements.record", scopes=(SETTLEMENTS_WRITE,))
