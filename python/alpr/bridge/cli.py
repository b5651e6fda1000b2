"""``alpr serve``, ``alpr token``, ``alpr user`` (in :mod:`.cli_users`) and ``alpr keys``.

Heavy imports happen inside the commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import closing
from typing import Any

from alpr.bridge.cli_common import command, load, open_store, run, store_options

__all__ = ["add_parsers"]


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
    store_options(s)
    s.set_defaults(func=_serve)

    t = subparsers.add_parser("token", help="manage REST bearer tokens")
    tsub = t.add_subparsers(dest="token_cmd", required=True)
    tc = command(tsub, "create", "create a token and print it (only its hash is stored)", _token_create)
    tc.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    tc.add_argument("--camera", action="append", default=None, help="limit to this camera (repeatable)")
    tc.add_argument("--name", default="")
    store_options(tc)
    store_options(command(tsub, "list", "list tokens (ids, roles, cameras; never the secrets)", _token_list))
    tr = command(tsub, "revoke", "revoke a token by id", _token_revoke)
    tr.add_argument("id", type=int)
    store_options(tr)

    from alpr.bridge.cli_users import add_user_parser

    add_user_parser(subparsers, store_options)

    k = subparsers.add_parser("keys", help="encryption keys: init, add, rotate")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    command(ksub, "init", "write a new key file", _keys_init).add_argument("--key-file", required=True)
    ka = command(ksub, "add", "add a data key to the key file and make it active", _keys_add)
    ka.add_argument("--key-file", required=True)
    kc = command(ksub, "curve", "write a CurveZMQ certificate pair (NAME.key, NAME.key_secret)", _keys_curve)
    kc.add_argument("name", help="e.g. publisher, bridge")
    kc.add_argument("--dir", default=".", help="where to write them (default .)")
    ko = command(ksub, "outbox", "write a key for `alpr run --outbox-key`", _keys_outbox)
    ko.add_argument("--key-file", required=True)
    command(ksub, "webhook", "print a new Standard Webhooks secret (whsec_...) for a webhook", _keys_webhook)
    store_options(command(ksub, "rotate", "re-encrypt everything under the active key", _keys_rotate))


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
        cfg = load(args, **extra)
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
    def go(a: argparse.Namespace) -> int:
        with closing(open_store(a)) as store:
            token = store.create_token(a.role, cameras=a.camera, name=a.name)
        print(token)
        return 0

    return run("token create", go, args)


def _token_list(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        import orjson

        with closing(open_store(a)) as store:
            for t in store.list_tokens():
                print(orjson.dumps(t).decode())
        return 0

    return run("token list", go, args)


def _token_revoke(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        with closing(open_store(a)) as store:
            ok = store.revoke_token(a.id)
        if not ok:
            print(f"alpr token revoke: no token with id {a.id}", file=sys.stderr)
            return 1
        print(f"revoked token {a.id}")
        return 0

    return run("token revoke", go, args)


def _keys_init(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        from alpr.bridge.crypto import generate_keyfile

        generate_keyfile(a.key_file)
        secret = "keep it secret and backed up: without it the store is unreadable"
        print(f"wrote {os.fspath(a.key_file)} ({secret})")
        return 0

    return run("keys init", go, args)


def _keys_add(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        from alpr.bridge.crypto import Keyring

        ring = Keyring.load(a.key_file).with_new_key()
        ring.save(a.key_file)
        print(f"active key is now {ring.active}; run `alpr keys rotate` to re-encrypt old rows")
        return 0

    return run("keys add", go, args)


def _keys_curve(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        from alpr.stream.keys import create_curve_certificate

        public, secret = create_curve_certificate(a.dir, a.name)
        print(f"wrote {public} (give it to the other side) and {secret} (keep it secret)")
        return 0

    return run("keys curve", go, args)


def _keys_outbox(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        from alpr.stream.keys import write_outbox_key

        path = write_outbox_key(a.key_file)
        print(f"wrote {path} (for `alpr run --outbox-key`; without it the outbox is unreadable)")
        return 0

    return run("keys outbox", go, args)


def _keys_rotate(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        with closing(open_store(a)) as store:
            n = store.rotate()
        print(f"re-encrypted {n} rows")
        return 0

    return run("keys rotate", go, args)
