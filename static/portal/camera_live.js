/* The camera page: draws the lines and zones over the picture and keeps today's totals and the
 * latest crossings up to date from /ws/cameras/<id>/ (snapshot first, then numbered changes). */
(function () {
  "use strict";
  const MAX_CROSSINGS = 20;

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function numberCell(value, suffix) {
    const td = cell("", "num");
    const span = document.createElement("span");
    window.Portal.setNumber(span, value);
    td.append(span, suffix ? ` ${suffix}` : "");
    return td;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const rules = window.Portal.data("camera-rules");
    const cameraId = String(window.Portal.data("camera-id"));
    const tz = window.Portal.data("site-tz");
    const svg = document.getElementById("drawing");
    if (svg && rules) window.PortalDrawing.render(svg, rules, {});
    const names = {};
    for (const line of rules.lines) names[line.id] = line;
    const timeFormat = new Intl.DateTimeFormat(window.Portal.locale, {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit"});

    function render(lines, zones) {
      const lbody = document.querySelector("#lines tbody");
      const rows = [];
      for (const [id, l] of Object.entries(lines || {})) {
        if (l.enabled === false) continue;
        const tr = document.createElement("tr");
        tr.dataset.line = id;
        tr.append(cell(l.name), numberCell(l.in, l.in_label), numberCell(l.out, l.out_label));
        rows.push(tr);
      }
      if (rows.length) lbody.replaceChildren(...rows);
      const zbody = document.querySelector("#zones tbody");
      const zrows = [];
      for (const [id, z] of Object.entries(zones || {})) {
        if (z.enabled === false || z.name === undefined) continue;
        const tr = document.createElement("tr");
        tr.dataset.zone = id;
        tr.append(cell(z.name), numberCell(z.occupancy),
                  z.capacity ? numberCell(z.capacity) : cell("–", "num"));
        zrows.push(tr);
      }
      if (zrows.length) zbody.replaceChildren(...zrows);
    }

    function addCrossings(events) {
      const body = document.querySelector("#crossings tbody");
      for (const event of events || []) {
        const line = names[event.line_id];
        if (!line) continue;
        body.querySelectorAll(".empty-row").forEach((row) => row.remove());
        const tr = document.createElement("tr");
        tr.className = "new-crossing";
        tr.append(cell(timeFormat.format(new Date(event.at))), cell(line.name),
                  cell(event.direction === "in" ? line.in_label : line.out_label));
        body.prepend(tr);
      }
      while (body.children.length > MAX_CROSSINGS) body.lastElementChild.remove();
    }

    const state = document.getElementById("live-state");
    window.Portal.live(`/ws/cameras/${cameraId}/`, {
      snapshot(data) {
        const own = (data.cameras || {})[cameraId] || {};
        render(own.lines, own.zones);
        if (state) state.textContent = "live totals";
      },
      change(data) {
        if (data.type !== "counts") return;
        render(data.lines, data.zones);
        addCrossings(data.events);
      },
    });
  });
})();
