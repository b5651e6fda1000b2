// Contrast pairs of the page, for test_web.py (page.evaluate(source, focusOnly)).
// WCAG 2.1 contrast from computed styles: text 4.5:1 (3:1 when large: 24 px, or 18.66 px bold; 1.4.3),
// controls against what surrounds them by fill or border, chart marks and focus rings 3:1 (1.4.11).
// Backgrounds are composited up the ancestors onto the white canvas; disabled controls are exempt.
// Returns [{kind: text | control | graphic | focus, what, ratio, need}].
// focusOnly: only the focus ring of the focused element.
(focusOnly) => {
  const parse = (c) => {
    const m = /^rgba?\(([^)]*)\)$/.exec(c);
    if (!m) throw new Error("unparsed colour " + c);
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const back = (e) => {
    const layers = [];
    for (let n = e; n instanceof Element; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] === 1) break;
    }
    return layers.reduceRight((under, top) => over(top, under), [255, 255, 255, 1]);
  };
  const lum = (c) => {
    const f = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (typeof e.className === "string" && e.className ? "." + e.className.trim().replace(/ +/g, ".") : "") +
    " '" + (e.textContent || e.value || "").trim().slice(0, 24) + "'";
  const shown = (e) => e.checkVisibility({ visibilityProperty: true, opacityProperty: true }) &&
    e.getClientRects().length > 0;
  const inactive = (e) => e.closest("button:disabled, input:disabled, select:disabled, textarea:disabled");
  const out = [];
  const check = (kind, e, r, need) => out.push({ kind, what: name(e), ratio: r, need });
  if (focusOnly) {
    // The focus ring of the focused element: drawn, and 3:1 against what it is drawn on.
    const e = document.activeElement, s = getComputedStyle(e);
    if (e === document.body) return []; // Tab went past the last stop, to the browser
    if (s.outlineStyle === "none" || parseFloat(s.outlineWidth) === 0) {
      return [{ kind: "focus", what: name(e), ratio: 0, need: 3 }];
    }
    check("focus", e, ratio(over(parse(s.outlineColor), back(e.parentElement)), back(e.parentElement)), 3);
    return out;
  }
  for (const e of document.querySelectorAll("body *")) {
    if (!shown(e) || inactive(e) || e.closest("svg title, option")) continue;
    const own = [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const field = e.matches(
      "input:not([type=checkbox]):not([type=radio]):not([type=file]), select, textarea");
    if (!own && !field) continue;
    const s = getComputedStyle(e);
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const bg = back(e), fg = over(parse(e instanceof SVGElement ? s.fill : s.color), bg);
    check("text", e, ratio(fg, bg), size >= 24 || (bold && size >= 18.66) ? 3 : 4.5);
  }
  const controls =
    "button, .button, input:not([type=checkbox]):not([type=radio]):not([type=hidden]), select, textarea";
  for (const e of document.querySelectorAll(controls)) {
    if (!shown(e) || inactive(e)) continue;
    const s = getComputedStyle(e), around = back(e.parentElement);
    const fill = over(parse(s.backgroundColor), around);
    const edge = parseFloat(s.borderTopWidth) > 0 ? over(parse(s.borderTopColor), around) : around;
    check("control", e, Math.max(ratio(fill, around), ratio(edge, around)), 3);
  }
  for (const e of document.querySelectorAll("svg rect, .swatch")) {
    if (!shown(e)) continue;
    const s = getComputedStyle(e), bg = back(e.parentElement);
    check("graphic", e, ratio(over(parse(e instanceof SVGElement ? s.fill : s.backgroundColor), bg), bg), 3);
  }
  return out;
}
