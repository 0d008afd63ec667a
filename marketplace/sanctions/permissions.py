"""Who may read and act on standing, violations, sanctions, appeals, pauses and the sanction policy.

Sellers' users see their own seller only (someone else's is a 404); buyers see none of it. The marketplace's
systems read with API key scopes.
"""

from __future__ import annotations

from marketplace.core.auth import register_scope
from marketplace.core.models import Role
from marketplace.core.permissions import STAFF, SUPERVISORS, define_permission

STANDING_READ = register_scope("standing:read", "Read a seller's standing: may it list, may it sell, its stage")
SANCTIONS_READ = register_scope(
    "sanctions:read", "Read sellers' standing, violations, sanctions, stage history, appeals and the sanction policy"
)
_READERS = (*STAFF, Role.SELLER)

READ_STANDING = define_permission("standing.read", roles=_READERS, scopes=(STANDING_READ, SANCTIONS_READ))
READ_SANCTIONS = define_permission("sanctions.read", roles=_READERS, scopes=(SANCTIONS_READ,))
# Agents record what they find; overturning a violation or deciding a restriction is a supervisor's call.
RECORD_VIOLATION = define_permission("sanctions.record_violation", roles=STAFF)
OVERTURN_VIOLATION = define_permission("sanctions.overturn_violation", roles=SUPERVISORS)
MANAGE_SANCTION = define_permission("sanctions.manage", roles=SUPERVISORS)
FILE_APPEAL = define_permission("sanctions.file_appeal", roles=(Role.SELLER,))
# The operation refuses an agent when the decision would lift a selling restriction.
DECIDE_APPEAL = define_permission("sanctions.decide_appeal", roles=STAFF)
READ_PAUSES = define_permission("sanctions.read_pauses", roles=_READERS, scopes=(SANCTIONS_READ,))
DECLARE_PAUSE = define_permission("sanctions.declare_pause", roles=SUPERVISORS)
READ_SANCTION_POLICY = define_permission("sanctions.read_policy", roles=_READERS, scopes=(SANCTIONS_READ,))
PUBLISH_SANCTION_POLICY = define_permission("sanctions.publish_policy", roles=SUPERVISORS)
SIMULATE_POLICY = define_permission("sanctions.simulate_policy", roles=STAFF)
# Lists across all sellers are the staff's (a seller reads its own under /sellers/<id>/…).
LIST_ALL = define_permission("sanctions.list_all", roles=STAFF, scopes=(SANCTIONS_READ,))
