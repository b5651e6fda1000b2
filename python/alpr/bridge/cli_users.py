"""``alpr user create|list|passwd|disable|enable``: dashboard accounts (mirrors ``alpr token``)."""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import closing
from typing import Any

from alpr.bridge.cli_common import command, open_store, run

__all__ = ["add_user_parser"]


def add_user_parser(subparsers: Any, common: Any) -> None:
    """Register ``user`` on an argparse subparsers object; ``common`` adds --db/--key-file/--config."""
    u = subparsers.add_parser("user", help="manage dashboard accounts (argon2id password hashes)")
    usub = u.add_subparsers(dest="user_cmd", required=True)
    uc = command(usub, "create", "create an account", _create)
    uc.add_argument("name")
    uc.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    uc.add_argument("--camera", action="append", default=None, help="limit to this camera (repeatable)")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    common(uc)
    common(command(usub, "list", "list accounts (never the password hashes)", _list))
    up = command(usub, "passwd", "set a new password (ends the account's sessions)", _passwd)
    up.add_argument("name")
    up.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    common(up)
    for cmd, flag in (("disable", True), ("enable", False)):
        help = f"{cmd} an account" + (" (ends its sessions)" if flag else "")
        ud = command(usub, cmd, help, _disable, disabled=flag)
        ud.add_argument("name")
        common(ud)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _run(cmd: str, fn: Any, args: argparse.Namespace) -> int:
    return run(f"user {cmd}", fn, args, value_errors=True)


def _update(cmd: str, a: argparse.Namespace, done: str, **changes: Any) -> int:
    """Apply ``changes`` to the account ``a.name``; 1 (with a message) when there is no such account."""
    with closing(open_store(a)) as store:
        ok = store.update_user(a.name, **changes)
    if not ok:
        print(f"alpr user {cmd}: no user {a.name!r}", file=sys.stderr)
        return 1
    print(done)
    return 0


def _create(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        pw = _password(a)
        with closing(open_store(a)) as store:
            uid = store.create_user(a.name, a.role, pw, cameras=a.camera)
        print(f"created user {a.name} (id {uid}, {a.role})")
        return 0

    return _run("create", go, args)


def _list(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        import orjson

        with closing(open_store(a)) as store:
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
