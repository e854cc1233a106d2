/* The portal's small shared script: locale formatting, "last updated", the phone menu and a
 * WebSocket that reconnects and asks for a fresh snapshot when a message was missed.
 * Pages use window.Portal; nothing here is required for a page to be readable (no-JS fallback:
 * the server-rendered numbers). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  const locale = navigator.languages && navigator.languages.length ? navigator.languages[0]
    : (navigator.language || "en");
  const numberFormat = new Intl.NumberFormat(locale);
  const timeFormat = new Intl.DateTimeFormat(locale, {hour: "2-digit", minute: "2-digit",
                                                      second: "2-digit"});
  const dateTimeFormat = new Intl.DateTimeFormat(locale, {dateStyle: "medium", timeStyle: "medium"});

  function formatNumber(value) {
    if (value === null || value === undefined || value === "") return "–";
    const number = Number(value);
    return Number.isFinite(number) ? numberFormat.format(number) : String(value);
  }

  /* Elements with data-num="<raw number>" show it in the user's locale. */
  function formatAll(root) {
    (root || document).querySelectorAll("[data-num]").forEach((el) => {
      el.textContent = formatNumber(el.dataset.num);
    });
    (root || document).querySelectorAll("time[data-local]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (!Number.isNaN(when.getTime())) el.textContent = dateTimeFormat.format(when);
    });
  }

  function setNumber(el, value) {
    if (!el) return;
    el.dataset.num = value === null || value === undefined ? "" : String(value);
    el.textContent = formatNumber(value);
  }

  /* "Data as of": every <time data-updated> on the page shows when its data was read. */
  function markUpdated(when) {
    const at = when ? new Date(when) : new Date();
    document.querySelectorAll("time[data-updated]").forEach((el) => {
      el.setAttribute("datetime", at.toISOString());
      el.textContent = timeFormat.format(at);
      el.title = dateTimeFormat.format(at);
    });
  }

  function setLiveState(text, ok) {
    document.querySelectorAll("[data-live-state]").forEach((el) => {
      el.hidden = false;
      el.textContent = text;
      el.classList.toggle("trouble", !ok);
    });
  }

  /* A WebSocket to a live group (/ws/cameras/<id>/ or /ws/sites/<id>/). The server sends a
   * "snapshot" first and then numbered changes; a gap in the numbers asks for a resync. */
  function live(path, handlers) {
    let lastSeq = null;
    let delay = 1000;
    let socket = null;
    function connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}${path}`);
      socket.onopen = () => { delay = 1000; setLiveState("· live", true); };
      socket.onmessage = (message) => {
        let data;
        try { data = JSON.parse(message.data); } catch (err) { return; }
        if (data.type === "snapshot") {
          lastSeq = data.seq;
          if (handlers.snapshot) handlers.snapshot(data);
          markUpdated();
        } else if (data.type === "resync_throttled") {  // asked too soon: ask again later
          setTimeout(() => socket.send(JSON.stringify({type: "resync"})),
                     (data.retry_after || 1) * 1000);
        } else if (data.type === "error") {
          setLiveState(`· live updates refused: ${data.detail || data.code || "unknown reason"}`,
                       false);
        } else {
          if (lastSeq !== null && data.seq > lastSeq + 1) {
            socket.send(JSON.stringify({type: "resync"}));  // a message was lost
          }
          if (lastSeq === null || data.seq > lastSeq) {
            lastSeq = data.seq;
            if (handlers.change) handlers.change(data);
            markUpdated();
          }
        }
      };
      socket.onclose = (event) => {
        if (event.code === 4403 || event.code === 4404) {
          setLiveState("· live updates not available for this page", false);
          return;
        }
        if (event.code === 4410) {  // the organisation is suspended or deleted: no retry
          setLiveState(`· ${event.reason || "live updates are unavailable"}`, false);
          return;
        }
        // 4429: every live connection of the organisation is in use; the reason says what to do
        const why = event.code === 4429 && event.reason ? `${event.reason} ` : "";
        setLiveState(`· ${why}live connection lost, retrying in ${delay / 1000} s`, false);
        setTimeout(connect, delay);
        delay = Math.min(delay * (event.code === 4429 ? 4 : 2), 30000);
      };
    }
    connect();
    return { close: () => socket && socket.close() };
  }

  /* JSON embedded with Django's json_script. */
  function data(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function setupMenu() {
    const toggle = document.querySelector(".nav-toggle");
    const nav = document.getElementById("main-nav");
    if (!toggle || !nav) return;
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        nav.classList.remove("open");
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }

  window.Portal = { formatNumber, formatAll, setNumber, markUpdated, setLiveState, live, data,
                    locale };
  document.addEventListener("DOMContentLoaded", () => {
    setupMenu();
    formatAll(document);
    document.querySelectorAll("time[data-updated]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (!Number.isNaN(when.getTime())) { el.textContent = timeFormat.format(when);
                                          el.title = dateTimeFormat.format(when); }
    });
  });
  document.addEventListener("htmx:afterSwap", (event) => formatAll(event.target));
})();
