// alpr operator dashboard, core: sign-in, API calls (session cookie + CSRF header), errors, views.
// The page holds no data before sign-in. Text reaches the page through textContent only (no HTML
// parsing), so plate text and reasons cannot inject markup; the CSP allows no inline script.
"use strict";
const A = (window.ALPR = { views: {}, me: null });
const $ = (id) => document.getElementById(id);
A.$ = $;

// -- errors: the page stays up and says what went wrong --------------------------------------------
A.error = (msg) => {
  const e = $("error");
  if (!msg) { e.hidden = true; e.textContent = ""; return; }
  e.textContent = msg;
  e.hidden = false;
};

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}
A.ApiError = ApiError;

A.api = async (path, opts = {}) => {
  const headers = Object.assign({}, opts.headers || {});
  const method = opts.method || "GET";
  if (method !== "GET" && A.me) headers["X-CSRF-Token"] = A.me.csrf;
  let body = opts.body;
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.json); }
  let r;
  try {
    r = await fetch(path, { method, headers, body, credentials: "same-origin" });
  } catch (e) {
    throw new ApiError(0, "cannot reach the bridge (" + (e.message || e) + ")");
  }
  if (r.status === 401 && A.me && !path.startsWith("/auth/")) { signedOut("Your session ended; sign in again."); }
  if (!r.ok) {
    let detail = r.status + " " + r.statusText;
    try {
      const j = await r.json();
      if (typeof j.detail === "string") detail = j.detail;
      else if (Array.isArray(j.detail)) detail = j.detail.map((d) => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
      if (Array.isArray(j.errors)) detail += ": " + j.errors.map((x) => "line " + x.line + " " + x.error).join("; ");
    } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  return r;
};
A.json = async (path, opts) => (await A.api(path, opts)).json();

// Run a view action; failures show in the banner and leave no stale results claiming to be fresh.
A.guard = (fn) => async (...args) => {
  try { await fn(...args); } catch (e) { A.error(String(e.message || e)); }
};

// -- formatting ------------------------------------------------------------------------------------
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
function offset() {
  const m = -new Date().getTimezoneOffset();
  const s = m >= 0 ? "+" : "-";
  const a = Math.abs(m);
  return "UTC" + s + String(Math.floor(a / 60)).padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
}
A.zoneLabel = zone + " (" + offset() + ")";
A.time = (iso) => (iso ? fmt.format(new Date(iso)) : "");
A.fromLocal = (v) => (v ? new Date(v).toISOString() : "");
A.toLocal = (iso) => {
  if (!iso) return "";
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
};
A.list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);

A.el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") e.textContent = v ?? "";
    else if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of kids) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
};
A.row = (cells) => A.el("tr", {}, ...cells.map((c) => A.el("td", {}, c instanceof Node ? c : String(c ?? ""))));

// Crops: fetched once per read and kept as blob URLs (a re-render never fetches them again).
const crops = new Map();
A.crop = (eventId, cls = "crop") => {
  const img = A.el("img", { class: cls, alt: "plate crop" });
  let p = crops.get(eventId);
  if (!p) {
    p = A.api("/api/v1/reads/" + encodeURIComponent(eventId) + "/crop").then(async (r) => URL.createObjectURL(await r.blob()));
    p.catch(() => crops.delete(eventId));
    crops.set(eventId, p);
    if (crops.size > 500) crops.delete(crops.keys().next().value);
  }
  p.then((u) => { img.src = u; }, () => { img.alt = "crop unavailable"; });
  return img;
};

// -- sign-in ---------------------------------------------------------------------------------------
function signedIn(me) {
  A.me = me;
  $("login-view").hidden = true;
  $("who-name").textContent = me.user;
  $("who-role").textContent = me.role + (me.cameras ? " · " + me.cameras.join(", ") : "");
  $("who").hidden = false;
  $("nav").hidden = false;
  $("main").hidden = false;
  for (const a of document.querySelectorAll("[data-role=admin]")) a.hidden = me.role !== "admin";
  $("zone").textContent = "Times shown in " + A.zoneLabel + ".";
  A.error("");
  for (const v of Object.values(A.views)) if (v.start) v.start();
  route();
}

function signedOut(msg) {
  for (const v of Object.values(A.views)) if (v.stop) v.stop();
  A.me = null;
  $("main").hidden = true;
  $("nav").hidden = true;
  $("who").hidden = true;
  $("zone").textContent = "";
  for (const id of ["live-reads", "live-alerts", "reads-rows", "alerts-rows", "watch-rows", "camera-rows", "user-rows", "token-rows", "audit-rows"]) $(id).replaceChildren();
  $("login-view").hidden = false;
  A.error(msg || "");
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const btn = e.submitter || e.target.querySelector("button");
  btn.disabled = true;
  try {
    const me = await A.json("/auth/login", { method: "POST", json: { username: $("username").value, password: $("password").value } });
    $("password").value = "";
    signedIn(me);
  } catch (err) {
    A.error("Sign-in failed: " + err.message);
  } finally {
    btn.disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  try { await A.api("/auth/logout", { method: "POST" }); } catch (_) { /* signed out anyway */ }
  signedOut("Signed out.");
});

// -- views (hash routing) --------------------------------------------------------------------------
function route() {
  if (!A.me) return;
  let name = (location.hash || "#live").slice(1);
  if (!$("view-" + name) || (name === "admin" && A.me.role !== "admin")) name = "live";
  for (const s of document.querySelectorAll("section.view")) s.hidden = s.id !== "view-" + name;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#" + name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const v = A.views[name];
  if (v && v.show) A.guard(v.show)();
}
window.addEventListener("hashchange", route);

document.addEventListener("DOMContentLoaded", async () => {
  try {
    signedIn(await A.json("/auth/me"));
  } catch (e) {
    signedOut(e.status === 401 ? "" : String(e.message));
  }
});
