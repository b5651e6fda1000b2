"""``alpr serve``, ``alpr token``, ``alpr user`` (in :mod:`.cli_users`) and ``alpr keys``.

Heavy imports happen inside the commands."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["add_parsers"]


def _common_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="store URL (default from --config / ALPR_DB, else sqlite:///alpr.db)")
    p.add_argument("--key-file", help="key file (default from --config / ALPR_KEY_FILE; or ALPR_KEYS)")
    p.add_argument("--config", help="bridge TOML config file")


def add_parsers(subparsers: Any) -> None:
    """Register ``serve``, ``token`` and ``keys`` on an argparse subparsers object."""
    s = subparsers.add_parser("serve", help="run the bridge: stream -> store -> MQTT / webhooks / REST")
    s.add_argument("--zmq", action="append", default=None, metavar="ENDPOINT", help="publisher (repeatable)")
    s.add_argument("--zmq-server-key", metavar="FILE", help="CurveZMQ: the publishers' .key certificate")
    s.add_argument("--zmq-client-key", metavar="FILE", help="CurveZMQ: this bridge's .key_secret")
    s.add_argument("--mqtt", metavar="URL", help="mqtt://[user:pass@]host[:port] or mqtts://...")
    s.add_argument("--mqtt-ca", help="CA certificate for the broker (TLS)")
    s.add_argument("--mqtt-cert", help="client certificate (TLS)")
    s.add_argument("--mqtt-key", help="client key (TLS)")
    s.add_argument(
        "--ha-discovery", action="store_true", default=None, help="announce Home Assistant sensors"
    )
    s.add_argument("--http", metavar="HOST:PORT", help="REST listen address (default 127.0.0.1:8080)")
    s.add_argument("--tls-cert", help="serve HTTPS with this certificate")
    s.add_argument("--tls-key", help="... and this key")
    s.add_argument("--webhook", action="append", default=None, metavar="URL", help="POST events here")
    s.add_argument(
        "--webhook-secret", default=None, help="Standard Webhooks secret whsec_... (alpr keys webhook)"
    )
    s.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="default info"
    )
    _common_store(s)
    s.set_defaults(func=_serve)

    t = subparsers.add_parser("token", help="manage REST bearer tokens")
    tsub = t.add_subparsers(dest="token_cmd", required=True)
    tc = tsub.add_parser("create", help="create a token and print it (only its hash is stored)")
    tc.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    tc.add_argument("--camera", action="append", default=None, help="limit to this camera (repeatable)")
    tc.add_argument("--name", default="")
    _common_store(tc)
    tc.set_defaults(func=_token_create)
    tl = tsub.add_parser("list", help="list tokens (ids, roles, cameras; never the secrets)")
    _common_store(tl)
    tl.set_defaults(func=_token_list)
    tr = tsub.add_parser("revoke", help="revoke a token by id")
    tr.add_argument("id", type=int)
    _common_store(tr)
    tr.set_defaults(func=_token_revoke)

    from alpr.bridge.cli_users import add_user_parser

    add_user_parser(subparsers, _common_store)

    k = subparsers.add_parser("keys", help="encryption keys: init, add, rotate")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    ki = ksub.add_parser("init", help="write a new key file")
    ki.add_argument("--key-file", required=True)
    ki.set_defaults(func=_keys_init)
    ka = ksub.add_parser("add", help="add a data key to the key file and make it active")
    ka.add_argument("--key-file", required=True)
    ka.set_defaults(func=_keys_add)
    kc = ksub.add_parser("curve", help="write a CurveZMQ certificate pair (NAME.key, NAME.key_secret)")
    kc.add_argument("name", help="e.g. publisher, bridge")
    kc.add_argument("--dir", default=".", help="where to write them (default .)")
    kc.set_defaults(func=_keys_curve)
    ko = ksub.add_parser("outbox", help="write a key for `alpr run --outbox-key`")
    ko.add_argument("--key-file", required=True)
    ko.set_defaults(func=_keys_outbox)
    kw = ksub.add_parser("webhook", help="print a new Standard Webhooks secret (whsec_...) for a webhook")
    kw.set_defaults(func=_keys_webhook)
    kr = ksub.add_parser("rotate", help="re-encrypt everything under the active key")
    _common_store(kr)
    kr.set_defaults(func=_keys_rotate)


def _config(args: argparse.Namespace, **extra: Any) -> Any:
    from alpr.bridge.config import load_config

    over: dict[str, Any] = {"db": args.db, "key_file": args.key_file}
    over.update(extra)
    return load_config(args.config, overrides=over)


def _serve(args: argparse.Namespace) -> int:
    import logging

    from alpr.bridge.config import MqttTls
    from alpr.bridge.service import Bridge
    from alpr.errors import AlprError

    # force: `alpr` itself set up WARNING-only logging before dispatching; a service logs its INFO lines.
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        extra: dict[str, Any] = {
            "zmq": args.zmq,
            "zmq_server_key": args.zmq_server_key,
            "zmq_client_key": args.zmq_client_key,
            "mqtt": args.mqtt,
            "http": args.http,
            "tls_cert": args.tls_cert,
            "tls_key": args.tls_key,
            "ha_discovery": args.ha_discovery,
        }
        if args.mqtt_ca or args.mqtt_cert or args.mqtt_key:
            extra["mqtt_tls"] = MqttTls(ca=args.mqtt_ca, cert=args.mqtt_cert, key=args.mqtt_key)
        if args.webhook:
            # Plain dicts: validated by load_config, whose errors never echo the secret.
            extra["webhooks"] = [{"url": u, "secret": args.webhook_secret or ""} for u in args.webhook]
        cfg = _config(args, **extra)
        bridge = Bridge(cfg)
    except (AlprError, ValueError) as exc:
        print(f"alpr serve: {exc}", file=sys.stderr)
        return 2
    bridge.serve()
    return 0


def _keys_webhook(args: argparse.Namespace) -> int:
    from alpr.bridge.webhooks import new_secret

    print(new_secret())
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from alpr.bridge.crypto import Keyring
    from alpr.bridge.store import Store
    from alpr.errors import AlprError

    try:
        cfg = _config(args)
        store = Store(cfg.db, Keyring.load(cfg.key_file))
        token = store.create_token(args.role, cameras=args.camera, name=args.name)
        store.close()
    except AlprError as exc:
        print(f"alpr token create: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _token_list(args: argparse.Namespace) -> int:
    import orjson

    from alpr.bridge.crypto import Keyring
    from alpr.bridge.store import Store
    from alpr.errors import AlprError

    try:
        cfg = _config(args)
        store = Store(cfg.db, Keyring.load(cfg.key_file))
        for t in store.list_tokens():
            print(orjson.dumps(t).decode())
        store.close()
    except AlprError as exc:
        print(f"alpr token list: {exc}", file=sys.stderr)
        return 2
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from alpr.bridge.crypto import Keyring
    from alpr.bridge.store import Store
    from alpr.errors import AlprError

    try:
        cfg = _config(args)
        store = Store(cfg.db, Keyring.load(cfg.key_file))
        ok = store.revoke_token(args.id)
        store.close()
    except AlprError as exc:
        print(f"alpr token revoke: {exc}", file=sys.stderr)
        return 2
    if not ok:
        print(f"alpr token revoke: no token with id {args.id}", file=sys.stderr)
        return 1
    print(f"revoked token {args.id}")
    return 0


def _keys_init(args: argparse.Namespace) -> int:
    from alpr.bridge.crypto import generate_keyfile
    from alpr.errors import AlprError

    try:
        generate_keyfile(args.key_file)
    except AlprError as exc:
        print(f"alpr keys init: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {os.fspath(args.key_file)} (keep it secret and backed up: without it the store is unreadable)"
    )
    return 0


def _keys_add(args: argparse.Namespace) -> int:
    from alpr.bridge.crypto import Keyring
    from alpr.errors import AlprError

    try:
        ring = Keyring.load(args.key_file).with_new_key()
        ring.save(args.key_file)
    except AlprError as exc:
        print(f"alpr keys add: {exc}", file=sys.stderr)
        return 2
    print(f"active key is now {ring.active}; run `alpr keys rotate` to re-encrypt old rows")
    return 0


def _keys_curve(args: argparse.Namespace) -> int:
    from alpr.errors import AlprError
    from alpr.stream.keys import create_curve_certificate

    try:
        public, secret = create_curve_certificate(args.dir, args.name)
    except AlprError as exc:
        print(f"alpr keys curve: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {public} (give it to the other side) and {secret} (keep it secret)")
    return 0


def _keys_outbox(args: argparse.Namespace) -> int:
    from alpr.errors import AlprError
    from alpr.stream.keys import write_outbox_key

    try:
        path = write_outbox_key(args.key_file)
    except AlprError as exc:
        print(f"alpr keys outbox: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} (for `alpr run --outbox-key`; without it the outbox is unreadable)")
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    from alpr.bridge.crypto import Keyring
    from alpr.bridge.store import Store
    from alpr.errors import AlprError

    try:
        cfg = _config(args)
        store = Store(cfg.db, Keyring.load(cfg.key_file))
        n = store.rotate()
        store.close()
    except AlprError as exc:
        print(f"alpr keys rotate: {exc}", file=sys.stderr)
        return 2
    print(f"re-encrypted {n} rows")
    return 0
