"""The dashboard in a real browser: Playwright (Python) driving Debian's ``chromium``.

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (``scripts/system-deps.sh``
installs it) through ``executable_path``. Screenshots of every view land in
``build/test-artifacts/dashboard/`` (or ``$ALPR_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alpr.bridge.config import BridgeConfig
from alpr.bridge.crypto import generate_keyfile
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest
from alpr.stream import Publisher
from alpr.stream.events import PlateEvent
from netutil import free_port, serving

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Debian chromium is not installed (run scripts/system-deps.sh)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright: pip install 'alpr[dev]'")

PASSWORD = "correct horse battery"
ARTIFACTS = Path(
    os.environ.get("ALPR_TEST_ARTIFACTS", Path(__file__).parents[2] / "build/test-artifacts/dashboard")
)
VIEWS = ("live", "reads", "alerts", "watchlists", "cameras", "stats", "admin")


def _jpeg(text: str) -> bytes:
    import cv2

    img = np.full((40, 160, 3), 235, np.uint8)
    cv2.putText(img, text, (6, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (20, 20, 20), 2)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def _event(plate: str, camera: str) -> PlateEvent:
    return PlateEvent.create(
        camera=camera, plate=plate, confidence=0.93, box=(0, 0, 1, 1), char_confidences=[0.9] * len(plate)
    )


@dataclass
class Site:
    bridge: Bridge
    url: str
    publisher: Publisher  # the bridge consumes it over ZeroMQ, as `alpr serve` does an edge's
    errors: list[str] = field(default_factory=list)
    allow: set[int] = field(default_factory=set)  # HTTP statuses a test provokes on purpose

    def ingest(self, plate: str, camera: str = "gate") -> PlateEvent:
        """Store a read directly (setting the scene; not the path a camera's read takes)."""
        ev = _event(plate, camera)
        self.bridge.ingest([Ingest(ev, _jpeg(plate))])
        return ev

    def publish(self, plate: str, camera: str = "gate") -> PlateEvent:
        """Publish a read with its JPEG crop on the stream; the running bridge receives and stores it."""
        ev = _event(plate, camera)
        self.publisher.publish(ev, _jpeg(plate))
        return ev

    def wait_stored(self, ev: PlateEvent, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.bridge.store.get_read(ev.event_id) is None:
            assert time.monotonic() < deadline, f"{ev.plate} never reached the store"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    with Publisher("tcp://127.0.0.1:*", outbox=tmp / "outbox.db", heartbeat_s=0.2) as pub:
        cfg = BridgeConfig(db=f"sqlite:///{tmp / 'b.db'}", http=f"127.0.0.1:{port}", zmq=[pub.endpoint])
        bridge = Bridge(cfg, generate_keyfile(tmp / "keys.json"))
        bridge.store.create_user("otto", "admin", PASSWORD)
        bridge.store.create_user("vic", "viewer", PASSWORD)
        bridge.start()
        try:
            with serving(bridge.uvicorn_server()):
                site = Site(bridge, f"http://127.0.0.1:{port}", pub)
                for i, (plate, cam) in enumerate([("AB123", "gate"), ("XY999", "exit"), ("CD456", "gate")]):
                    # Over the stream, so the consumer is subscribed before any test publishes.
                    site.wait_stored(site.publish(plate, cam))
                    health = {cam: {"fps": 10.0 + i, "frames": 1000 * i, "dropped": i}}
                    bridge.store.record_health("pub", health, int(time.time() * 1000))
                yield site
        finally:
            bridge.stop()


@pytest.fixture
def page(site: Site) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = ctx.new_page()
        pg.set_default_timeout(10_000)

        def console(msg: Any) -> None:
            # The signed-out page asks /auth/me once and gets 401: expected, not a script error.
            expected = any(f"status of {c} " in msg.text for c in site.allow)
            if msg.type == "error" and not ("Failed to load resource" in msg.text and expected):
                site.errors.append(msg.text)

        pg.on("console", console)
        pg.on("pageerror", lambda exc: site.errors.append(f"page error: {exc}"))
        site.errors.clear()
        site.allow = {401}
        yield pg
        ctx.close()
        browser.close()
    assert site.errors == []  # no JavaScript errors


def sign_in(page: Any, site: Site, user: str = "otto") -> None:
    page.goto(site.url + "/")
    page.get_by_label("Username", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.locator("#who-name")).to_have_text(user)


def search_reads(page: Any, site: Site, plate: str) -> Any:
    """Sign in, search Reads for one plate and return its single result row."""
    sign_in(page, site)
    page.get_by_role("link", name="Reads").click()
    page.get_by_label("Plate", exact=True).fill(plate)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#reads-rows tr")
    sync_api.expect(rows).to_have_count(1)
    return rows.first


def no_sideways_scroll(page: Any) -> None:
    sw, cw = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sw <= cw, f"page is {sw} px wide in a {cw} px viewport"


def test_nothing_before_sign_in_and_keyboard_sign_in(page: Any, site: Site) -> None:
    page.goto(site.url + "/")
    sync_api.expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert not page.locator("#main").is_visible() and not page.locator("#nav").is_visible()
    body = page.locator("body").inner_text()
    assert "AB123" not in body and "XY999" not in body
    # Wrong password: the page says so and stays usable.
    page.get_by_label("Username", exact=True).fill("otto")
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.locator("#error")).to_contain_text("Sign-in failed")
    # Keyboard only: Tab into the fields, Enter submits.
    page.get_by_label("Username", exact=True).fill("")
    page.get_by_label("Username", exact=True).focus()
    page.keyboard.type("otto")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#who-role")).to_have_text("admin")
    sync_api.expect(page.locator("#live-state")).to_have_text("live")
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "alpr_session")
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # the session id is out of the page's reach
    page.get_by_role("button", name="Sign out").click()
    sync_api.expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert "AB123" not in page.locator("body").inner_text()


CARD_WITH_CROP = """(id) => {
  const i = document.querySelector(`#live-reads li[data-event='${id}'] img`);
  return i !== null && i.complete && i.naturalWidth === 160 && i.checkVisibility(); }"""


def test_live_read_watch_alert_and_acknowledge(page: Any, site: Site) -> None:
    sign_in(page, site)
    sync_api.expect(page.locator("#live-state")).to_have_text("live")
    sync_api.expect(page.locator("#live-reads li").first).to_be_visible()
    crops_before = []
    page.on("request", lambda r: crops_before.append(r.url) if r.url.endswith("/crop") else None)
    # A camera's read, the whole way: publisher -> ZeroMQ -> consumer -> store -> SSE -> page -> crop.
    ev = _event("LIVE77", "gate")
    site.publisher.publish(ev, _jpeg(ev.plate))
    t0 = time.monotonic()
    page.wait_for_function(CARD_WITH_CROP, arg=ev.event_id, timeout=2000, polling="raf")
    latency = time.monotonic() - t0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "live-latency.txt").write_text(f"publish() to card with decoded crop: {latency:.3f} s\n")
    assert latency < 2.0  # on screen, with its decoded crop, within 2 s of reaching the bridge
    card = page.locator(f'#live-reads li[data-event="{ev.event_id}"]')
    assert "LIVE77" in card.inner_text()
    assert [u for u in crops_before if ev.event_id in u] == [crops_before[-1]]  # only the new crop fetched
    assert len(crops_before) == 1

    # Add a watch entry in the UI, publish a matching read, see the alert, acknowledge it.
    page.get_by_role("link", name="Watchlists").click()
    page.get_by_label("Pattern", exact=True).fill("WANT01")
    page.get_by_label("Reason", exact=True).fill("stolen car")
    page.get_by_role("button", name="Add entry").click()
    sync_api.expect(page.locator("#watch-rows")).to_contain_text("WANT01")
    page.get_by_role("link", name="Live").click()
    site.publish("WANT01", "exit")
    alert = page.locator("#live-alerts li", has_text="WANT01")
    alert.wait_for(state="visible", timeout=2000)
    assert "stolen car" in alert.inner_text()
    alert.get_by_role("button", name="Acknowledge").click()
    sync_api.expect(alert).to_contain_text("acknowledged by otto")
    got = site.bridge.store.query_alerts(state="acknowledged")[0]
    assert [a["plate"] for a in got] == ["WANT01"] and got[0]["acknowledged_by"] == "otto"
    page.get_by_role("link", name="Alerts").click()
    page.get_by_label("State", exact=True).select_option("acknowledged")
    page.get_by_role("button", name="Show").click()
    sync_api.expect(page.locator("#alerts-rows")).to_contain_text("WANT01")


# Stand-ins for the browser's Notification and Web Audio, counting what the page asks of them.
ALERT_OUTPUTS = """
window.__notes = []; window.__beeps = 0; window.__asked = 0;
class FakeNotification {
  constructor(title, opts) { window.__notes.push([title, (opts || {}).body]); }
  // The operator answers the browser's prompt a moment later, as a person would.
  static requestPermission() { window.__asked += 1; return window.__answer("granted"); }
}
FakeNotification.permission = "default";
window.Notification = FakeNotification;
window.__answer = (p) => new Promise((ok) => setTimeout(() => ok(p), 100));
window.AudioContext = class {
  constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
  resume() { return Promise.resolve(); }
  createGain() { return { gain: {}, connect() {} }; }
  createOscillator() { return { frequency: {}, connect() {}, start() { window.__beeps += 1; }, stop() {} }; }
};
"""


def test_alert_sound_and_notification_option_persists(page: Any, site: Site) -> None:
    for plate in ("BEEP01", "BEEP02", "BEEP03", "BEEP04"):
        site.bridge.store.add_watch(plate, reason="test")
    site.bridge.reload_watchlist()
    page.add_init_script(ALERT_OUTPUTS)
    sound = page.get_by_label("Sound on alert", exact=True)
    desktop = page.get_by_label("Desktop notification on alert", exact=True)
    outputs = "() => [window.__notes.length, window.__beeps]"

    def alert(plate: str) -> None:
        site.publish(plate, "gate")
        page.locator("#live-alerts li", has_text=plate).wait_for(state="visible", timeout=5000)

    sign_in(page, site)
    sync_api.expect(page.locator("#live-state")).to_have_text("live")
    sync_api.expect(sound).not_to_be_checked()
    sync_api.expect(desktop).not_to_be_checked()
    alert("BEEP01")  # options off: neither runs
    assert page.evaluate(outputs) == [0, 0]

    sound.check()
    desktop.check()  # asks the browser for permission once (granted by the stand-in)
    page.wait_for_function("() => window.__asked === 1")
    page.evaluate("() => { Notification.permission = 'granted'; }")
    alert("BEEP02")
    page.wait_for_function("() => window.__notes.length === 1 && window.__beeps === 1")
    assert page.evaluate("() => window.__notes") == [["alpr alert: BEEP02", "gate · test"]]

    # The choice survives a reload (the session cookie keeps the operator signed in).
    page.reload()
    page.evaluate("() => { Notification.permission = 'granted'; }")
    sync_api.expect(page.locator("#live-state")).to_have_text("live")
    sync_api.expect(sound).to_be_checked()
    sync_api.expect(desktop).to_be_checked()
    sync_api.expect(page.locator("#live-alerts")).to_contain_text("BEEP02")  # listed, not announced again
    assert page.evaluate(outputs) == [0, 0]
    alert("BEEP03")  # once per alert
    page.wait_for_function("() => window.__notes.length === 1 && window.__beeps === 1")

    sound.uncheck()
    desktop.uncheck()
    page.reload()
    sync_api.expect(page.locator("#live-state")).to_have_text("live")
    sync_api.expect(sound).not_to_be_checked()
    sync_api.expect(desktop).not_to_be_checked()
    alert("BEEP04")
    assert page.evaluate(outputs) == [0, 0]
    assert page.evaluate("() => window.__asked") == 0

    # Permission refused: the box goes off, the page says why, and no "on" is kept for the next visit.
    page.evaluate("() => { Notification.requestPermission = () => window.__answer('denied'); }")
    desktop.click()  # not check(): the refusal unticks it
    sync_api.expect(page.locator("#error")).to_contain_text("blocked by the browser")
    sync_api.expect(desktop).not_to_be_checked()
    assert page.evaluate("() => localStorage.getItem('alpr-opt-notify')") == "0"
    page.reload()
    sync_api.expect(page.locator("#live-state")).to_have_text("live")
    sync_api.expect(desktop).not_to_be_checked()


def test_reads_search_detail_and_export_link(page: Any, site: Site) -> None:
    search_reads(page, site, "AB-123").focus()
    page.keyboard.press("Enter")  # the detail opens from the keyboard too
    detail = page.locator("#read-detail")
    sync_api.expect(detail).to_contain_text("Characters")
    sync_api.expect(detail).to_contain_text("gate")
    assert "plate=AB-123" in (page.locator("#r-csv").get_attribute("href") or "")
    assert "Times shown in" in page.locator("#zone").inner_text()


def test_reads_and_alerts_paging_older_and_back_to_newest(page: Any, site: Site) -> None:
    store = site.bridge.store
    # 60 reads of one camera: more than the view's page of 50, stored oldest first.
    evs = [_event(f"PG{i:04d}", "pager") for i in range(60)]
    site.bridge.ingest([Ingest(ev, None) for ev in evs])
    newest_first = [ev.plate for ev in reversed(evs)]
    sign_in(page, site)
    page.get_by_role("link", name="Reads").click()
    page.get_by_label("Camera", exact=True).fill("pager")
    page.get_by_role("button", name="Search").click()
    plates = page.locator("#reads-rows tr .plate")
    count = page.locator("#r-count")
    older = page.get_by_role("button", name="Older")
    sync_api.expect(count).to_have_text("50 reads shown")
    assert plates.all_inner_texts() == newest_first[:50]
    sync_api.expect(older).to_be_enabled()
    page.get_by_label("Plate", exact=True).fill("PG0059")  # typed, not searched: Older pages what is shown
    older.dblclick()  # an impatient double click loads the next page once
    sync_api.expect(count).to_have_text("60 reads shown (end)")
    sync_api.expect(older).to_be_disabled()
    got = plates.all_inner_texts()
    assert got == newest_first and len(set(got)) == 60  # the older ten below, none twice
    page.get_by_label("Plate", exact=True).fill("")
    page.get_by_role("button", name="Newest").click()
    sync_api.expect(count).to_have_text("50 reads shown")
    assert plates.all_inner_texts() == newest_first[:50]
    sync_api.expect(older).to_be_enabled()

    # Alerts page the same way (acknowledged ones, so the Live view of other tests is not crowded).
    wid = store.add_watch("PGA*", kind="wildcard")
    site.bridge.reload_watchlist()
    site.bridge.ingest([Ingest(_event(f"PGA{i:03d}", "pager"), None) for i in range(55)])
    for a in store.query_alerts(camera="pager", limit=100)[0]:
        store.ack_alert(a["id"], "otto")
    store.delete_watch(wid)
    site.bridge.reload_watchlist()
    page.get_by_role("link", name="Alerts").click()
    page.get_by_label("State", exact=True).select_option("acknowledged")
    page.get_by_role("button", name="Show").click()
    alert_plates = page.locator("#alerts-rows tr .plate")
    sync_api.expect(alert_plates).to_have_count(50)
    page.get_by_label("State", exact=True).select_option("open")  # chosen, not shown: Older pages the list
    page.locator("#a-more").dblclick()
    # Older is disabled while its request runs too: wait for the rows themselves, then for the end.
    sync_api.expect(alert_plates.filter(has_text=re.compile(r"^PGA"))).to_have_count(55)
    sync_api.expect(page.locator("#a-more")).to_be_disabled()
    shown = [t for t in alert_plates.all_inner_texts() if t.startswith("PGA")]
    assert sorted(shown) == [f"PGA{i:03d}" for i in range(55)]  # each once, newest first
    assert shown == sorted(shown, reverse=True)


def test_read_detail_shows_every_field_of_the_event(page: Any, site: Site) -> None:
    from datetime import datetime, timedelta, timezone

    first = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=7)
    ev = PlateEvent.create(
        camera="exit", plate="TRK42Q", confidence=0.871, box=(10, 20, 90, 40),
        char_confidences=[0.91, 0.82, 0.73, 0.64, 0.55, 0.46], region="us-ca", track_id=4242,
        first_seen=first, last_seen=first + timedelta(seconds=5), ts=first + timedelta(seconds=4),
        detector_score=0.876, direction="leaving",
    )  # fmt: skip
    site.bridge.ingest([Ingest(ev, _jpeg(ev.plate))])
    search_reads(page, site, "TRK42Q").click()
    detail = page.locator("#read-detail")
    sync_api.expect(detail).to_be_visible()
    fields = dict(
        zip(
            detail.locator("dt").all_inner_texts(),
            detail.locator("dd").all_inner_texts(),
            strict=True,
        )
    )
    local = (
        page.evaluate("(iso) => window.ALPR.time(iso)", ev.first_seen),
        page.evaluate("(iso) => window.ALPR.time(iso)", ev.last_seen),
    )
    assert local[0] and local[0] != local[1]
    assert fields["Plate"] == "TRK42Q" and fields["Camera"] == "exit"
    assert fields["Confidence"] == "0.871"
    assert fields["Characters"].split() == ["T(0.91)", "R(0.82)", "K(0.73)", "4(0.64)", "2(0.55)", "Q(0.46)"]
    assert fields["Region / format"] == "us-ca" and fields["Track"] == "4242"
    assert (fields["First seen"], fields["Last seen"]) == local
    assert fields["Detector score"] == "0.876" and fields["Direction"] == "leaving"
    assert fields["Event id"] == ev.event_id
    sync_api.expect(detail.locator("img")).to_have_count(1)
    # the stored crop (160 px wide), fetched with the session and decoded
    page.wait_for_function(
        "() => { const i = document.querySelector('#read-detail img');"
        " return i !== null && i.complete && i.naturalWidth === 160; }"
    )


def test_api_error_is_shown_and_page_stays_up(page: Any, site: Site) -> None:
    sign_in(page, site)
    site.allow.add(503)  # provoked below
    page.route(
        "**/api/v1/stats/charts*",
        lambda route: route.fulfill(status=503, json={"detail": "store unavailable"}),
    )
    page.get_by_role("link", name="Stats").click()
    sync_api.expect(page.locator("#error")).to_contain_text("store unavailable")
    page.unroute("**/api/v1/stats/charts*")
    page.get_by_role("link", name="Cameras").click()
    sync_api.expect(page.locator("#camera-rows")).to_contain_text("exit")
    page.get_by_role("link", name="Stats").click()
    sync_api.expect(page.locator("#chart-hours svg")).to_be_visible()
    sync_api.expect(page.locator("#error")).to_be_hidden()


def test_viewer_sees_no_admin_and_no_acknowledge(page: Any, site: Site) -> None:
    site.bridge.store.add_watch("VIEW01")
    site.bridge.reload_watchlist()
    site.ingest("VIEW01", "gate")
    sign_in(page, site, "vic")
    assert not page.get_by_role("link", name="Admin").is_visible()
    sync_api.expect(page.locator("#live-alerts")).to_contain_text("VIEW01")
    assert page.locator("#live-alerts").get_by_role("button", name="Acknowledge").count() == 0


@pytest.mark.parametrize("width", [360, 390])
def test_every_view_fits_a_phone_and_screenshots(page: Any, site: Site, width: int) -> None:
    sign_in(page, site)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for view in VIEWS:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("link", name=view.capitalize()).click()
        page.wait_for_timeout(300)
        if width == 390:
            page.screenshot(path=str(ARTIFACTS / f"{view}.png"), full_page=True)
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(100)
        no_sideways_scroll(page)
        if width == 390:
            page.screenshot(path=str(ARTIFACTS / f"{view}-{width}.png"), full_page=True)


def test_admin_edits_retention_and_the_pass_follows_it(page: Any, site: Site) -> None:
    from datetime import datetime, timedelta, timezone

    from alpr.bridge.retention import enforce

    store = site.bridge.store
    old = PlateEvent.create(
        camera="gate", plate="OLDRET", confidence=0.9, box=(0, 0, 1, 1),
        ts=datetime.now(timezone.utc) - timedelta(days=10),
    )  # fmt: skip
    site.bridge.ingest([Ingest(old, None)])
    sign_in(page, site)
    page.get_by_role("link", name="Admin").click()
    reads = page.get_by_label("Reads (days)", exact=True)
    sync_api.expect(reads).to_have_value("30")  # the config's default, shown before any change
    reads.fill("5")
    page.get_by_role("button", name="Save retention").click()
    sync_api.expect(page.locator("#retention-status")).to_have_text("Retention saved.")
    sync_api.expect(page.locator("#retention")).to_contain_text("5 days, from saved here")
    try:
        # The bridge's config still says 30 days; the saved 5 win, so the 10-day-old read goes.
        assert enforce(store, site.bridge.config.retention)["reads"] == 1
        assert store.query_reads(plate="OLDRET")[0] == []
        assert any(a["action"] == "settings.retention" for a in store.audit_log(50))
    finally:
        store.put_setting("retention", {}, "test")  # the other tests keep the config's policy


def test_watchlist_edit_expiry_kind_and_csv_import(page: Any, site: Site, tmp_path: Path) -> None:
    store = site.bridge.store
    sign_in(page, site)
    page.get_by_role("link", name="Watchlists").click()
    page.get_by_label("Pattern", exact=True).fill("EDIT01")
    page.get_by_role("button", name="Add entry").click()
    rows = page.locator("#watch-rows")
    sync_api.expect(rows).to_contain_text("EDIT01")
    page.get_by_role("button", name="Edit EDIT01").click()
    page.get_by_label("Pattern", exact=True).fill("ED*T0?")
    page.get_by_label("Kind", exact=True).select_option("wildcard")
    page.get_by_label("Expires (local time)", exact=True).fill("2099-01-02T03:04")
    page.get_by_role("button", name="Save entry").click()
    sync_api.expect(rows).to_contain_text("ED*T0?")
    w = next(e for e in store.list_watch() if e.pattern == "ED*T0?")
    # 2099-01-02 03:04 in the browser's zone (UTC -12 h to +14 h).
    assert w.kind == "wildcard" and w.expires_ms is not None
    assert abs(w.expires_ms - 4071006240000) <= 14 * 3_600_000
    assert not any(e.pattern == "EDIT01" for e in store.list_watch())  # edited, not added
    csv = tmp_path / "hot.csv"
    csv.write_text(
        "pattern,kind,reason,max_distance,expires,cameras\nCSV001,exact,stolen,,,\nCSV00,fuzzy,,1,,gate\n"
    )
    page.get_by_label(
        "Import hotlist (CSV: pattern,kind,reason,max_distance,expires,cameras)"
    ).set_input_files(str(csv))
    page.get_by_role("button", name="Import CSV").click()
    sync_api.expect(page.locator("#import-result")).to_have_text("Imported 2 entries.")
    sync_api.expect(rows).to_contain_text("CSV001")
    kinds = {e.pattern: e.kind for e in store.list_watch()}
    assert kinds["CSV001"] == "exact" and kinds["CSV00"] == "fuzzy"

    # Delete asks first: dismissed, nothing goes; accepted, the entry leaves the page and the API.
    def listed() -> list[str]:
        r = page.request.get(site.url + "/api/v1/watchlists")  # with the page's session
        assert r.ok, r.status
        return [w["pattern"] for w in r.json()["items"]]

    asked: list[str] = []

    def answer(accept: bool) -> Any:
        def handle(d: Any) -> None:
            asked.append(d.message)
            d.accept() if accept else d.dismiss()

        return handle

    assert "ED*T0?" in listed()
    page.once("dialog", answer(False))
    page.get_by_role("button", name="Delete ED*T0?").click()
    assert asked == ["Delete watchlist entry ED*T0??"]
    sync_api.expect(rows).to_contain_text("ED*T0?")
    assert "ED*T0?" in listed()
    page.once("dialog", answer(True))
    page.get_by_role("button", name="Delete ED*T0?").click()
    sync_api.expect(page.get_by_role("button", name="Delete ED*T0?")).to_have_count(0)
    sync_api.expect(rows).not_to_contain_text("ED*T0?")
    sync_api.expect(rows).to_contain_text("CSV001")  # only that entry went
    assert "ED*T0?" not in listed() and "CSV001" in listed()
    assert len(asked) == 2
    assert [a["action"] for a in store.audit_log(50)].count("watchlists.delete") == 1


def test_privacy_export_and_erase_from_admin(page: Any, site: Site) -> None:
    site.ingest("PRIV01", "gate")
    sign_in(page, site)
    page.get_by_role("link", name="Admin").click()
    page.get_by_label("Plate to export or erase", exact=True).fill("PRIV01")
    page.get_by_role("button", name="Export data").click()
    sync_api.expect(page.locator("#privacy-result")).to_contain_text("Download export of PRIV01 (1 reads")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Erase data").click()
    sync_api.expect(page.locator("#privacy-result")).to_contain_text("Erased 1 reads")
    assert site.bridge.store.query_reads(plate="PRIV01")[0] == []


# WCAG 2.1 contrast from computed styles: text 4.5:1 (3:1 when large: 24 px, or 18.66 px bold; 1.4.3),
# controls against what surrounds them by fill or border, chart marks and focus rings 3:1 (1.4.11).
# Backgrounds are composited up the ancestors onto the white canvas; disabled controls are exempt.
CONTRAST = (Path(__file__).parent / "wcag_contrast.js").read_text()


def _low_contrast(page: Any, where: str, *, tabs: int = 12) -> list[str]:
    pairs = page.evaluate(CONTRAST, False)
    assert any(p["kind"] == "text" for p in pairs), where
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(tabs):  # the first Tab stops of the page, header included
        page.keyboard.press("Tab")
        pairs += page.evaluate(CONTRAST, True)
    low = [p for p in pairs if p["ratio"] < p["need"]]
    return [f"{where}: {p['what']} {p['kind']} {p['ratio']:.2f}:1 < {p['need']}:1" for p in low]


def test_every_view_has_readable_contrast(page: Any, site: Site) -> None:
    store = site.bridge.store
    store.add_watch("CONTR1", reason="contrast check")
    site.bridge.reload_watchlist()
    site.ingest("CONTR1", "gate")  # an open alert card and a read card on Live
    bad: list[str] = []
    page.goto(site.url + "/")
    sync_api.expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    bad += _low_contrast(page, "signed out")
    page.get_by_label("Username", exact=True).fill("otto")
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.locator("#error")).to_be_visible()
    bad += _low_contrast(page, "sign-in error")
    sign_in(page, site)
    sync_api.expect(page.locator("#live-alerts")).to_contain_text("CONTR1")
    sync_api.expect(page.locator("#live-reads li").first).to_be_visible()
    page.emulate_media(reduced_motion="reduce")
    for view in VIEWS:
        page.get_by_role("link", name=view.capitalize()).click()
        sync_api.expect(page.locator(f"#view-{view}")).to_be_visible()
        if view == "reads":
            sync_api.expect(page.locator("#reads-rows tr").first).to_be_visible()
            page.locator("#reads-rows tr").first.click()
            sync_api.expect(page.locator("#read-detail")).to_be_visible()
        elif view == "stats":
            sync_api.expect(page.locator("#chart-hours svg rect").first).to_be_attached()
        elif view in ("alerts", "watchlists", "cameras", "admin"):
            sync_api.expect(page.locator(f"#view-{view} tbody tr").first).to_be_visible()
        bad += _low_contrast(page, view, tabs=20)
    store.delete_watch(next(w.id for w in store.list_watch() if w.pattern == "CONTR1"))
    site.bridge.reload_watchlist()
    assert not bad, "\n".join(bad)


UNNAMED_CONTROLS = """() => [
    ...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter((e) => e.offsetParent !== null)
  .filter((e) => !((e.labels && e.labels.length) || e.getAttribute('aria-label')
    || (e.textContent || '').trim()))
  .map((e) => e.id || e.outerHTML.slice(0, 80))"""


def test_every_visible_control_has_a_name_and_tab_reaches_it(page: Any, site: Site) -> None:
    sign_in(page, site)
    for view in VIEWS:
        page.get_by_role("link", name=view.capitalize()).click()
        page.wait_for_timeout(200)
        assert page.evaluate(UNNAMED_CONTROLS) == [], view
    page.get_by_role("link", name="Admin").click()
    page.locator("body").focus()
    reached = set()
    for _ in range(80):  # Tab walks through the admin form controls, none skipped
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.id"))
    assert {"u-name", "t-name", "r-reads", "r-audit", "p-plate"} <= reached
