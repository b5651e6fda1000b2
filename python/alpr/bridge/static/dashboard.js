// Operator page: static, holds no data. Everything shown is fetched from the REST API with the
// bearer token typed in (kept in sessionStorage, sent only in the Authorization header).
// Text goes into the page through textContent only, so plate text cannot inject markup.
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("alpr-token") || "";

async function api(path) {
  const r = await fetch("/api/v1" + path, { headers: { Authorization: "Bearer " + token } });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c ?? "";
    tr.appendChild(td);
  }
  return tr;
}

async function crop(eventId) {
  const img = document.createElement("img");
  img.className = "crop";
  const r = await api("/reads/" + encodeURIComponent(eventId) + "/crop");
  img.src = URL.createObjectURL(await r.blob());
  return img;
}

async function refresh() {
  try {
    const stats = await (await api("/stats")).json();
    const s = $("stats");
    s.replaceChildren();
    for (const k of ["reads", "reads_last_hour", "alerts", "cameras", "watchlist"]) {
      const d = document.createElement("div");
      const b = document.createElement("b");
      b.textContent = String(stats[k]);
      d.append(b, k.replaceAll("_", " "));
      s.appendChild(d);
    }
    const alerts = (await (await api("/alerts?limit=20")).json()).items;
    $("alerts").replaceChildren(...alerts.map((a) => row([a.ts, a.camera, a.plate, a.match, a.reason])));
    const q = new URLSearchParams({ limit: "50" });
    if ($("plate").value) q.set("plate", $("plate").value);
    if ($("fuzzy").checked) q.set("fuzzy", "true");
    if ($("camera").value) q.set("camera", $("camera").value);
    const reads = (await (await api("/reads?" + q)).json()).items;
    const rows = [];
    for (const r of reads) {
      const tr = row([r.ts, r.camera, r.plate, r.confidence.toFixed(2), r.has_crop ? await crop(r.event_id) : ""]);
      tr.children[2].className = "plate";
      rows.push(tr);
    }
    $("reads").replaceChildren(...rows);
    $("main").hidden = false;
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("status").textContent = String(e.message || e);
  }
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("alpr-token", token);
  $("token").value = "";
  refresh();
});
$("search").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
if (token) refresh();
setInterval(() => { if (token) refresh(); }, 10000);
