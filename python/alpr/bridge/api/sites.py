"""Camera configuration (admin), sites and their occupancy (viewer) and permits (operator).

Scopes: a token limited to cameras configures only those cameras, sees the sites that hold at least
one of them, and lists the permits of those sites; creating or deleting permits needs a token that
is not limited to cameras (a permit opens barriers anywhere on its site).
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from alpr.bridge.api.common import (
    API,
    CAMERA,
    MAX_ID,
    Admin,
    Operator,
    PlateQuery,
    StoreDep,
    Viewer,
    parse_ms,
)
from alpr.bridge.api.parking_models import (
    CameraIn,
    CameraOut,
    Occupancy,
    Permit,
    PermitIn,
    Permits,
    Site,
    SiteIn,
    Sites,
)
from alpr.bridge.store import Store, TokenInfo, iso_ms
from alpr.bridge.store.sites import SiteConfig
from alpr.errors import ConfigError

router = APIRouter(prefix=API)

CameraName = Annotated[str, Path(pattern=CAMERA)]
SiteName = Annotated[str, Path(pattern=CAMERA)]
PermitId = Annotated[int, Path(ge=1, le=MAX_ID)]


def visible_sites(store: Store, t: TokenInfo) -> dict[str, list[str]]:
    """Site -> its cameras, for the sites the token sees (every site, or those with one of its cameras)."""
    sites: dict[str, list[str]] = {s: [] for s in store.site_configs()} if t.cameras is None else {}
    for cam, cfg in sorted(store.camera_configs().items()):
        if t.cameras is None or cfg.site in sites or t.sees(cam):
            sites.setdefault(cfg.site, []).append(cam)
    return sites


def visible_site(store: Store, t: TokenInfo, site: str) -> list[str]:
    """The cameras of ``site``; 404 when the caller sees none of them."""
    sites = visible_sites(store, t)
    if site not in sites:
        raise HTTPException(404, f"no site {site!r} (configure a camera with PUT /cameras/{{camera}})")
    return sites[site]


@router.put("/cameras/{camera}", response_model=CameraOut)
def put_camera(t: Admin, store: StoreDep, camera: CameraName, body: CameraIn) -> CameraOut:
    """Configure a camera's site, role and direction."""
    if not t.sees(camera):
        raise HTTPException(403, f"this token may only configure cameras {sorted(t.cameras or [])}")
    cfg = store.set_camera(camera, site=body.site, role=body.role, direction=body.direction)
    store.audit(t.id, "cameras.put", {"camera": camera, "site": body.site, "role": body.role}, 1)
    return CameraOut(camera=cfg.camera, site=cfg.site, role=cfg.role, direction=cfg.direction)


@router.delete("/cameras/{camera}", status_code=204, response_class=Response)
def delete_camera(t: Admin, store: StoreDep, camera: CameraName) -> Response:
    """Drop a camera's site configuration."""
    if not t.sees(camera) or not store.delete_camera(camera):
        raise HTTPException(404, f"camera {camera!r} has no configuration")
    store.audit(t.id, "cameras.delete", {"camera": camera}, 1)
    return Response(status_code=204)


def _site_out(cfg: SiteConfig, cameras: list[str]) -> Site:
    """The API view of a site: its settings (every field of ``cfg``) and its cameras."""
    return Site(cameras=cameras, **asdict(cfg))


@router.get("/sites", response_model=Sites)
def list_sites(t: Viewer, store: StoreDep) -> Sites:
    """List the sites visible to the caller."""
    cfgs = store.site_configs()
    items = [_site_out(cfgs[name], cams) for name, cams in sorted(visible_sites(store, t).items())]
    return Sites(items=items)


@router.put("/sites/{site}", response_model=Site)
def put_site(t: Admin, store: StoreDep, site: SiteName, body: SiteIn) -> Site:
    """Configure a site's settings."""
    if t.cameras is not None:
        visible_site(store, t, site)
    c = store.set_site(
        site,
        max_stay_s=body.max_stay_s,
        capacity=body.capacity,
        match_window_s=body.match_window_s,
        max_distance=body.max_distance,
    )
    store.audit(t.id, "sites.put", {"site": site}, 1)
    return _site_out(c, store.site_cameras(site))


@router.get("/sites/{site}/occupancy", response_model=Occupancy)
def occupancy(t: Viewer, store: StoreDep, site: SiteName) -> Occupancy:
    """A site's occupancy."""
    visible_site(store, t, site)
    return Occupancy(**store.occupancy(site))


def _permit_out(p: object) -> Permit:
    return Permit(
        id=p.id,  # type: ignore[attr-defined]
        plate=p.plate,  # type: ignore[attr-defined]
        name=p.name,  # type: ignore[attr-defined]
        site=p.site,  # type: ignore[attr-defined]
        valid_from=None if p.valid_from_ms is None else iso_ms(p.valid_from_ms),  # type: ignore[attr-defined]
        valid_until=None if p.valid_until_ms is None else iso_ms(p.valid_until_ms),  # type: ignore[attr-defined]
    )


def _unscoped(t: TokenInfo) -> None:
    if t.cameras is not None:
        raise HTTPException(403, "permits are managed with a token that is not limited to cameras")


@router.get("/permits", response_model=Permits)
def list_permits(
    t: Operator,
    store: StoreDep,
    plate: PlateQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Permits:
    """List local permits."""
    sites = None if t.cameras is None else list(visible_sites(store, t))
    return Permits(items=[_permit_out(p) for p in store.list_permits(plate=plate, sites=sites, limit=limit)])


@router.post("/permits", response_model=Permit, status_code=201)
def add_permit(t: Operator, store: StoreDep, body: PermitIn) -> Permit:
    """Add a local permit."""
    _unscoped(t)
    try:
        pid = store.add_permit(
            body.plate,
            name=body.name,
            site=body.site,
            valid_from_ms=parse_ms(body.valid_from, "valid_from"),
            valid_until_ms=parse_ms(body.valid_until, "valid_until"),
        )
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    store.audit(t.id, "permits.add", {"id": pid, "site": body.site}, 1)
    p = store.get_permit(pid)
    assert p is not None
    return _permit_out(p)


@router.delete("/permits/{permit_id}", status_code=204, response_class=Response)
def delete_permit(t: Operator, store: StoreDep, permit_id: PermitId) -> Response:
    """Delete a local permit."""
    _unscoped(t)
    if not store.delete_permit(permit_id):
        raise HTTPException(404, f"no permit {permit_id}")
    store.audit(t.id, "permits.delete", {"id": permit_id}, 1)
    return Response(status_code=204)
