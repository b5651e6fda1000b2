"""Administration (admin role): dashboard accounts, bearer tokens, the retention policy in force."""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from alpr.bridge.api.common import API, CAMERA, MAX_ID, Admin, StoreDep, state
from alpr.bridge.store.users import USERNAME
from alpr.errors import ConfigError

router = APIRouter(prefix=API)
UserName = Annotated[str, Path(pattern=USERNAME.pattern)]
Cameras = list[Annotated[str, Field(pattern=CAMERA)]] | None
RoleName = Literal["viewer", "operator", "admin"]


class UserIn(BaseModel):
    """A new dashboard account: name, role and password (at least 8 characters)."""

    name: str = Field(pattern=USERNAME.pattern)
    role: RoleName
    password: str = Field(min_length=8, max_length=1024)
    cameras: Cameras = Field(default=None, max_length=256)


class UserPatch(BaseModel):
    """Changes to an account; a field left out stays as it is."""

    role: RoleName | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    disabled: bool | None = None
    cameras: Cameras = Field(default=None, max_length=256)
    all_cameras: bool = Field(default=False, description="true clears the camera scope")


class TokenIn(BaseModel):
    """A new API token: its role, a label, and the cameras it is limited to (null: all)."""

    role: RoleName
    name: str = Field(default="", max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")
    cameras: Cameras = Field(default=None, max_length=256)


@router.get("/users")
def users(_t: Admin, store: StoreDep) -> dict[str, Any]:
    """List the dashboard accounts."""
    return {"items": store.list_users()}


@router.post("/users", status_code=201)
def create_user(t: Admin, store: StoreDep, body: UserIn) -> dict[str, Any]:
    """Create a dashboard account."""
    try:
        store.create_user(body.name, body.role, body.password, cameras=body.cameras)
    except ConfigError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from None
    store.audit(t.id, "users.create", {"user": body.name, "role": body.role}, 1)
    return store.get_user(body.name) or {}


@router.patch("/users/{name}")
def patch_user(t: Admin, store: StoreDep, name: UserName, body: UserPatch) -> dict[str, Any]:
    """Change an account; an admin cannot disable or demote the account they are signed in with."""
    if t.id < 0 and t.name == name and (body.disabled or (body.role and body.role != "admin")):
        raise HTTPException(409, "an admin cannot disable or demote the account they are signed in with")
    cams: Any = None if body.all_cameras else (body.cameras if body.cameras is not None else False)
    try:
        ok = store.update_user(
            name, role=body.role, password=body.password, disabled=body.disabled, cameras=cams
        )
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    if not ok:
        raise HTTPException(404, f"no user {name!r}")
    changed = sorted(k for k, v in body.model_dump(exclude={"password"}).items() if v not in (None, False))
    store.audit(
        t.id, "users.update", {"user": name, "changed": changed, "password": body.password is not None}, 1
    )
    return store.get_user(name) or {}


@router.get("/tokens")
def tokens(_t: Admin, store: StoreDep) -> dict[str, Any]:
    """List the API tokens (never their secrets)."""
    return {"items": store.list_tokens()}


@router.post("/tokens", status_code=201)
def create_token(t: Admin, store: StoreDep, body: TokenIn) -> dict[str, Any]:
    """Create an API token; the secret is returned this once."""
    token = store.create_token(body.role, cameras=body.cameras, name=body.name)
    info = store.verify_token(token)
    store.audit(t.id, "tokens.create", {"id": info.id if info else None, "role": body.role}, 1)
    return {"token": token, "id": info.id if info else None, "note": "shown once; only its hash is stored"}


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(t: Admin, store: StoreDep, token_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    """Revoke an API token (not the one this request uses)."""
    if token_id == t.id:
        raise HTTPException(409, "cannot revoke the token this request uses")
    if not store.revoke_token(token_id):
        raise HTTPException(404, f"no token {token_id}")
    store.audit(t.id, "tokens.revoke", {"id": token_id}, 1)
    return Response(status_code=204)


@router.get("/retention")
def retention(request: Request, _t: Admin) -> dict[str, Any]:
    """The retention policy in force (days; 0 keeps forever). Set it in the bridge's TOML config."""
    policy = state(request, "retention") if hasattr(request.app.state, "retention") else None
    if policy is None:
        return {"configured": False}
    return {"configured": True, **policy.model_dump()}
