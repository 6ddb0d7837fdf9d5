"""API keys: random, prefixed, stored only as an HMAC-SHA256 under a server secret, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import ApiKey, utcnow
from app.settings import Settings, get_settings
from app.store import get_or_create_tenant

KEY_PREFIX = "slv_"
DEFAULT_KEY_SECRET = Settings.model_fields["api_key_secret"].default
MIN_KEY_SECRET_CHARS = 16


class WeakKeySecret(RuntimeError):
    """The HMAC secret is the published default or too short."""


def require_key_secret() -> None:
    """Refuse to serve or mint keys under the published default (or a short) HMAC secret.

    Only the embedded quick start may run without a configured secret (it writes a random one anyway).
    """
    settings = get_settings()
    if settings.embedded:
        return
    if settings.api_key_secret == DEFAULT_KEY_SECRET or len(settings.api_key_secret) < MIN_KEY_SECRET_CHARS:
        raise WeakKeySecret(
            "SOLVENT_API_KEY_SECRET is unset (the published default) or shorter than "
            f"{MIN_KEY_SECRET_CHARS} characters; set a random one, e.g. `openssl rand -hex 32`. "
            "Only the embedded quick start (`solvent serve`) runs without it."
        )


def hash_key(key: str, secret: str | None = None) -> str:
    """The keyed hash under which a key is stored."""
    pepper = (secret if secret is not None else get_settings().api_key_secret).encode()
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


@dataclass
class CreatedKey:
    """A freshly created key: ``key`` is shown once and never stored."""

    tenant: str
    prefix: str
    key: str


def create_key(session: Session, tenant_name: str) -> CreatedKey:
    """Create a tenant (if new) and a key for it."""
    require_key_secret()
    tenant = get_or_create_tenant(session, tenant_name)
    prefix = KEY_PREFIX + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(tenant_id=tenant.id, prefix=prefix, key_hash=hash_key(key)))
    session.flush()
    return CreatedKey(tenant=tenant.name, prefix=prefix, key=key)


def revoke_key(session: Session, prefix: str) -> bool:
    """Revoke the key with this prefix; False if there is no such active key.

    This process forgets the keys it had accepted at once; other API processes refuse the key once
    their cached acceptance is older than ``api_key_cache_s``.
    """
    result = session.execute(
        update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    ACCEPTED_KEYS.clear()
    return bool(result.rowcount)  # type: ignore[attr-defined]


class AcceptedKeys:
    """Keys this process found active in the database in the last ``api_key_cache_s`` seconds, by keyed hash.

    Only acceptances are kept (an unknown or revoked key is looked up every time), never the key itself,
    and at most ``max_entries`` of them.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self.entries: dict[str, tuple[int, float]] = {}
        self.lock = threading.Lock()

    def get(self, key_hash: str, ttl_s: float) -> int | None:
        """The tenant of a key accepted less than ``ttl_s`` ago, else None."""
        entry = self.entries.get(key_hash)
        if entry is None or time.monotonic() - entry[1] >= ttl_s:
            return None
        return entry[0]

    def put(self, key_hash: str, tenant_id: int) -> None:
        """Remember that this key was active just now (dropping the oldest entry when full)."""
        with self.lock:
            if len(self.entries) >= self.max_entries and key_hash not in self.entries:
                del self.entries[next(iter(self.entries))]
            self.entries[key_hash] = (tenant_id, time.monotonic())

    def clear(self) -> None:
        """Forget every acceptance (after a revocation in this process)."""
        with self.lock:
            self.entries.clear()


ACCEPTED_KEYS = AcceptedKeys()


def well_formed(presented: str) -> bool:
    """Whether a presented key has the shape of one of ours (checked before any hashing or lookup)."""
    return presented.startswith(KEY_PREFIX) and len(presented) <= 200


def cached_tenant_for_key(presented: str) -> int | None:
    """The tenant of a key accepted within the last ``api_key_cache_s`` seconds, without a database read."""
    ttl_s = get_settings().api_key_cache_s
    if ttl_s <= 0 or not well_formed(presented):
        return None
    return ACCEPTED_KEYS.get(hash_key(presented), ttl_s)


def tenant_for_key(session: Session, presented: str) -> int | None:
    """The tenant id of an active key, or None. The stored hash is compared in constant time."""
    if not well_formed(presented):
        return None
    prefix = presented[: len(KEY_PREFIX) + 8]
    key_hash = hash_key(presented)
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.key_hash, key_hash):
        return None
    ACCEPTED_KEYS.put(key_hash, row.tenant_id)
    return row.tenant_id
