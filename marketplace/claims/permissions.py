"""Who may read and act on claims and the SLA policy: roles for people, scopes for the marketplace's systems."""

from __future__ import annotations

from marketplace.core.auth import Actor, ActorKind, register_scope
from marketplace.core.models import Role
from marketplace.core.permissions import EVERYONE, STAFF, SUPERVISORS, can, define_permission

CLAIMS_READ = register_scope("claims:read", "Read claims, their timeline and evidence, and the SLA policy")
CLAIMS_WRITE = register_scope("claims:write", "File claims and act on them for buyers and sellers")
_ANY_CLAIMS_SCOPE = (CLAIMS_READ, CLAIMS_WRITE)

# Parties see their own claims (object-level checks narrow it); staff and scoped keys see all.
READ_CLAIM = define_permission("claims.read", roles=EVERYONE, scopes=_ANY_CLAIMS_SCOPE)
FILE_CLAIM = define_permission("claims.file", roles=(Role.BUYER, *STAFF), scopes=(CLAIMS_WRITE,))
PROPOSE_REMEDY = define_permission("claims.propose", roles=(Role.SELLER,), scopes=(CLAIMS_WRITE,))
# Accept, reject or withdraw: the buyer's answers.
RESPOND_TO_CLAIM = define_permission("claims.respond", roles=(Role.BUYER,), scopes=(CLAIMS_WRITE,))
ADD_EVIDENCE = define_permission("claims.evidence", roles=EVERYONE, scopes=(CLAIMS_WRITE,))
ESCALATE_CLAIM = define_permission("claims.escalate", roles=STAFF)
# The operation itself refuses an agent on a claim in the supervisors' queue.
DECIDE_CLAIM = define_permission("claims.decide", roles=STAFF)
NOTE_CLAIM = define_permission("claims.note", roles=STAFF)
ASSIGN_CLAIM = define_permission("claims.assign", roles=STAFF)
# Internal notes, who exactly acted, and the buyer's contact: staff and the marketplace's systems.
READ_INTERNAL = define_permission("claims.read_internal", roles=STAFF, scopes=_ANY_CLAIMS_SCOPE)

READ_POLICY = define_permission("policy.read", roles=STAFF, scopes=(CLAIMS_READ,))
PUBLISH_POLICY = define_permission("policy.publish", roles=SUPERVISORS)


def sees_internal(actor: Actor) -> bool:
    """Whether the actor sees staff-only timeline entries and who exactly acted."""
    return can(actor, READ_INTERNAL)


def sees_buyer_contact(actor: Actor, buyer_id: int) -> bool:
    """Staff, the marketplace's systems and the buyer themself see the buyer's contact; the seller does not."""
    return sees_internal(actor) or (actor.kind is ActorKind.BUYER and actor.buyer_id == buyer_id)
