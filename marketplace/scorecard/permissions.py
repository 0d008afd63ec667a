"""Who may read scorecards: staff all of them, a seller's users their own, the marketplace with a scope."""

from __future__ import annotations

from marketplace.core.auth import register_scope
from marketplace.core.models import Role
from marketplace.core.permissions import STAFF, define_permission

SCORECARD_READ = register_scope("scorecard:read", "Read sellers' scorecards: figures per window, grade and trend")

READ_SCORECARD = define_permission("scorecard.read", roles=(*STAFF, Role.SELLER), scopes=(SCORECARD_READ,))
# The ranking across sellers is the staff's.
RANK_SELLERS = define_permission("scorecard.rank", roles=STAFF, scopes=(SCORECARD_READ,))
