"""``alpr user create|list|passwd|disable|enable``: dashboard accounts (mirrors ``alpr token``)."""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import closing
from typing import Any

__all__ = ["add_user_parser"]


def add_user_parser(subparsers: Any, common: Any) -> None:
    """Register ``user`` on an argparse subparsers object; ``common`` adds --db/--key-file/--config."""
    u = subparsers.add_parser("user", help="manage dashboard accounts (argon2id password hashes)")
    usub = u.add_subparsers(dest="user_cmd", required=True)
    uc = usub.add_parser("create", help="create an account")
    uc.add_argument("name")
    uc.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    uc.add_argument("--camera", action="append", default=None, help="limit to this camera (repeatable)")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    common(uc)
    uc.set_defaults(func=_create)
    ul = usub.add_parser("list", help="list accounts (never the password hashes)")
    common(ul)
    ul.set_defaults(func=_list)
    up = usub.add_parser("passwd", help="set a new password (ends the account's sessions)")
    up.add_argument("name")
    up.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    common(up)
    up.set_defaults(func=_passwd)
    for cmd, flag in (("disable", True), ("enable", False)):
        ud = usub.add_parser(cmd, help=f"{cmd} an account" + (" (ends its sessions)" if flag else ""))
        ud.add_argument("name")
        common(ud)
        ud.set_defaults(func=_disable, disabled=flag)


def _store(args: argparse.Namespace) -> Any:
    from alpr.bridge.config import load_config
    from alpr.bridge.crypto import Keyring
    from alpr.bridge.store import Store

    cfg = load_config(args.config, overrides={"db": args.db, "key_file": args.key_file})
    return Store(cfg.db, Keyring.load(cfg.key_file))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _run(cmd: str, fn: Any, args: argparse.Namespace) -> int:
    from alpr.errors import AlprError

    try:
        return int(fn(args))
    except (AlprError, ValueError) as exc:
        print(f"alpr user {cmd}: {exc}", file=sys.stderr)
        return 2


def _update(cmd: str, a: argparse.Namespace, done: str, **changes: Any) -> int:
    """Apply ``changes`` to the account ``a.name``; 1 (with a message) when there is no such account."""
    with closing(_store(a)) as store:
        ok = store.update_user(a.name, **changes)
    if not ok:
        print(f"alpr user {cmd}: no user {a.name!r}", file=sys.stderr)
        return 1
    print(done)
    return 0


def _create(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        pw = _password(a)
        with closing(_store(a)) as store:
            uid = store.create_user(a.name, a.role, pw, cameras=a.camera)
        print(f"created user {a.name} (id {uid}, {a.role})")
        return 0

    return _run("create", go, args)


def _list(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        import orjson

        with closing(_store(a)) as store:
            for u in store.list_users():
                print(orjson.dumps(u).decode())
        return 0

    return _run("list", go, args)


def _passwd(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        pw = _password(a)
        return _update("passwd", a, f"password of {a.name} changed", password=pw)

    return _run("passwd", go, args)


def _disable(args: argparse.Namespace) -> int:
    cmd = "disable" if args.disabled else "enable"

    def go(a: argparse.Namespace) -> int:
        return _update(cmd, a, f"{cmd}d {a.name}", disabled=a.disabled)

    return _run(cmd, go, args)
