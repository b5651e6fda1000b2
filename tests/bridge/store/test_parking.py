"""Sites, parking sessions, permits, anomalies and journeys in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.crypto import Keyring
from alpr.bridge.store import Ingest, Sink, Store, parse_ts_ms
from alpr.bridge.store.sites import PermitDecision
from alpr.errors import ConfigError
from alpr.stream.events import PlateEvent

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
SINKS = [Sink("mqtt"), Sink("webhook:pay")]


def ev(plate: str, camera: str, minutes: float, direction: str | None = None) -> PlateEvent:
    return PlateEvent.create(
        camera=camera,
        plate=plate,
        confidence=0.9,
        box=(0, 0, 10, 5),
        ts=T0 + timedelta(minutes=minutes),
        direction=direction,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def lot(request: pytest.FixtureRequest, sqlite_url: str, keyring: Keyring) -> Iterator[Store]:
    """A store with site P1: entry camera in1, exit camera out1, a pass camera road."""
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres").new_database()
    s = Store(url, keyring)
    s.set_camera("in1", site="P1", role="entry")
    s.set_camera("out1", site="P1", role="exit")
    s.set_camera("road", site="P1", role="pass")
    yield s
    s.close()


def feed(store: Store, *events: PlateEvent) -> None:
    store.ingest([Ingest(e) for e in events], sinks=SINKS)


def messages(store: Store, sink: str = "webhook:pay") -> list[tuple[str, dict[str, Any]]]:
    return [(r.topic, orjson.loads(r.payload)) for r in store.outbox_fetch(sink, limit=10_000)]


def of_type(store: Store, kind: str, sink: str = "webhook:pay") -> list[dict[str, Any]]:
    return [p for _t, p in messages(store, sink) if p.get("type") == kind]


def test_misread_at_the_exit_closes_the_right_session(lot: Store) -> None:
    entry, other = ev("PK1003", "in1", 0), ev("PK7003", "in1", 1)
    feed(lot, entry, other)
    exit_ = ev("PKI003", "out1", 90)  # I for 1: one confusable substitution
    feed(lot, exit_)
    items, _ = lot.query_sessions(site="P1", state="closed")
    assert len(items) == 1
    s = items[0]
    assert (s["plate"], s["exit_plate"], s["distance"]) == ("PK1003", "PKI003", 0.25)
    assert (s["entry_event_id"], s["exit_event_id"]) == (entry.event_id, exit_.event_id)
    assert (s["entry_camera"], s["exit_camera"], s["dwell_s"]) == ("in1", "out1", 5400.0)
    assert s["entry_ts"] == entry.ts and s["exit_ts"] == exit_.ts
    assert [x["plate"] for x in lot.query_sessions(state="open")[0]] == ["PK7003"]
    closed = of_type(lot, "session.closed")
    assert len(closed) == 1 and closed[0]["session_id"] == s["id"] and closed[0]["dwell_s"] == 5400.0
    assert lot.occupancy("P1")["occupancy"] == 1


def test_a_real_difference_does_not_match_and_is_left_without_entry(lot: Store) -> None:
    feed(lot, ev("PK1003", "in1", 0))
    feed(lot, ev("PK1004", "out1", 10))  # 3 -> 4 is not a confusable pair: distance 1 > 0.5
    assert lot.occupancy("P1")["occupancy"] == 1
    anomalies, _ = lot.query_anomalies(site="P1")
    assert [(a["kind"], a["plate"], a["camera"]) for a in anomalies] == [("no_entry", "PK1004", "out1")]
    assert [a["plate"] for a in of_type(lot, "alert.no_entry")] == ["PK1004"]
    feed(lot, ev("PK1004", "out1", 10.5))  # the same car read again at the exit: a second anomaly
    assert len(lot.query_anomalies()[0]) == 2


def test_ties_go_to_the_most_recent_entry_and_duplicates_are_one_passage(lot: Store) -> None:
    old, new = ev("AB0123", "in1", 0), ev("AB0123", "in1", 60)
    feed(lot, old, ev("AB0123", "in1", 0.5), new)  # the 0.5 read is the same car at the same gate
    assert lot.occupancy("P1")["occupancy"] == 2
    feed(lot, ev("ABO123", "out1", 70))  # equally far (0.25) from both open sessions
    closed = lot.query_sessions(state="closed")[0]
    assert [c["entry_event_id"] for c in closed] == [new.event_id]
    feed(lot, ev("AB0123", "out1", 70.5))  # read again on its way out: no anomaly, nothing closes
    assert lot.query_anomalies()[0] == [] and lot.occupancy("P1")["occupancy"] == 1


def test_matching_window_and_site_settings(lot: Store) -> None:
    lot.set_site("P1", match_window_s=3600, max_distance=0.0, capacity=10)
    feed(lot, ev("XY1", "in1", 0), ev("ZZ8", "in1", 1))
    feed(lot, ev("XY1", "out1", 120))  # two hours later: outside the window
    feed(lot, ev("ZZB", "out1", 5))  # B/8 costs 0.25 > max_distance 0
    assert lot.query_sessions(state="closed")[0] == []
    assert {a["plate"] for a in lot.query_anomalies()[0]} == {"XY1", "ZZB"}
    occ = lot.occupancy("P1")
    assert (occ["occupancy"], occ["capacity"], occ["free"]) == (2, 10, 8)


def test_direction_limits_the_role(lot: Store) -> None:
    lot.set_camera("lane", site="P2", role="entry", direction="approaching")
    feed(lot, ev("AA1", "lane", 0, "approaching"), ev("BB2", "lane", 1, "leaving"), ev("CC3", "lane", 2))
    assert sorted(s["plate"] for s in lot.query_sessions(site="P2")[0]) == ["AA1", "CC3"]  # unknown counts
    with pytest.raises(ConfigError, match="role"):
        lot.set_camera("x", site="P2", role="both")
    cams = {c["camera"]: c for c in lot.cameras()}
    assert cams["lane"]["direction"] == "approaching" and cams["lane"]["reads"] == 3
    assert cams["out1"] == {
        "camera": "out1",
        "reads": 0,
        "last_ts": None,
        "site": "P1",
        "role": "exit",
        "direction": None,
    }


def test_overstay_alerts_once(lot: Store) -> None:
    lot.set_site("P1", max_stay_s=3600)
    lot.event_sinks = SINKS
    a, b = ev("LONG1", "in1", 0), ev("SHORT2", "in1", 50)
    feed(lot, a, b)
    now = parse_ts_ms(a.ts) + 3600_000 + 1
    assert lot.check_overstays(now) == 1
    assert lot.check_overstays(now + 60_000) == 0  # already alerted
    over = of_type(lot, "alert.overstay")
    assert [(o["plate"], o["event_id"]) for o in over] == [("LONG1", a.event_id)]
    assert lot.occupancy("P1")["overstays"] == 1
    assert [s["overstay"] for s in lot.query_sessions()[0]] == [False, True]
    assert lot.check_overstays(now + 3600_000) == 1  # SHORT2's turn


def test_permits_open_the_barrier_and_payments(lot: Store) -> None:
    lot.event_sinks = SINKS
    pid = lot.add_permit("EMP1", name="Ann Example", site="P1")
    lot.add_permit("LATE1", name="Later", valid_from_ms=parse_ts_ms(ev("X", "in1", 600).ts))
    feed(lot, ev("EMP1", "in1", 0), ev("LATE1", "in1", 1), ev("VIS1", "in1", 2))
    gates = [(t, p) for t, p in messages(lot, "mqtt") if p.get("type") == "gate.open"]
    assert [(t, p["plate"], p["permit"], p["reason"]) for t, p in gates] == [
        ("alpr/P1/in1/gate", "EMP1", "Ann Example", "permit")
    ]
    assert [t for t, p in messages(lot) if p.get("type") == "gate.open"] == ["alpr/P1/in1/gate.open"]
    visitor = lot.query_sessions(plate="VIS1")[0][0]
    assert lot.mark_paid(visitor["id"], reference="txn-1") and lot.mark_paid(visitor["id"], reference="txn-2")
    paid = lot.get_session(visitor["id"])
    assert paid is not None and paid["paid"] and paid["payment_ref"] == "txn-1"  # the first payment stays
    assert len(of_type(lot, "session.paid")) == 1
    assert not lot.mark_paid(999_999)
    feed(lot, ev("VIS1", "out1", 30), ev("LATE1", "out1", 31))
    exits = [p for _t, p in messages(lot, "mqtt") if p.get("type") == "gate.open" and p["camera"] == "out1"]
    assert [(p["plate"], p["reason"]) for p in exits] == [("VIS1", "paid")]  # LATE1's permit not yet valid
    assert [p.plate for p in lot.list_permits(plate="emp1")] == ["EMP1"]
    assert lot.delete_permit(pid) and lot.list_permits(plate="EMP1") == []
    with pytest.raises(ConfigError, match="valid_until"):
        lot.add_permit("Q1", valid_from_ms=10, valid_until_ms=5)


def test_the_permit_hook_decides_first_and_the_allow_list_is_the_fallback(lot: Store) -> None:
    answers: dict[str, PermitDecision | None] = {"HOOK1": PermitDecision(True, "Monthly", "hook")}
    asked: list[tuple[str, str, str]] = []

    def hook(plate: str, site: str, camera: str, ts_ms: int) -> PermitDecision | None:
        asked.append((plate, site, camera))
        return answers.get(plate)  # None: the hook has no answer (down)

    lot.permit_lookup = hook
    lot.add_permit("LOCAL1", name="Local")
    lot.add_permit("DENY1", name="Revoked upstream")
    answers["DENY1"] = PermitDecision(False, "", "hook")
    feed(lot, ev("HOOK1", "in1", 0), ev("LOCAL1", "in1", 1), ev("DENY1", "in1", 2))
    gates = {p["plate"]: p["source"] for p in of_type(lot, "gate.open", "mqtt")}
    assert gates == {"HOOK1": "hook", "LOCAL1": "local"}
    assert [a[0] for a in asked] == ["HOOK1", "LOCAL1", "DENY1"] and asked[0][1:] == ("P1", "in1")


def test_messages_have_stable_ids_and_replays_change_nothing(lot: Store) -> None:
    e = ev("RE1", "in1", 0)
    feed(lot, e)
    first = of_type(lot, "session.opened")
    feed(lot, e)  # the stream replays the read: it is a duplicate, no second session or message
    assert of_type(lot, "session.opened") == first and lot.occupancy("P1")["occupancy"] == 1
    assert first[0]["id"] != first[0]["entry_event_id"] and len(first[0]["id"]) == 36
    occ = [
        (t, r) for t, r in ((r.topic, r.retain) for r in lot.outbox_fetch("mqtt")) if t.endswith("/occupancy")
    ]
    assert occ == [("alpr/P1/occupancy", True)]
    assert all(not t.endswith("/occupancy") for t, _ in messages(lot))  # webhooks get no occupancy


def test_journeys_and_the_od_matrix(lot: Store) -> None:
    lot.journey_window_ms = 3_600_000
    feed(
        lot,
        ev("J1", "road", 0),
        ev("J1", "road", 1),  # same camera: no journey
        ev("J1", "in1", 11),  # road -> in1, 10 min after the last road read
        ev("J2", "road", 5),
        ev("J2", "out1", 8),
        ev("J3", "road", 0),
        ev("J3", "in1", 120),  # 2 h later: outside the window
    )
    items, _ = lot.query_journeys()
    got = sorted((j["plate"], j["from_camera"], j["to_camera"], j["travel_s"]) for j in items)
    assert got == [("J1", "road", "in1", 600.0), ("J2", "road", "out1", 180.0)]
    assert [j["plate"] for j in lot.query_journeys(plate="j1")[0]] == ["J1"]
    assert lot.query_journeys(cameras=["road", "in1"])[0][0]["to_camera"] == "in1"
    assert lot.query_journeys(cameras=["road"])[0] == []
    m = lot.od_matrix()
    h = "2026-03-01T08:00:00.000Z"
    assert [(c["hour"], c["from_camera"], c["to_camera"], c["journeys"], c["mean_travel_s"]) for c in m] == [
        (h, "road", "in1", 1, 600.0),
        (h, "road", "out1", 1, 180.0),
    ]
    assert lot.od_matrix(since_ms=parse_ts_ms(ev("X", "road", 60).ts)) == []


def test_session_plates_are_ciphertext(lot: Store) -> None:
    feed(lot, ev("SECRET1", "in1", 0), ev("SECRET1", "road", 5), ev("SECRET1", "out1", 9))
    lot.add_permit("SECRET1", name="Jane Secret")
    with lot.engine.connect() as conn:
        for table in (S.parking_sessions, S.permits, S.journeys):
            for row in conn.execute(sa.select(table)):
                blob = repr(tuple(row)).encode()
                assert b"SECRET1" not in blob and b"Jane" not in blob, table.name


def test_export_erase_rotate_and_retention_cover_sessions(lot: Store) -> None:
    lot.add_permit("GONE1", name="Gone Person")
    feed(lot, ev("GONE1", "in1", 0), ev("GONE1", "road", 5), ev("G0NE1", "out1", 9), ev("KEEP1", "in1", 1))
    feed(lot, ev("NOENTRY", "out1", 20))
    out = lot.export_plate("gone1")
    assert [s["exit_plate"] for s in out["sessions"]] == ["G0NE1"]
    assert [(j["from_camera"], j["to_camera"]) for j in out["journeys"]] == [("in1", "road")]
    assert [p["name"] for p in out["permits"]] == ["Gone Person"] and out["anomalies"] == []

    ring2 = lot.keyring.with_new_key()
    lot.rotate(ring2)
    only_k2 = Keyring(keys={"k2": ring2.keys["k2"]}, active="k2", index_key=ring2.index_key)
    s2 = Store(lot.url, only_k2)
    try:
        assert {s["exit_plate"] for s in s2.query_sessions()[0]} == {"G0NE1", None}
        assert s2.list_permits()[0].name == "Gone Person"
        assert s2.query_anomalies()[0][0]["plate"] == "NOENTRY"
        assert s2.query_journeys()[0][0]["plate"] == "GONE1"
        counts = s2.erase_plate("GONE1")
        assert {k: counts[k] for k in ("sessions", "journeys", "permits")} == {
            "sessions": 1,
            "journeys": 1,
            "permits": 1,
        }
        assert [s["plate"] for s in s2.query_sessions()[0]] == ["KEEP1"]

        later = parse_ts_ms(ev("X", "in1", 0).ts) + 40 * 86_400_000
        n = s2.enforce_correlated_retention(days=30, now=later)
        assert n == {"sessions": 0, "anomalies": 1, "journeys": 0}  # KEEP1 is still parked: it stays
        assert s2.occupancy("P1")["occupancy"] == 1
    finally:
        s2.close()


def _outcome(store: Store) -> tuple[Any, ...]:
    sessions = sorted(
        (s["plate"], s["state"], s["entry_event_id"], s["exit_event_id"], s["exit_plate"], s["distance"])
        for s in store.query_sessions(limit=1000)[0]
    )
    anomalies = sorted((a["kind"], a["event_id"]) for a in store.query_anomalies(limit=1000)[0])
    msgs = sorted((t, p.get("id")) for t, p in messages(store, "mqtt") if not t.endswith("occupancy"))
    return sessions, anomalies, msgs


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def test_one_batch_correlates_exactly_like_one_read_at_a_time(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any, keyring: Keyring
) -> None:
    """Correlation answers a batch's reads from one view of the sessions (loaded once per batch): a
    batch holding entries, double reads, misread exits, exits without entry and permit gates must end
    exactly as the same reads ingested one by one."""
    reads = [
        ev("PK1003", "in1", 0), ev("PK1003", "in1", 0.5),  # read twice on the way in
        ev("PK7003", "in1", 1), ev("AB1234", "in1", 2),
        ev("PKI003", "out1", 3), ev("PK1003", "out1", 3.2),  # misread exit, then read again
        ev("ZZ9999", "out1", 4),  # no entry
        ev("AB1234", "out1", 5), ev("AB1234", "in1", 6),  # out, then back in: a new session
        ev("PK7OO3", "out1", 7), ev("QQ1111", "road", 7.5),  # O for 0 twice; a pass camera
    ]  # fmt: skip
    outcomes = []
    for k, batched in enumerate((False, True)):
        url = (
            f"sqlite:///{tmp_path / f'b{k}.db'}"
            if backend == "sqlite"
            else request.getfixturevalue("postgres").new_database()
        )
        store = Store(url, keyring)
        try:
            for cam, role in (("in1", "entry"), ("out1", "exit"), ("road", "pass")):
                store.set_camera(cam, site="P1", role=role)
            store.add_permit("AB1234", name="staff", site="P1")
            if batched:
                feed(store, *reads)
            else:
                for r in reads:
                    feed(store, r)
            outcomes.append(_outcome(store))
        finally:
            store.close()
    assert outcomes[0] == outcomes[1]
    sessions, anomalies, msgs = outcomes[1]
    assert [s[1] for s in sessions].count("closed") == 3 and [s[1] for s in sessions].count("open") == 1
    assert [a[0] for a in anomalies] == ["no_entry"]
    assert sum(t.endswith("/gate") for t, _ in msgs) == 3  # the permit holder: in, out and in again
