"""Camera configuration (site, role, direction), site settings and permits (the local allow-list).

A camera belongs to one site and has a role: ``entry`` reads open parking sessions, ``exit`` reads
close them, ``pass`` reads only feed journeys. ``direction`` (optional) limits the role to tracks
travelling that way, so one camera over a two-way lane can be configured as the entry for
approaching vehicles while leaving ones are ignored. Permits name a plate (encrypted, found through
the blind index), a holder name (encrypted), an optional site and a validity window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alpr.bridge import schema as S
from alpr.bridge.crypto import normalize_plate
from alpr.bridge.store.base import StoreBase, now_ms
from alpr.errors import ConfigError

__all__ = ["CameraConfig", "Permit", "PermitDecision", "PermitLookup", "SiteConfig", "SitesMixin"]

CameraRole = Literal["entry", "exit", "pass"]
ROLES_CAM = ("entry", "exit", "pass")
DEFAULT_MATCH_WINDOW_S = 7 * 86_400.0
DEFAULT_MAX_DISTANCE = 0.5  # two confusable substitutions (PKI003 ~ PK1003 is 0.25), no real edit


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """A camera's place in a site: its ``site``, ``role`` (entry, exit or pass) and travel ``direction``."""

    camera: str
    site: str
    role: CameraRole
    direction: str | None


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Per-site settings; a site without a row uses the defaults."""

    site: str
    max_stay_s: float | None = None
    capacity: int | None = None
    match_window_s: float = DEFAULT_MATCH_WINDOW_S
    max_distance: float = DEFAULT_MAX_DISTANCE


@dataclass(frozen=True, slots=True)
class Permit:
    """A local permit (allow-list entry) of a normalised plate, for one site or all, in a validity window."""

    id: int
    plate: str
    name: str
    site: str | None
    valid_from_ms: int | None
    valid_until_ms: int | None

    def valid(self, site: str, ts_ms: int) -> bool:
        """Whether the permit covers ``site`` at ``ts_ms`` (``valid_until_ms`` exclusive)."""
        return (
            (self.site is None or self.site == site)
            and (self.valid_from_ms is None or self.valid_from_ms <= ts_ms)
            and (self.valid_until_ms is None or ts_ms < self.valid_until_ms)
        )


@dataclass(frozen=True, slots=True)
class PermitDecision:
    """What a permit / payment lookup answered: open the barrier or not, for whom, said by whom."""

    allowed: bool
    name: str = ""
    source: str = "local"


PermitLookup = Callable[[str, str, str, int], "PermitDecision | None"]
"""``(plate, site, camera, ts_ms) -> decision``, or None when the lookup is unavailable (the local
allow-list then decides). See :class:`alpr.bridge.permits.PermitHook`."""


class SitesMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    # -- cameras ---------------------------------------------------------------------------------
    def set_camera(self, camera: str, *, site: str, role: str, direction: str | None = None) -> CameraConfig:
        """Create or replace the site configuration of ``camera``.

        Raises:
            ConfigError: ``role`` is not entry, exit or pass, or ``direction`` not approaching, leaving or
                None.
        """
        if role not in ROLES_CAM:
            raise ConfigError(f"camera role: expected entry, exit or pass, got {role!r}")
        if direction not in (None, "approaching", "leaving"):
            raise ConfigError(f"camera direction: expected approaching, leaving or null, got {direction!r}")
        values = {"site": site, "role": role, "direction": direction, "updated_ms": now_ms()}
        with self._begin() as conn:
            n = conn.execute(
                S.camera_config.update().where(S.camera_config.c.camera == camera).values(**values)
            ).rowcount
            if not n:
                conn.execute(S.camera_config.insert().values(camera=camera, **values))
        return CameraConfig(camera, site, role, direction)  # type: ignore[arg-type]

    def delete_camera(self, camera: str) -> bool:
        """Drop the site configuration of ``camera``; False when it had none."""
        with self._begin() as conn:
            q = S.camera_config.delete().where(S.camera_config.c.camera == camera)
            return bool(conn.execute(q).rowcount)

    def camera_configs(self, conn: Connection | None = None) -> dict[str, CameraConfig]:
        """Camera -> its site configuration (read on ``conn`` when given)."""
        q = sa.select(S.camera_config)
        if conn is None:
            with self.engine.connect() as c:
                rows = c.execute(q).all()
        else:
            rows = conn.execute(q).all()
        return {r.camera: CameraConfig(r.camera, r.site, r.role, r.direction) for r in rows}

    def site_cameras(self, site: str) -> list[str]:
        """The cameras of ``site``, sorted."""
        q = sa.select(S.camera_config.c.camera).where(S.camera_config.c.site == site)
        with self.engine.connect() as conn:
            return sorted(conn.execute(q.order_by(S.camera_config.c.camera)).scalars())

    # -- sites -----------------------------------------------------------------------------------
    def set_site(
        self,
        site: str,
        *,
        max_stay_s: float | None = None,
        capacity: int | None = None,
        match_window_s: float = DEFAULT_MATCH_WINDOW_S,
        max_distance: float = DEFAULT_MAX_DISTANCE,
    ) -> SiteConfig:
        """Create or replace the configuration of ``site``.

        Its stay limit, capacity, and how exits are matched to entries (time window, plate distance).
        """
        values = {
            "max_stay_s": max_stay_s,
            "capacity": capacity,
            "match_window_s": float(match_window_s),
            "max_distance": float(max_distance),
            "updated_ms": now_ms(),
        }
        with self._begin() as conn:
            if not conn.execute(S.sites.update().where(S.sites.c.site == site).values(**values)).rowcount:
                conn.execute(S.sites.insert().values(site=site, **values))
        return SiteConfig(site, max_stay_s, capacity, float(match_window_s), float(max_distance))

    def site_configs(self, conn: Connection | None = None) -> dict[str, SiteConfig]:
        """Every site that has a camera or a settings row (defaults where there is no row)."""

        def load(c: Connection) -> dict[str, SiteConfig]:
            out = {
                r.site: SiteConfig(r.site, r.max_stay_s, r.capacity, r.match_window_s, r.max_distance)
                for r in c.execute(sa.select(S.sites))
            }
            for s in c.execute(sa.select(S.camera_config.c.site).distinct()).scalars():
                out.setdefault(s, SiteConfig(s))
            return out

        if conn is not None:
            return load(conn)
        with self.engine.connect() as c:
            return load(c)

    # -- permits ---------------------------------------------------------------------------------
    def add_permit(
        self,
        plate: str,
        *,
        name: str = "",
        site: str | None = None,
        valid_from_ms: int | None = None,
        valid_until_ms: int | None = None,
    ) -> int:
        """Add a local permit for ``plate`` (normalised; at ``site`` or every site); returns its id.

        Raises:
            ConfigError: the plate has no letters or digits, or the validity window is empty.
        """
        norm = normalize_plate(plate)
        if not norm:
            raise ConfigError(f"permit plate: expected letters or digits, got {plate!r}")
        if valid_from_ms is not None and valid_until_ms is not None and valid_until_ms <= valid_from_ms:
            raise ConfigError("permit: valid_until must be after valid_from")
        ring = self.keyring
        row = {
            "plate_ct": ring.encrypt_text(norm, b"permit"),
            "plate_bidx": ring.blind_index(norm),
            "name_ct": ring.encrypt_text(name, b"permit-name"),
            "key_id": ring.active,
            "site": site,
            "valid_from_ms": valid_from_ms,
            "valid_until_ms": valid_until_ms,
            "created_ms": now_ms(),
        }
        with self._begin() as conn:
            return int(conn.execute(S.permits.insert().values(**row)).inserted_primary_key[0])

    def _permit(self, r: Any) -> Permit:
        return Permit(
            int(r.id),
            self.keyring.decrypt_text(r.plate_ct, b"permit"),
            self.keyring.decrypt_text(r.name_ct, b"permit-name"),
            r.site,
            r.valid_from_ms,
            r.valid_until_ms,
        )

    def list_permits(
        self, *, plate: str | None = None, sites: Sequence[str] | None = None, limit: int = 1000
    ) -> list[Permit]:
        """Permits, oldest first; ``sites`` limits to those sites (and the all-sites permits)."""
        q = sa.select(S.permits).order_by(S.permits.c.id).limit(limit)
        if plate is not None:
            q = q.where(S.permits.c.plate_bidx == self.keyring.blind_index(plate))
        if sites is not None:
            q = q.where(sa.or_(S.permits.c.site.in_(list(sites)), S.permits.c.site.is_(None)))
        with self.engine.connect() as conn:
            return [self._permit(r) for r in conn.execute(q)]

    def get_permit(self, permit_id: int) -> Permit | None:
        """Permit ``permit_id``, or None."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.permits).where(S.permits.c.id == permit_id)).first()
        return None if r is None else self._permit(r)

    def delete_permit(self, permit_id: int) -> bool:
        """Delete permit ``permit_id``; False when there is no such permit."""
        with self._begin() as conn:
            return bool(conn.execute(S.permits.delete().where(S.permits.c.id == permit_id)).rowcount)
