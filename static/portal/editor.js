/* The line and zone editor (templates/counting/editor.html, counting/editor.py).
 * Draw, drag and delete lines and zones on the picture; "Save changes" posts the whole drawing
 * and the server applies it through the services, all or nothing. Coordinates are normalised
 * 0..1 (x right, y down). Keyboard: every item is in the list; its ends can be typed in per
 * cent; Delete removes the selected item, Escape cancels a zone being drawn. */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

  document.addEventListener("DOMContentLoaded", () => {
    const config = window.Portal.data("editor-config");
    const svg = $("drawing");
    let rules = window.Portal.data("camera-rules");
    const deleted = {lines: [], zones: []};
    let tool = "select", selected = null, drag = null, drawing = null, dirty = false;
    let errors = {};

    function items(kind) { return rules[kind === "line" ? "lines" : "zones"]; }
    function current() { return selected ? items(selected.kind)[selected.index] : null; }
    function markDirty() {
      dirty = true;
      $("save-status").textContent = "Unsaved changes.";
    }

    function redraw() {
      window.PortalDrawing.render(svg, rules, {selected, editable: true});
      renderList();
      renderForm();
    }

    function point(event) {
      const rect = svg.getBoundingClientRect();
      return [round((event.clientX - rect.left) / rect.width),
              round((event.clientY - rect.top) / rect.height)];
    }

    function uniqueName(base, list) {
      const names = new Set(list.filter((x) => !x._deleted).map((x) => x.name));
      for (let i = 1; ; i++) if (!names.has(`${base} ${i}`)) return `${base} ${i}`;
    }

    function setTool(name) {
      tool = name;
      document.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute(
        "aria-pressed", String(b.dataset.tool === name)));
      $("finish-zone").hidden = !(name === "zone" || name === "mask");
      $("tool-help").textContent = {
        select: "Click a line or zone to select it; drag its round handles to move its ends or corners.",
        line: "Press where the line starts and drag to where it ends. The arrow shows the \"in\" direction.",
        zone: "Click each corner of the zone; click the first corner again, double-click or press \"Finish the zone\".",
        mask: "Click each corner of the area to ignore; finish as for a zone.",
      }[name];
      if (drawing && drawing.kind === "zone" && name !== "zone" && name !== "mask") cancelZone();
    }

    function select(kind, index) {
      selected = kind === null ? null : {kind, index};
      redraw();
    }

    function finishZone() {
      if (!drawing) return;
      const zone = rules.zones[drawing.index];
      if (zone.points.length < 3) {
        $("tool-help").textContent = "A zone needs at least 3 corners.";
        return;
      }
      delete zone._open;
      drawing = null;
      setTool("select");
      select("zone", rules.zones.indexOf(zone));
      markDirty();
    }

    function cancelZone() {
      if (!drawing) return;
      rules.zones.splice(drawing.index, 1);
      drawing = null;
      selected = null;
      redraw();
    }

    svg.addEventListener("pointerdown", (event) => {
      const [x, y] = point(event);
      const target = event.target;
      if (tool === "line") {
        rules.lines.push({id: null, name: uniqueName("Line", rules.lines), x1: x, y1: y,
                          x2: x, y2: y, in_label: "in", out_label: "out", enabled: true,
                          entrance: ""});
        selected = {kind: "line", index: rules.lines.length - 1};
        drag = {kind: "line", index: selected.index, point: "2", fresh: true};
        svg.setPointerCapture(event.pointerId);
        redraw();
        return;
      }
      if (tool === "zone" || tool === "mask") {
        if (!drawing) {
          rules.zones.push({id: null, name: uniqueName(tool === "mask" ? "Ignored area" : "Zone",
                                                       rules.zones),
                            points: [], capacity: null, ignore_detections: tool === "mask",
                            enabled: true, _open: true});
          drawing = {kind: "zone", index: rules.zones.length - 1};
          selected = {kind: "zone", index: drawing.index};
        }
        const zone = rules.zones[drawing.index];
        const first = zone.points[0];
        if (first && zone.points.length >= 3 && Math.hypot(first[0] - x, first[1] - y) < 0.02) {
          finishZone();
          return;
        }
        zone.points.push([x, y]);
        redraw();
        return;
      }
      // select tool: a handle starts a drag of that point; a line's body drags the line
      if (target.classList.contains("drawing-handle")) {
        drag = {kind: target.dataset.kind, index: Number(target.dataset.index),
                point: target.dataset.point};
        svg.setPointerCapture(event.pointerId);
        return;
      }
      const group = target.closest("[data-kind]");
      if (group) {
        const kind = group.dataset.kind, index = Number(group.dataset.index);
        select(kind, index);
        if (kind === "line") {
          drag = {kind, index, point: "body", from: [x, y],
                  start: Object.assign({}, rules.lines[index])};
          svg.setPointerCapture(event.pointerId);
        }
      } else {
        select(null);
      }
    });

    svg.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const [x, y] = point(event);
      if (drag.kind === "line") {
        const line = rules.lines[drag.index];
        if (drag.point === "1") { line.x1 = x; line.y1 = y; }
        else if (drag.point === "2") { line.x2 = x; line.y2 = y; }
        else {
          const dx = x - drag.from[0], dy = y - drag.from[1], s = drag.start;
          const clampDx = Math.min(1 - Math.max(s.x1, s.x2), Math.max(-Math.min(s.x1, s.x2), dx));
          const clampDy = Math.min(1 - Math.max(s.y1, s.y2), Math.max(-Math.min(s.y1, s.y2), dy));
          line.x1 = round(s.x1 + clampDx); line.x2 = round(s.x2 + clampDx);
          line.y1 = round(s.y1 + clampDy); line.y2 = round(s.y2 + clampDy);
        }
      } else {
        rules.zones[drag.index].points[Number(drag.point)] = [x, y];
      }
      drag.moved = true;
      window.PortalDrawing.render(svg, rules, {selected, editable: true});
    });

    function endDrag() {
      if (!drag) return;
      if (drag.fresh) {
        const line = rules.lines[drag.index];
        if (Math.hypot(line.x2 - line.x1, line.y2 - line.y1) < 0.02) {
          rules.lines.splice(drag.index, 1);  // a click, not a drag: no line
          selected = null;
          $("tool-help").textContent = "Drag to draw a line: press where it starts and release where it ends.";
        } else {
          setTool("select");
          markDirty();
        }
      } else if (drag.moved) {
        markDirty();
      }
      drag = null;
      redraw();
    }
    svg.addEventListener("pointerup", endDrag);
    svg.addEventListener("pointercancel", endDrag);
    svg.addEventListener("dblclick", () => { if (drawing) finishZone(); });

    document.querySelectorAll("[data-tool]").forEach((button) =>
      button.addEventListener("click", () => setTool(button.dataset.tool)));
    $("finish-zone").addEventListener("click", finishZone);

    function removeSelected() {
      const item = current();
      if (!item) return;
      if (item.id !== null && item.id !== undefined) {
        deleted[selected.kind === "line" ? "lines" : "zones"].push(item.id);
      }
      items(selected.kind).splice(selected.index, 1);
      if (drawing) drawing = null;
      selected = null;
      markDirty();
      redraw();
    }
    $("delete").addEventListener("click", removeSelected);
    document.addEventListener("keydown", (event) => {
      const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
      if (event.key === "Escape" && drawing) { cancelZone(); setTool("select"); }
      if ((event.key === "Delete" || event.key === "Backspace") && selected && !typing) {
        event.preventDefault();
        removeSelected();
      }
    });

    $("swap").addEventListener("click", () => {
      const line = current();
      [line.x1, line.y1, line.x2, line.y2] = [line.x2, line.y2, line.x1, line.y1];
      // The arrow turned round: an entrance keeps entering the same way through the door.
      if (line.entrance) line.entrance = line.entrance === "in" ? "out" : "in";
      markDirty();
      renderForm();
      redraw();
    });
    $("add-line").addEventListener("click", () => {
      rules.lines.push({id: null, name: uniqueName("Line", rules.lines), x1: 0.2, y1: 0.5,
                        x2: 0.8, y2: 0.5, in_label: "in", out_label: "out", enabled: true,
                        entrance: ""});
      markDirty();
      select("line", rules.lines.length - 1);
      $("f-name").focus();
    });

    function renderList() {
      const list = $("item-list");
      const entries = [];
      for (const [kind, key] of [["line", "lines"], ["zone", "zones"]]) {
        rules[key].forEach((item, index) => {
          if (item._open) return;
          const li = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          const what = kind === "line" ? "Line" : (item.ignore_detections ? "Ignored area" : "Zone");
          button.textContent = `${what}: ${item.name}${item.enabled === false ? " (off)" : ""}`;
          if (item.id === null) button.textContent += " (new)";
          if (selected && selected.kind === kind && selected.index === index) {
            button.setAttribute("aria-current", "true");
          }
          const error = errors[`${key}.${index}`];
          if (error) button.classList.add("trouble");
          button.addEventListener("click", () => select(kind, index));
          li.appendChild(button);
          entries.push(li);
        });
      }
      if (!entries.length) {
        const li = document.createElement("li");
        li.className = "empty";
        li.textContent = "Nothing drawn yet: choose \"Draw a line\" and drag across the entrance.";
        entries.push(li);
      }
      list.replaceChildren(...entries);
    }

    const pct = (v) => Math.round(v * 1000) / 10;
    function renderForm() {
      const item = current();
      const form = $("item-form");
      form.hidden = !item || item._open;
      if (!item || item._open) return;
      const isLine = selected.kind === "line";
      form.querySelectorAll("[data-for]").forEach((part) => {
        part.hidden = part.dataset.for !== selected.kind;
      });
      $("item-legend").textContent = isLine ? "Selected line" : "Selected zone";
      $("f-name").value = item.name;
      $("f-enabled").checked = item.enabled !== false;
      $("f-entrance").value = item.entrance || "";
      if (isLine) {
        $("f-in").value = item.in_label;
        $("f-out").value = item.out_label;
        for (const key of ["x1", "y1", "x2", "y2"]) $(`f-${key}`).value = pct(item[key]);
      } else {
        $("f-capacity").value = item.capacity ?? "";
        $("f-mask").checked = !!item.ignore_detections;
      }
      const error = errors[`${isLine ? "lines" : "zones"}.${selected.index}`];
      $("item-errors").textContent = error
        ? Object.entries(error).map(([f, m]) => `${f === "__all__" ? "" : f + ": "}${m.join(" ")}`).join(" ")
        : "";
    }

    function bind(id, apply) {
      $(id).addEventListener("input", () => {
        const item = current();
        if (!item) return;
        apply(item, $(id));
        markDirty();
        window.PortalDrawing.render(svg, rules, {selected, editable: true});
        renderList();
      });
    }
    bind("f-name", (item, input) => { item.name = input.value; });
    bind("f-in", (item, input) => { item.in_label = input.value; });
    bind("f-out", (item, input) => { item.out_label = input.value; });
    bind("f-enabled", (item, input) => { item.enabled = input.checked; });
    bind("f-entrance", (item, input) => { item.entrance = input.value; });
    bind("f-mask", (item, input) => { item.ignore_detections = input.checked; });
    bind("f-capacity", (item, input) => {
      item.capacity = input.value === "" ? null : Number(input.value);
    });
    for (const key of ["x1", "y1", "x2", "y2"]) {
      bind(`f-${key}`, (item, input) => {
        if (input.value !== "") item[key] = round(Number(input.value) / 100);
      });
    }

    function clean(item, fields) {
      const out = {id: item.id ?? null};
      for (const field of fields) out[field] = item[field];
      return out;
    }

    $("save").addEventListener("click", async () => {
      if (drawing) { $("save-status").textContent = "Finish or cancel the zone being drawn first."; return; }
      const body = {
        lines: rules.lines.map((l) => clean(l, ["name", "x1", "y1", "x2", "y2", "in_label",
                                                 "out_label", "enabled", "entrance"])),
        zones: rules.zones.map((z) => clean(z, ["name", "points", "capacity",
                                                 "ignore_detections", "enabled", "entrance"])),
        delete_lines: deleted.lines, delete_zones: deleted.zones,
      };
      $("save").disabled = true;
      $("save-status").textContent = "Saving...";
      try {
        const token = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
        const response = await fetch(config.save, {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json",
                    "X-CSRFToken": token ? token.split("=")[1] : ""},
          body: JSON.stringify(body)});
        const answer = await response.json().catch(() => ({}));
        if (response.ok) {
          rules = answer.rules;
          deleted.lines = []; deleted.zones = [];
          errors = {};
          dirty = false;
          selected = null;
          $("save-status").textContent = answer.detail;
        } else {
          errors = answer.errors || {};
          $("save-status").textContent = answer.detail ||
            `Not saved: the server answered ${response.status}. Try again.`;
        }
      } catch (err) {
        $("save-status").textContent = "Not saved: the server could not be reached. Your drawing is kept here; try again.";
      } finally {
        $("save").disabled = false;
        redraw();
      }
    });

    window.addEventListener("beforeunload", (event) => {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
    redraw();
  });
})();
