"""Who may declare, select, run and read mass incidents."""

from __future__ import annotations

from marketplace.core.auth import register_scope
from marketplace.core.permissions import STAFF, SUPERVISORS, define_permission

INCIDENTS_READ = register_scope("incidents:read", "Read mass incidents, their progress and report")

READ_INCIDENT = define_permission("incidents.read", roles=STAFF, scopes=(INCIDENTS_READ,))
# Declaring, selecting and running an incident spends platform money: supervisors and administrators.
MANAGE_INCIDENT = define_permission("incidents.manage", roles=SUPERVISORS)
