"""What the bridge's commands (:mod:`.cli`, :mod:`.cli_users`) share.

The store options, opening the store they name, and turning an error into a message and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["command", "load", "open_store", "run", "store_options"]


def store_options(p: argparse.ArgumentParser) -> None:
    """Add the options that name the store (``--db``, ``--key-file``, ...) to ``p``."""
    p.add_argument("--db", help="store URL (default from --config / ALPR__DB, else sqlite:///alpr.db)")
    p.add_argument("--key-file", help="key file (default from --config / ALPR__KEY_FILE; or ALPR_KEYS)")
    p.add_argument("--config", help="bridge TOML config file")


def command(
    sub: Any, name: str, help: str, func: Callable[[argparse.Namespace], int], **defaults: Any
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` running ``func``; ``defaults`` are set on its namespace too."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help)
    p.set_defaults(func=func, **defaults)
    return p


def load(args: argparse.Namespace, **extra: Any) -> Any:
    """The bridge config named by ``--config``, with ``--db``, ``--key-file`` and ``extra`` over it."""
    from alpr.bridge.config import load_config

    over: dict[str, Any] = {"db": args.db, "key_file": args.key_file}
    over.update(extra)
    return load_config(args.config, overrides=over)


def open_store(args: argparse.Namespace) -> Any:
    """The :class:`~alpr.bridge.store.Store` the store options name (the caller closes it)."""
    from alpr.bridge.crypto import Keyring
    from alpr.bridge.store import Store

    cfg = load(args)
    return Store(cfg.db, Keyring.load(cfg.key_file))


def run(
    cmd: str,
    fn: Callable[[argparse.Namespace], int],
    args: argparse.Namespace,
    *,
    value_errors: bool = False,
) -> int:
    """Run ``fn(args)``, turning an error into a message and exit status 2.

    An :class:`~alpr.errors.AlprError` (and a ``ValueError`` with ``value_errors``) is printed as ``alpr CMD:
    ...``.
    """
    from alpr.errors import AlprError

    errors: tuple[type[Exception], ...] = (AlprError, ValueError) if value_errors else (AlprError,)
    try:
        return int(fn(args))
    except errors as exc:
        print(f"alpr {cmd}: {exc}", file=sys.stderr)
        return 2
