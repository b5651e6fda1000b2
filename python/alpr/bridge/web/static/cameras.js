// Cameras view (health from the stream heartbeats) and Stats view (inline SVG charts, no library).
"use strict";
(() => {
  const A = window.ALPR, $ = A.$, el = A.el;
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = ["#0b4fa8", "#c25e00", "#1b7a36", "#8a1c7c", "#a01616", "#00707a", "#5c4b00", "#4a5561"];
  let timer = null;

  async function cameras() {
    const items = (await A.json("/api/v1/camera-health")).items;
    const num = (v, d = 0) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
    $("camera-rows").replaceChildren(...items.map((c) => A.row([
      c.camera,
      el("span", { class: "badge " + (c.online ? "ok" : "bad"), text: c.online ? "online" : "offline" }),
      num(c.fps, 1), num(c.frames), num(c.dropped), A.time(c.last_heartbeat) || "never", A.time(c.last_read) || "never",
    ])));
    if (!items.length) $("camera-rows").append(A.row(["No camera has sent a heartbeat or a read yet."]));
    A.error("");
  }
  A.views.cameras = {
    show: async () => {
      clearInterval(timer);
      await cameras();
      // Health changes by itself (a camera going offline), so this view refreshes; it is not audited.
      timer = setInterval(A.guard(async () => { if (location.hash === "#cameras") await cameras(); else clearInterval(timer); }), 5000);
    },
    stop: () => clearInterval(timer),
  };

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A bar chart: series = [{name, values}], stacked; labels under every `every`-th bar.
  function bars(target, labels, series, title, every = 1) {
    const W = 720, H = 220, L = 40, B = 30, T = 10;
    const n = labels.length;
    const totals = labels.map((_, i) => series.reduce((s, x) => s + x.values[i], 0));
    const max = Math.max(1, ...totals);
    const bw = (W - L - 10) / n;
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title });
    root.append(svg("title", {}, title));
    for (const f of [0, 0.5, 1]) {
      const y = T + (H - T - B) * (1 - f);
      root.append(svg("line", { x1: L, x2: W - 10, y1: y, y2: y, stroke: "#dfe3e8" }));
      root.append(svg("text", { x: L - 4, y: y + 4, "text-anchor": "end" }, String(Math.round(max * f))));
    }
    labels.forEach((lab, i) => {
      let y = H - B;
      series.forEach((s, k) => {
        const v = s.values[i];
        if (!v) return;
        const h = ((H - T - B) * v) / max;
        y -= h;
        const r = svg("rect", { x: L + i * bw + 1, y, width: Math.max(1, bw - 2), height: h, fill: COLOURS[k % COLOURS.length] });
        r.append(svg("title", {}, s.name + " " + lab + ": " + v));
        root.append(r);
      });
      if (i % every === 0) root.append(svg("text", { x: L + i * bw + bw / 2, y: H - B + 14, "text-anchor": "middle" }, lab));
    });
    const legend = el("div", { class: "legend" });
    if (series.length > 1 || series[0].name) {
      series.forEach((s, k) => {
        const sw = el("span", { class: "swatch" });
        sw.style.background = COLOURS[k % COLOURS.length];
        legend.append(el("span", {}, sw, s.name));
      });
    }
    target.replaceChildren(root, legend);
  }

  async function stats() {
    const c = await A.json("/api/v1/stats/charts?hours=24&days=14");
    const s = c.totals;
    $("stat-tiles").replaceChildren(...["reads", "reads_last_hour", "alerts", "cameras", "watchlist"].map((k) =>
      el("div", {}, el("b", { text: String(s[k]) }), k.replaceAll("_", " "))));
    const hours = c.hours.map((h) => String(new Date(h).getHours()).padStart(2, "0") + "h");
    const cams = Object.entries(c.reads_per_hour).map(([name, values]) => ({ name, values }));
    bars($("chart-hours"), hours, cams.length ? cams : [{ name: "", values: hours.map(() => 0) }], "Reads per hour per camera", 3);
    bars($("chart-days"), c.days.map((d) => d.slice(5)), [{ name: "", values: c.alerts_per_day }], "Alerts per day", 2);
    const bins = c.confidence.map((_, i) => c.confidence_bins[i].toFixed(1));
    bars($("chart-conf"), bins, [{ name: "", values: c.confidence }], "Read confidence histogram");
    A.error("");
  }
  A.views.stats = { show: stats };
})();
