"""Loopback ports and in-thread servers for the tests (one copy; ``pythonpath = ["tests"]`` in pyproject).

A port found free here can be taken by another process before the test binds it; tests that start a server
on it fail loudly (the server does not start) rather than pass by accident.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_pair(tries: int = 50) -> int:
    """A free port ``p`` such that ``p + 1`` is free too (a ZeroMQ publisher binds p and p + 1)."""
    for _ in range(tries):
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", 0))
                port = int(a.getsockname()[1])
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no free pair of consecutive ports")


@contextmanager
def serving(server: Any, timeout: float = 10.0) -> Iterator[Any]:
    """Run a ``uvicorn.Server`` in a daemon thread until the block ends; fails if it does not start."""
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not t.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        t.join(timeout)


@contextmanager
def serve_app(app: Any) -> Iterator[Any]:
    """An ASGI ``app`` on a loopback uvicorn (real HTTP, as the bridge serves it) and an httpx client."""
    import httpx
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    with serving(server), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        yield client


@contextmanager
def serve_bridge(tmp: Any, pki: Any, db: str, **config: Any) -> Iterator[tuple[Any, str]]:
    """A whole ``alpr.bridge.Bridge`` (new keyring in ``tmp``, TLS from ``pki``) serving HTTPS on
    loopback; yields ``(bridge, base_url)`` and stops the bridge afterwards."""
    from alpr.bridge.config import BridgeConfig
    from alpr.bridge.crypto import generate_keyfile
    from alpr.bridge.service import Bridge

    port = free_port()
    cfg = BridgeConfig(
        db=db, http=f"127.0.0.1:{port}", tls_cert=pki.server_cert, tls_key=pki.server_key, **config
    )
    bridge = Bridge(cfg, generate_keyfile(tmp / "keys.json"))
    try:
        with serving(bridge.uvicorn_server()):
            yield bridge, f"https://127.0.0.1:{port}"
    finally:
        bridge.stop()


class Receiver:
    """A webhook endpoint on loopback that records every JSON body POSTed to ``url``; 204 to each."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        rx = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with rx.lock:
                    rx.bodies.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_command(db: str, key_file: Any, *extra: str) -> list[str]:
    """The ``alpr serve`` command line of the process tests: store, key file, a free loopback HTTP
    port, warnings only, then ``extra`` options (``--zmq ...``, ``--mqtt ...``)."""
    import sys

    cmd = [sys.executable, "-m", "alpr", "serve", "--db", db, "--key-file", str(key_file)]
    return [*cmd, "--http", f"127.0.0.1:{free_port()}", "--log-level", "warning", *extra]
