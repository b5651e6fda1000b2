"""Dashboard accounts (argon2id password hashes, role + camera scope) and login sessions.

A signed-in user acts through the same :class:`TokenInfo` as a bearer token, with ``id`` set to
``-user_id`` (negative ids never name a token), so every route's role and camera checks apply
unchanged and the audit log records the user (``audit.user_id``) instead of a token.

Sessions: the browser holds a random 256-bit id in an HttpOnly cookie; the store keeps only its
SHA-256, the user, a CSRF token and two times. A session ends at logout, after
:data:`SESSION_IDLE_MS` without a request, after :data:`SESSION_MAX_MS` in all, or when the user is
disabled or changes password (all their sessions are removed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.store.base import ROLES, StoreBase, TokenInfo, iso_ms, now_ms
from alpr.errors import ConfigError

SESSION_IDLE_MS = 12 * 3_600_000
SESSION_MAX_MS = 7 * 24 * 3_600_000
_SEEN_EVERY_MS = 60_000  # refresh ``seen_ms`` at most this often (no write per request)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, t=3, p=4)


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


class UsersMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    _dummy_hash: str | None = None

    # -- accounts --------------------------------------------------------------------------------
    @staticmethod
    def _check_user(name: str, role: str | None, password: str | None) -> None:
        if not USERNAME.match(name):
            raise ConfigError(f"user name: expected 1-64 of A-Z a-z 0-9 . _ @ - , got {name!r}")
        if role is not None and role not in ROLES:
            raise ConfigError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        if password is not None and len(password) < MIN_PASSWORD:
            raise ConfigError(f"password: expected at least {MIN_PASSWORD} characters, got {len(password)}")

    def create_user(
        self, name: str, role: str, password: str, *, cameras: Sequence[str] | None = None
    ) -> int:
        """Create a dashboard account; raises :class:`ConfigError` on a bad or taken name."""
        self._check_user(name, role, password)
        if self._user_row(name) is not None:
            raise ConfigError(f"user {name!r} exists already")
        with self._begin() as conn:
            return int(
                conn.execute(
                    S.users.insert().values(
                        name=name,
                        pw_hash=_hasher().hash(password),
                        role=role,
                        cameras=json.dumps(list(cameras)) if cameras is not None else None,
                        disabled=False,
                        created_ms=now_ms(),
                    )
                ).inserted_primary_key[0]
            )

    def _user_row(self, name: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(S.users).where(S.users.c.name == name)).first()

    @staticmethod
    def _user_dict(r: Any) -> dict[str, Any]:
        return {
            "id": int(r.id),
            "name": r.name,
            "role": r.role,
            "cameras": None if r.cameras is None else json.loads(r.cameras),
            "disabled": bool(r.disabled),
            "created": iso_ms(int(r.created_ms)),
        }

    def list_users(self) -> list[dict[str, Any]]:
        """Every account (never the password hash)."""
        with self.engine.connect() as conn:
            return [self._user_dict(r) for r in conn.execute(sa.select(S.users).order_by(S.users.c.id))]

    def get_user(self, name: str) -> dict[str, Any] | None:
        """The account ``name`` as a dict (no password hash), or None."""
        r = self._user_row(name)
        return None if r is None else self._user_dict(r)

    def update_user(
        self,
        name: str,
        *,
        role: str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
        cameras: Sequence[str] | bool | None = False,
    ) -> bool:
        """Change an account; False when there is no such user.

        ``cameras=False`` leaves the scope as is, None clears it. A new password or disabling the account ends
        all its sessions.
        """
        self._check_user(name, role, password)
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role
        if password is not None:
            values["pw_hash"] = _hasher().hash(password)
        if disabled is not None:
            values["disabled"] = disabled
        if cameras is not False:
            values["cameras"] = None if cameras is None else json.dumps(list(cameras))  # type: ignore[arg-type]
        with self._begin() as conn:
            r = conn.execute(sa.select(S.users.c.id).where(S.users.c.name == name)).first()
            if r is None:
                return False
            if values:
                conn.execute(S.users.update().where(S.users.c.id == r.id).values(**values))
            if password is not None or disabled or role is not None or cameras is not False:
                conn.execute(S.sessions.delete().where(S.sessions.c.user_id == r.id))
        return True

    def check_password(self, name: str, password: str) -> TokenInfo | None:
        """The account's principal when ``password`` is right and the account enabled, else None.

        Costs one argon2 verification whether or not the user exists (no user-name oracle by timing).
        """
        from argon2.exceptions import InvalidHashError, VerificationError

        ph = _hasher()
        r = self._user_row(name) if USERNAME.match(name) else None
        if r is None:
            if UsersMixin._dummy_hash is None:
                UsersMixin._dummy_hash = ph.hash(secrets.token_urlsafe(16))
            with contextlib.suppress(VerificationError, InvalidHashError):
                ph.verify(UsersMixin._dummy_hash, password)
            return None
        try:
            ph.verify(r.pw_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if r.disabled:
            return None
        if ph.check_needs_rehash(r.pw_hash):
            with self._begin() as conn:
                conn.execute(S.users.update().where(S.users.c.id == r.id).values(pw_hash=ph.hash(password)))
        return self._principal(r)

    @staticmethod
    def _principal(r: Any) -> TokenInfo:
        cams = None if r.cameras is None else tuple(json.loads(r.cameras))
        return TokenInfo(-int(r.id), r.name, r.role, cams)

    # -- sessions --------------------------------------------------------------------------------
    def create_session(self, principal: TokenInfo) -> tuple[str, str]:
        """A new session for a user principal: ``(session id for the cookie, CSRF token)``."""
        if principal.id >= 0:
            raise ValueError("create_session: expected a user principal (negative id)")
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        t = now_ms()
        with self._begin() as conn:
            conn.execute(
                S.sessions.insert().values(
                    id_hash=_sha(sid), user_id=-principal.id, csrf=csrf, created_ms=t, seen_ms=t
                )
            )
        return sid, csrf

    def verify_session(self, sid: str) -> tuple[TokenInfo, str] | None:
        """``(principal, csrf token)`` of a live session of an enabled user, else None."""
        if not sid or len(sid) > 128:
            return None
        h = _sha(sid)
        t = now_ms()
        s, u = S.sessions, S.users
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(s.c.id_hash, s.c.csrf, s.c.created_ms, s.c.seen_ms, u)
                .join(u, u.c.id == s.c.user_id)
                .where(s.c.id_hash == h)
            ).first()
        if r is None or not secrets.compare_digest(r.id_hash, h):
            return None
        if r.disabled or t - r.seen_ms > SESSION_IDLE_MS or t - r.created_ms > SESSION_MAX_MS:
            self.end_session(sid)
            return None
        if t - r.seen_ms > _SEEN_EVERY_MS:
            with self._begin() as conn:
                conn.execute(s.update().where(s.c.id_hash == h).values(seen_ms=t))
        return self._principal(r), r.csrf

    def end_session(self, sid: str) -> None:
        """End the dashboard session ``sid`` (no error if it has already ended)."""
        with self._begin() as conn:
            conn.execute(S.sessions.delete().where(S.sessions.c.id_hash == _sha(sid)))

    def prune_sessions(self, now: int | None = None) -> int:
        """Remove expired sessions (the retention pass calls this); returns how many."""
        t = now_ms() if now is None else now
        s = S.sessions.c
        with self._begin() as conn:
            return int(
                conn.execute(
                    S.sessions.delete().where(
                        sa.or_(s.seen_ms < t - SESSION_IDLE_MS, s.created_ms < t - SESSION_MAX_MS)
                    )
                ).rowcount
            )
