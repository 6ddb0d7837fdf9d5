"""API keys: random, prefixed, stored only as an HMAC-SHA256 under a server secret, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
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
    """Revoke the key with this prefix; False if there is no such active key."""
    result = session.execute(
        update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def tenant_for_key(session: Session, presented: str) -> int | None:
    """The tenant id of an active key, or None. The stored hash is compared in constant time."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    prefix = presented[: len(KEY_PREFIX) + 8]
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(presented)):
        return None
    return row.tenant_id
