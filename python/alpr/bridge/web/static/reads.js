// Reads view (search, paging, detail, CSV export) and Alerts view (state filter, Acknowledge).
"use strict";
(() => {
  const A = window.ALPR, $ = A.$, el = A.el;
  const PAGE = 50;
  let next = null, shown = 0;

  function filters() {
    const q = new URLSearchParams();
    const plate = $("r-plate").value.trim();
    if (plate) q.set("plate", plate);
    if (plate && $("r-fuzzy").value) q.set("fuzzy", "true");
    const cam = $("r-camera").value.trim();
    if (cam) q.set("camera", cam);
    if ($("r-since").value) q.set("since", A.fromLocal($("r-since").value));
    if ($("r-until").value) q.set("until", A.fromLocal($("r-until").value));
    return q;
  }

  function detail(r) {
    const box = $("read-detail"), body = $("detail-body");
    const kv = el("dl", { class: "kv" });
    const add = (k, v) => kv.append(el("dt", { text: k }), el("dd", {}, v instanceof Node ? v : String(v ?? "–")));
    add("Plate", el("span", { class: "plate", text: r.plate }));
    add("Camera", r.camera);
    add("Time", A.time(r.ts));
    add("Confidence", r.confidence.toFixed(3));
    const chars = el("span", { class: "mono" });
    [...r.plate].forEach((c, i) => {
      const p = r.char_confidences[i];
      chars.append(el("span", { title: p === undefined ? "" : p.toFixed(3), text: c + (p === undefined ? "" : "(" + p.toFixed(2) + ") ") }));
    });
    add("Characters", r.char_confidences.length ? chars : "–");
    add("Region / format", r.region);
    add("Track", r.track_id);
    add("First seen", A.time(r.first_seen));
    add("Last seen", A.time(r.last_seen));
    add("Direction", r.direction);
    add("Detector score", r.detector_score === null || r.detector_score === undefined ? null : r.detector_score.toFixed(3));
    add("Event id", el("span", { class: "mono", text: r.event_id }));
    body.replaceChildren(r.has_crop ? A.crop(r.event_id, "crop-big") : el("p", { class: "muted", text: "No crop stored." }), kv);
    box.hidden = false;
    box.focus();
  }

  function readRow(r) {
    const tr = A.row([A.time(r.ts), r.camera, el("span", { class: "plate", text: r.plate }), r.confidence.toFixed(2), r.has_crop ? A.crop(r.event_id) : ""]);
    tr.className = "selectable";
    tr.tabIndex = 0;
    tr.setAttribute("aria-label", "Read " + r.plate + " at " + A.time(r.ts) + ", show details");
    tr.addEventListener("click", () => detail(r));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); detail(r); } });
    return tr;
  }

  // One page request at a time: "Older" is off while one is out (a double click once appended the
  // same page twice), and an answer overtaken by a newer search is dropped, not appended to it.
  // "Older" pages the search that is shown, not whatever the form says since (its cursor is that
  // search's).
  let searches = 0, loading = false, current = new URLSearchParams();
  async function search(append) {
    if (append && (loading || !next)) return;
    const mine = ++searches;
    loading = true;
    $("r-more").disabled = true;
    if (!append) current = filters();
    const q = new URLSearchParams(current);
    q.set("limit", String(PAGE));
    if (append) q.set("cursor", next);
    $("r-csv").href = "/api/v1/reads.csv?" + filters();
    const rows = $("reads-rows");
    if (!append) { rows.replaceChildren(); shown = 0; next = null; $("r-count").textContent = "searching…"; }
    try {
      const page = await A.json("/api/v1/reads?" + q);
      if (mine !== searches) return;
      next = page.next;
      for (const r of page.items) rows.append(readRow(r));
      shown += page.items.length;
      $("r-count").textContent = shown + " reads shown" + (next ? "" : " (end)");
      $("r-more").disabled = !next;
      A.error("");
    } catch (e) {
      if (mine !== searches) return;
      $("r-count").textContent = "search failed";
      $("r-more").disabled = !next;
      throw e;
    } finally {
      if (mine === searches) loading = false;
    }
  }

  $("reads-form").addEventListener("submit", A.guard(async (e) => { e.preventDefault(); await search(false); }));
  $("r-more").addEventListener("click", A.guard(() => search(true)));
  $("r-first").addEventListener("click", A.guard(() => search(false)));
  $("detail-close").addEventListener("click", () => { $("read-detail").hidden = true; });
  for (const id of ["r-plate", "r-fuzzy", "r-camera", "r-since", "r-until"]) {
    $(id).addEventListener("change", () => { $("r-csv").href = "/api/v1/reads.csv?" + filters(); });
  }

  let loaded = false;
  A.views.reads = {
    show: async () => { if (!loaded) { loaded = true; await search(false); } },
    stop: () => { loaded = false; $("read-detail").hidden = true; },
  };

  // -- alerts --------------------------------------------------------------------------------------
  let anext = null, alertLists = 0, aloading = false, astate = "open";
  async function alerts(append) {
    if (append && (aloading || !anext)) return; // as search(): one page at a time, of the list shown
    const mine = ++alertLists;
    aloading = true;
    $("a-more").disabled = true;
    if (!append) { astate = $("a-state").value; anext = null; }
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (astate) q.set("state", astate);
    if (append) q.set("cursor", anext);
    const rows = $("alerts-rows");
    if (!append) rows.replaceChildren();
    try {
      const page = await A.json("/api/v1/alerts?" + q);
      if (mine !== alertLists) return;
      anext = page.next;
      for (const a of page.items) {
        rows.append(A.row([A.time(a.ts), a.camera, el("span", { class: "plate", text: a.plate }), a.match, a.reason, A.ackControl(a)]));
      }
      A.error("");
    } finally {
      if (mine === alertLists) { aloading = false; $("a-more").disabled = !anext; }
    }
  }
  $("alerts-form").addEventListener("submit", A.guard(async (e) => { e.preventDefault(); await alerts(false); }));
  $("a-more").addEventListener("click", A.guard(() => alerts(true)));
  A.views.alerts = { show: () => alerts(false) };
})();
