"""Who is acting: users, API clients and the system; password and API-key hashing; scopes."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from marketplace.core.models import ApiKey, Role, User


class ActorKind(enum.StrEnum):
    """The kinds of actor the audit log distinguishes."""

    USER = "user"
    SELLER_USER = "seller_user"
    BUYER = "buyer"
    API_CLIENT = "api_client"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal behind an operation, as operations and the audit log see it."""

    kind: ActorKind
    id: int | None
    name: str
    role: Role | None = None
    seller_id: int | None = None
    buyer_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def ref(self) -> str:
        """How the audit log names this actor: ``user:3``, ``seller_user:4``, ``buyer_user:5``, ``api_client:2``,
        ``system:scheduler`` (the number is the login's or key's id)."""
        if self.kind is ActorKind.SYSTEM:
            return f"system:{self.name}"
        # People are named by their login's id; "buyer:6" would read as buyer record 6.
        return f"{_REF_PREFIX.get(self.kind, self.kind.value)}:{self.id}"

    @property
    def is_authenticated(self) -> bool:
        """Anyone but the anonymous actor."""
        return self.kind is not ActorKind.ANONYMOUS

    @property
    def is_staff(self) -> bool:
        """Trust-and-safety staff (agent, supervisor, admin)."""
        return self.role is not None and self.role.is_staff

    @classmethod
    def for_user(cls, user: User) -> Actor:
        """The actor for a logged-in person."""
        kind = {Role.SELLER: ActorKind.SELLER_USER, Role.BUYER: ActorKind.BUYER}.get(user.role, ActorKind.USER)
        return cls(
            kind=kind,
            id=user.id,
            name=user.name,
            role=user.role,
            seller_id=user.seller_id,
            buyer_id=user.buyer_id,
        )

    @classmethod
    def for_api_key(cls, key: ApiKey) -> Actor:
        """The actor for one of the marketplace's systems calling with an API key."""
        return cls(kind=ActorKind.API_CLIENT, id=key.id, name=key.name, scopes=frozenset(key.scopes))

    @classmethod
    def system(cls, name: str) -> Actor:
        """A process acting on its own: ``scheduler``, ``cli``, ``demo``."""
        return cls(kind=ActorKind.SYSTEM, id=None, name=name)


_REF_PREFIX = {ActorKind.SELLER_USER: "seller_user", ActorKind.BUYER: "buyer_user"}

ANONYMOUS = Actor(kind=ActorKind.ANONYMOUS, id=None, name="anonymous")
SCHEDULER = Actor.system("scheduler")
CLI = Actor.system("cli")

# Scopes an API key may carry; each domain registers the ones its endpoints check.
SCOPES: dict[str, str] = {}


def register_scope(name: str, description: str) -> str:
    """Declare a scope so that keys can be issued with it."""
    SCOPES[name] = description
    return name


CALENDAR_READ = register_scope("calendar:read", "Read the business calendar and compute deadlines")
CALENDAR_WRITE = register_scope("calendar:write", "Add and remove platform holidays")

_hasher = PasswordHasher()  # argon2-cffi defaults to Argon2id with RFC 9106's low-memory profile
# Checked against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; always spends the same effort, even without a hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


API_KEY_PREFIX = "mk_"


def generate_api_key() -> tuple[str, str, str]:
    """A new key as (full key shown once, public prefix, SHA-256 of the full key)."""
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    """SHA-256 of the key: keys are 256 random bits, so a fast hash is as safe as a slow one and costs nothing."""
    return hashlib.sha256(key.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a, b)
