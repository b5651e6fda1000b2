"""Fixtures for the bridge tests: keys, stores, throwaway Mosquitto and PostgreSQL, TLS material.

Brokers and databases are real processes started here (from the Debian packages that
``scripts/system-deps.sh`` installs) on free loopback ports, with their data under pytest's tmp dirs,
so no test depends on state left by another run.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy", reason="needs the serve extra: pip install 'alpr-engine[serve]'")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alpr.bridge.crypto import Keyring, generate_keyfile
from alpr.bridge.store import Store
from netutil import free_port

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


# ------------------------------------------------------------------------------------------- keys
@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    p = tmp_path / "keys.json"
    generate_keyfile(p)
    return p


@pytest.fixture
def keyring(key_file: Path) -> Keyring:
    return Keyring.load(key_file)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'alpr.db'}"


@pytest.fixture
def store(sqlite_url: str, keyring: Keyring) -> Iterator[Store]:
    s = Store(sqlite_url, keyring)
    yield s
    s.close()


# ------------------------------------------------------------------------------------------- TLS
@dataclass
class Pki:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_pki(d: Path) -> Pki:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alpr test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    eku = x509.oid.ExtendedKeyUsageOID

    def leaf(cn: str, server: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .add_extension(
                x509.ExtendedKeyUsage([eku.SERVER_AUTH if server else eku.CLIENT_AUTH]),
                critical=False,
            )
        )
        if server:
            b = b.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return b.sign(ca_key, hashes.SHA256()), key

    d.mkdir(parents=True, exist_ok=True)
    srv, srv_key = leaf("localhost", True)
    cli, cli_key = leaf("alpr-bridge", False)
    pki = Pki(d, d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(srv.public_bytes(serialization.Encoding.PEM))
    pki.server_key.write_bytes(_key_pem(srv_key))
    pki.client_cert.write_bytes(cli.public_bytes(serialization.Encoding.PEM))
    pki.client_key.write_bytes(_key_pem(cli_key))
    return pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


# ------------------------------------------------------------------------------------------- Mosquitto
@dataclass
class Mosquitto:
    dir: Path
    port: int
    tls: Pki | None = None
    proc: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)  # more config lines (e.g. a bridge connection)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        # Persistence keeps subscribers' sessions and their queued QoS 1 messages across a restart,
        # so a test subscriber misses nothing while the broker is down.
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.dir}/",
            "max_queued_messages 0",
            "max_inflight_messages 0",
        ]
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                "require_certificate true",
            ]
        if os.geteuid() == 0:
            lines.append("user root")
        lines += self.extra
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        with open(self.dir / "mosquitto.log", "ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO or "mosquitto", "-c", str(conf)], stdout=log, stderr=log)
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto not installed (run scripts/system-deps.sh)")
    brokers: list[Mosquitto] = []

    def make(tls: Pki | None = None, extra: list[str] | None = None) -> Mosquitto:
        d = tmp_path / f"mosquitto{len(brokers)}"
        d.mkdir()
        b = Mosquitto(d, free_port(), tls, extra=extra or [])
        b.start()
        brokers.append(b)
        return b

    yield make
    for b in brokers:
        b.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return mosquitto_factory()


class Collector:
    """A paho subscriber that records every message it sees (topic, payload, retain)."""

    def __init__(
        self, broker: Mosquitto, topic: str = "#", pki: Pki | None = None, session: str | None = None
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=session or f"collector-{time.monotonic_ns()}",
            clean_session=session is None,
        )
        if pki is not None:
            c.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client_cert), keyfile=str(pki.client_key))
        c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda *_a: self.subscribed.set()
        c.on_message = self._on_message
        c.reconnect_delay_set(0.2, 1)
        c.connect_async("127.0.0.1", broker.port)
        c.loop_start()
        self.client = c
        assert self.subscribed.wait(10), "collector could not subscribe"

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def topics(self, prefix: str = "") -> list[tuple[str, bytes, bool]]:
        with self.lock:
            return [m for m in self.messages if m[0].startswith(prefix)]

    def wait_for(self, pred: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.05)
        return pred()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# ------------------------------------------------------------------------------------------- PostgreSQL
@dataclass
class Postgres:
    dir: Path
    port: int
    runas: list[str] = field(default_factory=list)
    n: int = 0

    def new_database(self) -> str:
        import psycopg

        self.n += 1
        name = f"alpr_test_{self.n}"
        dsn = f"host=127.0.0.1 port={self.port} user=alpr dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://alpr@127.0.0.1:{self.port}/{name}"

    def _ctl(self, *args: str) -> None:
        pg_ctl = _pg_bin("pg_ctl")
        assert pg_ctl is not None
        subprocess.run(
            [*self.runas, pg_ctl, "-D", str(self.dir / "data"), *args], check=True, capture_output=True
        )

    def start(self) -> None:
        opts = f"-k {self.dir} -h 127.0.0.1 -p {self.port} -F -c fsync=off -c full_page_writes=off"
        self._ctl("-o", opts, "-l", str(self.dir / "pg.log"), "-w", "start")

    def kill(self) -> None:
        """Stop the server the way a crash would (immediate shutdown: no checkpoint, clients cut off)."""
        self._ctl("-m", "immediate", "stop")


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for v in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (v / name).exists():
            return str(v / name)
    return None


@contextmanager
def _launch_postgres() -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster on a free loopback port (skips the test when not installed)."""
    initdb = _pg_bin("initdb")
    if initdb is None or _pg_bin("pg_ctl") is None:
        pytest.skip("PostgreSQL not installed (run scripts/system-deps.sh)")
    # Not under pytest's basetemp: that tree is private to root (0700), and PostgreSQL runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="alpr-pg-"))
    runas: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        pw = pwd.getpwnam("postgres")
        runas = ["runuser", "-u", "postgres", "--"]
        os.chown(base, pw.pw_uid, pw.pw_gid)
    subprocess.run(
        [*runas, initdb, "-D", str(base / "data"), "-U", "alpr", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    pg = Postgres(base, free_port(), runas)
    pg.start()
    try:
        yield pg
    finally:
        with suppress(subprocess.CalledProcessError):  # already stopped
            pg.kill()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with _launch_postgres() as pg:
        yield pg


@pytest.fixture
def private_postgres() -> Iterator[Postgres]:
    """A cluster of the test's own, which it may kill and restart."""
    with _launch_postgres() as pg:
        yield pg


@pytest.fixture
def collector() -> Iterator[Callable[..., Collector]]:
    made: list[Collector] = []

    def make(
        broker: Mosquitto, topic: str = "#", pki: Pki | None = None, session: str | None = None
    ) -> Collector:
        c = Collector(broker, topic, pki, session)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
