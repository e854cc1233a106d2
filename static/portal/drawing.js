/* Lines and zones drawn over a camera's picture in an <svg> whose viewBox is the picture's
 * pixel size (coordinates are stored normalised 0..1). Used by the camera page (read-only)
 * and the editor (static/portal/editor.js).
 *
 * "in" is a crossing from the line's left to its right, walking from (x1, y1) to (x2, y2)
 * with y downwards (counting/pipeline/geometry.py); the arrow points to the right side. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const LINE = "#ffd43b", LINE_OFF = "#adb5bd", ZONE = "#4dabf7", MASK = "#868e96";

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function label(parent, x, y, text, size, anchor) {
    const t = el("text", {x, y, "font-size": size, "text-anchor": anchor || "middle",
                          "dominant-baseline": "middle", class: "drawing-label",
                          "paint-order": "stroke", stroke: "#000", "stroke-width": size / 5,
                          fill: "#fff"}, parent);
    t.textContent = text;
    return t;
  }

  /* The unit normal pointing to the line's right side (the "in" side), in pixels. */
  function inNormal(x1, y1, x2, y2) {
    const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
    return [-dy / len, dx / len];
  }

  function drawLine(group, line, w, h, opts) {
    const x1 = line.x1 * w, y1 = line.y1 * h, x2 = line.x2 * w, y2 = line.y2 * h;
    const unit = Math.max(w, h) / 100;
    const color = line.enabled === false ? LINE_OFF : LINE;
    const g = el("g", {class: "drawing-line" + (opts.selected ? " selected" : ""),
                       "data-kind": "line", "data-index": opts.index}, group);
    el("line", {x1, y1, x2, y2, stroke: "#000", "stroke-width": unit * 0.9,
                "stroke-linecap": "round", opacity: 0.5}, g);
    el("line", {x1, y1, x2, y2, stroke: color, "stroke-width": unit * 0.5,
                "stroke-linecap": "round",
                "stroke-dasharray": line.enabled === false ? `${unit} ${unit}` : "none",
                class: "drawing-hit"}, g);
    const [nx, ny] = inNormal(x1, y1, x2, y2);
    const mx = (x1 + x2) / 2, my = (y1 + y2) / 2, len = unit * 8;
    const tipX = mx + nx * len, tipY = my + ny * len;
    // the arrow: a dark outline under a coloured shaft and head, pointing to the "in" side
    const back = unit * 2.4, side = unit * 1.6, dx = -ny, dy = nx;
    const head = [[tipX + nx * unit, tipY + ny * unit],
                  [tipX - nx * back + dx * side, tipY - ny * back + dy * side],
                  [tipX - nx * back - dx * side, tipY - ny * back - dy * side]]
      .map((p) => p.join(",")).join(" ");
    el("line", {x1: mx, y1: my, x2: tipX, y2: tipY, stroke: "#000",
                "stroke-width": unit * 1.1}, g);
    el("polygon", {points: head, fill: "#000", stroke: "#000", "stroke-width": unit * 0.6}, g);
    el("line", {x1: mx, y1: my, x2: tipX, y2: tipY, stroke: color,
                "stroke-width": unit * 0.6}, g);
    el("polygon", {points: head, fill: color}, g);
    const size = unit * 2.6;
    // labels beside the arrow's head ("in") and on the other side ("out"), anchored away from
    // the line so that they never cover it; kept inside the picture
    const anchor = (sign) => Math.abs(nx) < 0.5 ? "middle" : (nx * sign > 0 ? "start" : "end");
    const clampX = (x) => Math.min(w - size, Math.max(size, x));
    const clampY = (y) => Math.min(h - size, Math.max(size, y));
    label(g, clampX(tipX + nx * unit * 2.5), clampY(tipY + ny * unit * 3.5),
          line.in_label || "in", size, anchor(1));
    label(g, clampX(mx - nx * unit * 2.5), clampY(my - ny * unit * 3.5),
          line.out_label || "out", size * 0.85, anchor(-1));
    const ux = (x2 - x1) / (Math.hypot(x2 - x1, y2 - y1) || 1);
    const uy = (y2 - y1) / (Math.hypot(x2 - x1, y2 - y1) || 1);
    label(g, clampX(x1 - ux * unit * 2 + nx * unit * 3), clampY(y1 - uy * unit * 2 + ny * unit * 3),
          line.name || "(unnamed line)", size * 0.85);
    if (opts.handles) {
      el("circle", {cx: x1, cy: y1, r: unit * 1.6, class: "drawing-handle",
                    "data-kind": "line", "data-index": opts.index, "data-point": "1"}, g);
      el("circle", {cx: x2, cy: y2, r: unit * 1.6, class: "drawing-handle",
                    "data-kind": "line", "data-index": opts.index, "data-point": "2"}, g);
    }
    g.appendChild(document.createElementNS(NS, "title")).textContent =
      `${line.name}: arrow = ${line.in_label || "in"}`;
  }

  function drawZone(group, zone, w, h, opts) {
    const unit = Math.max(w, h) / 100;
    const color = zone.ignore_detections ? MASK : ZONE;
    const pts = (zone.points || []).map(([x, y]) => [x * w, y * h]);
    const g = el("g", {class: "drawing-zone" + (opts.selected ? " selected" : ""),
                       "data-kind": "zone", "data-index": opts.index}, group);
    el(opts.open ? "polyline" : "polygon", {
      points: pts.map((p) => p.join(",")).join(" "), class: "drawing-hit",
      fill: opts.open ? "none" : color, "fill-opacity": zone.ignore_detections ? 0.45 : 0.22,
      stroke: color, "stroke-width": unit * 0.4,
      "stroke-dasharray": zone.enabled === false || zone.ignore_detections
        ? `${unit} ${unit * 0.6}` : "none"}, g);
    if (pts.length) {
      const cx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
      const cy = pts.reduce((a, p) => a + p[1], 0) / pts.length;
      const text = zone.ignore_detections ? `${zone.name || "mask"} (ignored)`
        : `${zone.name || "(unnamed zone)"}${zone.capacity ? ` · max ${zone.capacity}` : ""}`;
      if (!opts.open) label(g, cx, cy, text, unit * 2);
    }
    if (opts.handles) {
      pts.forEach(([x, y], i) => el("circle", {cx: x, cy: y, r: unit * 1.4,
        class: "drawing-handle", "data-kind": "zone", "data-index": opts.index,
        "data-point": String(i)}, g));
    }
  }

  /* Redraw everything: rules = {lines, zones}; opts.selected = {kind, index}. */
  function render(svg, rules, opts) {
    opts = opts || {};
    const [, , w, h] = svg.getAttribute("viewBox").split(/\s+/).map(Number);
    svg.replaceChildren();
    const zones = el("g", {}, svg), lines = el("g", {}, svg);
    (rules.zones || []).forEach((zone, index) => {
      if (zone._deleted) return;
      const selected = opts.selected && opts.selected.kind === "zone" &&
        opts.selected.index === index;
      drawZone(zones, zone, w, h, {index, selected, handles: opts.editable && selected,
                                   open: zone._open});
    });
    (rules.lines || []).forEach((line, index) => {
      if (line._deleted) return;
      const selected = opts.selected && opts.selected.kind === "line" &&
        opts.selected.index === index;
      drawLine(lines, line, w, h, {index, selected, handles: opts.editable && selected});
    });
  }

  window.PortalDrawing = {render, inNormal};
})();
