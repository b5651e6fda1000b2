// Watchlists view: add / edit / delete entries (exact, wildcard, fuzzy; expiry; cameras), CSV import.
"use strict";
(() => {
  const A = window.ALPR, $ = A.$, el = A.el;
  let entries = [];

  function resetForm() {
    $("watch-form").reset();
    $("w-id").value = "";
    $("w-save").textContent = "Add entry";
    $("w-cancel").hidden = true;
  }

  function edit(w) {
    $("w-id").value = String(w.id);
    $("w-pattern").value = w.pattern;
    $("w-kind").value = w.kind;
    $("w-reason").value = w.reason;
    $("w-dist").value = String(w.max_distance);
    $("w-expires").value = A.toLocal(w.expires);
    $("w-cameras").value = (w.cameras || []).join(", ");
    $("w-save").textContent = "Save entry";
    $("w-cancel").hidden = false;
    $("w-pattern").focus();
  }

  async function load() {
    if (A.me.role === "viewer") {
      $("watch-rows").replaceChildren(A.row(["Managing watchlists needs the operator role."]));
      return;
    }
    entries = (await A.json("/api/v1/watchlists")).items;
    $("watch-rows").replaceChildren(...entries.map((w) => {
      const acts = el("span", {},
        el("button", { type: "button", class: "secondary", text: "Edit", "aria-label": "Edit " + w.pattern, onclick: () => edit(w) }), " ",
        el("button", { type: "button", class: "danger", text: "Delete", "aria-label": "Delete " + w.pattern, onclick: A.guard(async () => {
          if (!confirm("Delete watchlist entry " + w.pattern + "?")) return;
          await A.api("/api/v1/watchlists/" + w.id, { method: "DELETE" });
          await load();
        }) }));
      return A.row([el("span", { class: "plate", text: w.pattern }), w.kind, w.reason, w.expires ? A.time(w.expires) : "never", (w.cameras || ["all"]).join(", "), acts]);
    }));
    A.error("");
  }

  $("watch-form").addEventListener("submit", A.guard(async (e) => {
    e.preventDefault();
    const cams = A.list($("w-cameras").value);
    const body = {
      pattern: $("w-pattern").value.trim(),
      kind: $("w-kind").value,
      reason: $("w-reason").value,
      max_distance: Number($("w-dist").value || 1),
      expires: $("w-expires").value ? A.fromLocal($("w-expires").value) : null,
      cameras: cams.length ? cams : null,
    };
    const id = $("w-id").value;
    await A.api("/api/v1/watchlists" + (id ? "/" + id : ""), { method: id ? "PUT" : "POST", json: body });
    resetForm();
    await load();
  }));
  $("w-cancel").addEventListener("click", resetForm);

  $("import-form").addEventListener("submit", A.guard(async (e) => {
    e.preventDefault();
    const f = $("w-file").files[0];
    if (!f) return;
    $("import-result").textContent = "importing…";
    try {
      const r = await A.json("/api/v1/watchlists/import", { method: "POST", body: f, headers: { "Content-Type": "text/csv" } });
      $("import-result").textContent = "Imported " + r.imported + " entries.";
      $("import-form").reset();
      await load();
    } catch (err) {
      $("import-result").textContent = "Import failed: " + err.message;
      throw err;
    }
  }));

  A.views.watchlists = { show: load, stop: resetForm };
})();
