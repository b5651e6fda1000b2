// Admin view: users, API tokens, retention policy, privacy requests (export / erase), audit log.
"use strict";
(() => {
  const A = window.ALPR, $ = A.$, el = A.el;

  async function users() {
    const items = (await A.json("/api/v1/users")).items;
    $("user-rows").replaceChildren(...items.map((u) => {
      const toggle = el("button", { type: "button", class: u.disabled ? "" : "danger", text: u.disabled ? "Enable" : "Disable",
        "aria-label": (u.disabled ? "Enable " : "Disable ") + u.name,
        onclick: A.guard(async () => { await A.api("/api/v1/users/" + encodeURIComponent(u.name), { method: "PATCH", json: { disabled: !u.disabled } }); await users(); }) });
      const pw = el("button", { type: "button", class: "secondary", text: "Set password", "aria-label": "Set password of " + u.name,
        onclick: A.guard(async () => {
          const p = prompt("New password for " + u.name + " (at least 8 characters)");
          if (!p) return;
          await A.api("/api/v1/users/" + encodeURIComponent(u.name), { method: "PATCH", json: { password: p } });
          await audit();
        }) });
      return A.row([u.name, u.role, (u.cameras || ["all"]).join(", "), u.disabled ? "disabled" : "active", el("span", {}, toggle, " ", pw)]);
    }));
  }

  async function tokens() {
    const items = (await A.json("/api/v1/tokens")).items;
    $("token-rows").replaceChildren(...items.map((t) => A.row([t.id, t.name, t.role, (t.cameras || ["all"]).join(", "), t.revoked ? "revoked" : "active",
      t.revoked ? "" : el("button", { type: "button", class: "danger", text: "Revoke", "aria-label": "Revoke token " + t.id,
        onclick: A.guard(async () => { if (!confirm("Revoke token " + t.id + "?")) return; await A.api("/api/v1/tokens/" + t.id, { method: "DELETE" }); await tokens(); }) })])));
  }

  const RET = { reads_days: "r-reads", crops_days: "r-crops", alerts_days: "r-alerts", audit_days: "r-audit" };

  function showRetention(r) {
    const dl = $("retention");
    dl.replaceChildren();
    for (const [k, id] of Object.entries(RET)) {
      $(id).value = String(r[k]);
      const from = r.source[k] === "stored" ? "saved here" : "bridge config (" + r.config[k] + ")";
      dl.append(el("dt", { text: k.replace("_days", "") }), el("dd", { text: (r[k] === 0 ? "kept forever" : r[k] + " days") + ", from " + from }));
    }
    dl.append(el("dt", { text: "Pass every" }), el("dd", { text: r.interval_s + " s" }));
    if (r.updated) dl.append(el("dt", { text: "Last saved" }), el("dd", { text: A.time(r.updated) + " by " + r.updated_by }));
  }

  async function retention() {
    showRetention(await A.json("/api/v1/settings/retention"));
  }

  $("retention-form").addEventListener("submit", A.guard(async (e) => {
    e.preventDefault();
    const body = {};
    for (const [k, id] of Object.entries(RET)) body[k] = Number($(id).value);
    showRetention(await A.json("/api/v1/settings/retention", { method: "PUT", json: body }));
    $("retention-status").textContent = "Retention saved.";
    await audit();
  }));

  async function audit() {
    const items = (await A.json("/api/v1/audit?limit=100")).items;
    $("audit-rows").replaceChildren(...items.map((a) => A.row([A.time(a.ts), a.user ? a.user : a.token_id ? "token " + a.token_id : "–", a.action, JSON.stringify(a.detail), a.results])));
  }

  $("user-form").addEventListener("submit", A.guard(async (e) => {
    e.preventDefault();
    const cams = A.list($("u-cams").value);
    await A.api("/api/v1/users", { method: "POST", json: { name: $("u-name").value.trim(), role: $("u-role").value, password: $("u-pass").value, cameras: cams.length ? cams : null } });
    $("user-form").reset();
    await users();
  }));

  $("token-form").addEventListener("submit", A.guard(async (e) => {
    e.preventDefault();
    const cams = A.list($("t-cams").value);
    const r = await A.json("/api/v1/tokens", { method: "POST", json: { name: $("t-name").value, role: $("t-role").value, cameras: cams.length ? cams : null } });
    $("token-new").textContent = "New token (shown once, copy it now): " + r.token;
    $("token-form").reset();
    await tokens();
  }));

  $("privacy-form").addEventListener("submit", A.guard(async (e) => {
    e.preventDefault();
    const plate = $("p-plate").value.trim();
    const r = await A.json("/api/v1/privacy/export", { method: "POST", json: { plate } });
    const blob = new Blob([JSON.stringify(r, null, 2)], { type: "application/json" });
    const a = el("a", { href: URL.createObjectURL(blob), download: "alpr-export-" + r.plate + ".json", text: "Download export of " + r.plate + " (" + r.reads.length + " reads, " + r.alerts.length + " alerts)" });
    $("privacy-result").replaceChildren(a);
  }));
  $("p-erase").addEventListener("click", A.guard(async () => {
    const plate = $("p-plate").value.trim();
    if (!plate) { A.error("Enter a plate to erase."); return; }
    if (!confirm("Erase every read, crop and alert of " + plate + "? This cannot be undone.")) return;
    const r = await A.json("/api/v1/privacy/erase", { method: "POST", json: { plate } });
    $("privacy-result").textContent = "Erased " + r.reads + " reads, " + r.crops + " crops, " + r.alerts + " alerts of " + plate + ".";
    await audit();
  }));

  A.views.admin = {
    show: async () => { await Promise.all([users(), tokens(), retention(), audit()]); A.error(""); },
  };
})();
