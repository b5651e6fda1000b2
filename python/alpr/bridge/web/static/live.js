// Live view: new reads and alerts pushed by the bridge (Server-Sent Events, /api/v1/live).
// Each new read adds one card and fetches only its own crop; nothing is re-fetched per update.
"use strict";
(() => {
  const A = window.ALPR, $ = A.$, el = A.el;
  const MAX_CARDS = 50;
  let es = null, retry = null;
  const seenReads = new Set(), seenAlerts = new Set();

  A.canAck = () => A.me && A.me.role !== "viewer";

  // The Acknowledge button of one alert (shared with the Alerts view).
  A.ackControl = (a) => {
    if (a.acknowledged) return el("span", { class: "badge ok", text: "acknowledged by " + a.acknowledged_by + " " + A.time(a.acknowledged_at) });
    if (!A.canAck()) return el("span", { class: "badge bad", text: "open" });
    const b = el("button", { type: "button", text: "Acknowledge", "aria-label": "Acknowledge alert for " + a.plate });
    b.addEventListener("click", A.guard(async () => {
      b.disabled = true;
      try {
        const r = await A.json("/api/v1/alerts/" + a.id + "/ack", { method: "POST" });
        Object.assign(a, r);
        b.replaceWith(A.ackControl(a));
        const card = document.querySelector('#live-alerts li[data-alert="' + a.id + '"]');
        if (card) setTimeout(() => card.remove(), 1500);
      } finally { b.disabled = false; }
    }));
    return b;
  };

  function readCard(r, fresh) {
    const li = el("li", { class: fresh ? "fresh" : "", "data-event": r.event_id },
      el("span", { class: "plate", text: r.plate }),
      r.has_crop ? A.crop(r.event_id) : el("span", { class: "muted", text: "no crop" }),
      el("span", { text: r.camera + " · " + A.time(r.ts) }),
      el("span", { class: "muted", text: "confidence " + r.confidence.toFixed(2) + (r.region ? " · " + r.region : "") }));
    return li;
  }

  function alertCard(a, fresh) {
    return el("li", { class: "alert" + (fresh ? " fresh" : ""), "data-alert": String(a.id) },
      el("span", { class: "plate", text: a.plate }),
      el("span", { text: a.camera + " · " + A.time(a.ts) }),
      el("span", { text: a.match + (a.reason ? ": " + a.reason : "") }),
      A.ackControl(a));
  }

  function addRead(r, fresh) {
    if (seenReads.has(r.event_id)) return;
    seenReads.add(r.event_id);
    const ul = $("live-reads");
    if (fresh) ul.prepend(readCard(r, true)); else ul.append(readCard(r, false));
    while (ul.children.length > MAX_CARDS) { seenReads.delete(ul.lastChild.dataset.event); ul.lastChild.remove(); }
  }

  function addAlert(a, fresh) {
    if (seenAlerts.has(a.id) || a.acknowledged) return;
    seenAlerts.add(a.id);
    const ul = $("live-alerts");
    if (fresh) ul.prepend(alertCard(a, true)); else ul.append(alertCard(a, false));
    while (ul.children.length > MAX_CARDS) ul.lastChild.remove();
    if (fresh) notify(a);
  }

  // Alert sound and desktop notification: off until the operator turns them on; the choice is kept
  // in localStorage (per browser), and a choice the browser cannot honour is not kept.
  let audio = null;
  function audioContext() {
    // A context made, or resumed, outside a click or key press starts suspended (autoplay policy), so
    // a page reloaded with sound on is silent until the operator's first gesture (see below).
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => { /* no gesture yet */ });
    } catch (_) { audio = null; /* no audio here */ }
    return audio;
  }
  function beep() {
    const ctx = audioContext();
    if (!ctx) return;
    try {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880; g.gain.value = 0.2;
      o.connect(g); g.connect(ctx.destination);
      o.start(); o.stop(ctx.currentTime + 0.3);
    } catch (_) { /* no audio device */ }
  }
  const canNotify = () => "Notification" in window; // absent outside a secure context (plain http)
  function notify(a) {
    if ($("opt-sound").checked) beep();
    if ($("opt-notify").checked && canNotify() && Notification.permission === "granted") {
      try {
        new Notification("alpr alert: " + a.plate, { body: a.camera + " · " + (a.reason || a.match) });
      } catch (_) { /* a browser that only notifies from a service worker (Android) */ }
    }
  }
  const keep = (box) => localStorage.setItem("alpr-" + box.id, box.checked ? "1" : "0");
  const refuse = (box, msg) => { box.checked = false; keep(box); A.error(msg); };
  $("opt-sound").checked = localStorage.getItem("alpr-opt-sound") === "1";
  $("opt-notify").checked = localStorage.getItem("alpr-opt-notify") === "1" && canNotify() && Notification.permission !== "denied";
  $("opt-sound").addEventListener("change", (e) => { keep(e.target); if (e.target.checked) audioContext(); });
  $("opt-notify").addEventListener("change", (e) => {
    const box = e.target;
    keep(box);
    if (!box.checked || (canNotify() && Notification.permission === "granted")) return;
    if (!canNotify()) { refuse(box, "This browser offers no desktop notifications on this page (they need HTTPS)."); return; }
    Notification.requestPermission().then((p) => { if (p !== "granted") refuse(box, "Desktop notifications are blocked by the browser."); });
  });
  for (const t of ["pointerdown", "keydown"]) {
    document.addEventListener(t, () => { if ($("opt-sound").checked && (!audio || audio.state === "suspended")) audioContext(); }, true);
  }

  function setState(text, ok) {
    const s = $("live-state");
    s.textContent = text;
    s.className = "badge " + (ok ? "ok" : "bad");
  }

  function connect() {
    es = new EventSource("/api/v1/live");
    es.addEventListener("open", () => setState("live", true));
    es.addEventListener("read", (e) => addRead(JSON.parse(e.data), true));
    es.addEventListener("alert", (e) => addAlert(JSON.parse(e.data), true));
    es.addEventListener("error", () => {
      setState("reconnecting", false);
      if (es.readyState === EventSource.CLOSED) {
        es = null;
        retry = setTimeout(A.guard(async () => { await A.json("/auth/me"); if (A.me) connect(); }), 3000);
      }
    });
  }

  A.views.live = {
    start: A.guard(async () => {
      seenReads.clear(); seenAlerts.clear();
      connect(); // first, so nothing stored while the lists load is missed (duplicates are dropped)
      const [reads, alerts] = await Promise.all([
        A.json("/api/v1/reads?limit=20"),
        A.json("/api/v1/alerts?state=open&limit=20"),
      ]);
      for (const r of reads.items) addRead(r, false);
      for (const a of alerts.items) addAlert(a, false);
    }),
    stop() {
      if (es) es.close();
      es = null;
      clearTimeout(retry);
    },
  };
})();
