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

  let audio = null;
  function notify(a) {
    if ($("opt-sound").checked) {
      try {
        audio = audio || new AudioContext();
        const o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = 880; g.gain.value = 0.2;
        o.connect(g); g.connect(audio.destination);
        o.start(); o.stop(audio.currentTime + 0.3);
      } catch (_) { /* no audio device */ }
    }
    if ($("opt-notify").checked && "Notification" in window && Notification.permission === "granted") {
      new Notification("alpr alert: " + a.plate, { body: a.camera + " · " + (a.reason || a.match) });
    }
  }
  $("opt-notify").addEventListener("change", (e) => {
    if (e.target.checked && "Notification" in window && Notification.permission !== "granted") {
      Notification.requestPermission().then((p) => { if (p !== "granted") { e.target.checked = false; A.error("Desktop notifications are blocked by the browser."); } });
    }
  });
  for (const id of ["opt-sound", "opt-notify"]) {
    $(id).checked = localStorage.getItem("alpr-" + id) === "1";
    $(id).addEventListener("change", (e) => localStorage.setItem("alpr-" + id, e.target.checked ? "1" : "0"));
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
