"""API tokens (hashed, role + camera scope) and the audit log."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.store.base import (
    ROLES,
    StoreBase,
    TokenInfo,
    _dumps,
    iso_ms,
    now_ms,
)
from alpr.errors import ConfigError


class AccessMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    @staticmethod
    def _hash_token(token: str) -> str:
        # Tokens carry 256 random bits, so a fast unsalted hash is enough (no dictionary to attack).
        return hashlib.sha256(token.encode()).hexdigest()

    def create_token(self, role: str, *, cameras: Sequence[str] | None = None, name: str = "") -> str:
        """Create a bearer token and return it; only its SHA-256 is stored."""
        if role not in ROLES:
            raise ConfigError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        token = "alpr_" + secrets.token_urlsafe(32)
        with self._begin() as conn:
            conn.execute(
                S.tokens.insert().values(
                    name=name or role,
                    token_hash=self._hash_token(token),
                    role=role,
                    cameras=json.dumps(list(cameras)) if cameras is not None else None,
                    created_ms=now_ms(),
                    revoked=False,
                )
            )
        return token

    def verify_token(self, token: str) -> TokenInfo | None:
        """The live (not revoked) token whose hash matches ``token``, or None."""
        h = self._hash_token(token)
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(S.tokens).where(S.tokens.c.token_hash == h, S.tokens.c.revoked.is_(False))
            ).first()
        if r is None or not secrets.compare_digest(r.token_hash, h):
            return None
        cams = None if r.cameras is None else tuple(json.loads(r.cameras))
        return TokenInfo(int(r.id), r.name, r.role, cams)

    def list_tokens(self) -> list[dict[str, Any]]:
        """Every token's id, name, role, cameras and state (never the token, which is not stored)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.tokens).order_by(S.tokens.c.id)).all()
        return [
            {
                "id": int(r.id),
                "name": r.name,
                "role": r.role,
                "cameras": None if r.cameras is None else json.loads(r.cameras),
                "created": iso_ms(int(r.created_ms)),
                "revoked": bool(r.revoked),
            }
            for r in rows
        ]

    def revoke_token(self, token_id: int) -> bool:
        """Revoke API token ``token_id``; False when there is no such token."""
        with self._begin() as conn:
            return bool(
                conn.execute(S.tokens.update().where(S.tokens.c.id == token_id).values(revoked=True)).rowcount
            )

    def audit(self, token_id: int | None, action: str, detail: Mapping[str, Any], results: int) -> None:
        """Append to the audit log. A negative ``token_id`` is a signed-in user (``-user_id``)."""
        user_id = -token_id if token_id is not None and token_id < 0 else None
        plate = detail.get("plate")
        # Indexed by the plate it names, so that erasing the plate redacts this row too.
        named = isinstance(plate, str) and plate and plate != "[erased]"
        bidx = self.keyring.blind_index(str(plate)) if named else None
        with self._begin() as conn:
            conn.execute(
                S.audit.insert().values(
                    ts_ms=now_ms(),
                    token_id=None if user_id is not None else token_id,
                    user_id=user_id,
                    action=action,
                    detail_ct=self.keyring.encrypt(_dumps(dict(detail)), b"audit"),
                    key_id=self.keyring.active,
                    results=results,
                    plate_bidx=bidx,
                )
            )

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` audit log entries, newest first, with the signed-in user's name."""
        q = sa.select(S.audit, S.users.c.name.label("user")).outerjoin(
            S.users, S.users.c.id == S.audit.c.user_id
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(S.audit.c.id.desc()).limit(limit)).all()
        return [
            {
                "id": int(r.id),
                "ts": iso_ms(int(r.ts_ms)),
                "token_id": r.token_id,
                "user": r.user,
                "action": r.action,
                "detail": orjson.loads(self.keyring.decrypt(r.detail_ct, b"audit")),
                "results": int(r.results),
            }
            for r in rows
        ]
