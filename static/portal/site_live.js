/* Hourly charts of sites (dashboard and site page) and their live figures.
 * Reads the JSON made by analytics/portal/views.py (_chart) from #dashboard-charts (a list) or
 * #site-chart (one), draws each chart with Chart.js and keeps "visitors today", "inside now" and
 * the current hour's bar up to date from the site's (or its cameras') WebSocket. */
(function () {
  "use strict";
  const TODAY = "#2457c5", COMPARE = "#8d96a8";

  function currentBucket(cfg) {
    const now = Date.now();
    let index = -1;
    cfg.starts.forEach((start, i) => { if (Date.parse(start) <= now) index = i; });
    return index;
  }

  function drawChart(cfg, canvas, compact) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: cfg.labels,
        datasets: [
          {label: "Today", data: cfg.today.slice(), backgroundColor: TODAY, order: 2},
          {type: "line", label: cfg.compare_label, data: cfg.compare, borderColor: COMPARE,
           backgroundColor: COMPARE, pointRadius: 0, borderWidth: 2, tension: 0.3, order: 1},
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: {mode: "index", intersect: false},
        locale: window.Portal.locale,
        plugins: {legend: {display: !compact, position: "bottom"}},
        scales: {y: {beginAtZero: true, ticks: {precision: 0}},
                 x: {ticks: {maxTicksLimit: compact ? 6 : 12, autoSkip: true}}},
      },
    });
  }

  function watch(cfg) {
    const canvas = document.getElementById(`chart-${cfg.site}`);
    const compact = canvas ? canvas.closest(".site-card") !== null : true;
    const chart = canvas && window.Chart ? drawChart(cfg, canvas, compact) : null;
    const cameras = {};  // camera id -> {lines, zones}, absolute day totals
    const zoneIds = new Set(cfg.zone_ids.map(String));
    const visible = new Set(cfg.camera_ids.map(String));

    function render() {
      let footfall = 0, occupancy = null;
      for (const [cameraId, cam] of Object.entries(cameras)) {
        if (!visible.has(cameraId)) continue;
        for (const line of Object.values(cam.lines || {})) footfall += Number(line.in || 0);
        for (const [zoneId, zone] of Object.entries(cam.zones || {})) {
          if (!zoneIds.has(zoneId)) continue;
          occupancy = (occupancy || 0) + Number(zone.occupancy || 0);
        }
      }
      window.Portal.setNumber(document.getElementById(`foot-${cfg.site}`), footfall);
      const occ = document.getElementById(`occ-${cfg.site}`);
      if (occ && occupancy !== null) window.Portal.setNumber(occ, occupancy);
      if (chart) {
        // The bars add up to the day's total: what arrived since the page was drawn goes to
        // the current hour.
        const data = chart.data.datasets[0].data;
        const drawn = data.reduce((a, b) => a + b, 0);
        const bucket = currentBucket(cfg);
        if (footfall > drawn && bucket >= 0) {
          data[bucket] += footfall - drawn;
          chart.update("none");
        }
      }
    }

    function apply(day, cameraId, lines, zones) {
      if (cfg.day && day && day !== cfg.day) { location.reload(); return; }  // a new local day
      cameras[String(cameraId)] = {lines, zones};
    }

    for (const path of cfg.live_paths) {
      window.Portal.live(path, {
        snapshot(data) {
          for (const [cameraId, cam] of Object.entries(data.cameras || {})) {
            apply(data.day, cameraId, cam.lines, cam.zones);
          }
          render();
        },
        change(data) {
          if (data.type !== "counts") return;
          apply(data.day, data.camera_id, data.lines, data.zones);
          render();
        },
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const many = window.Portal.data("dashboard-charts");
    const one = window.Portal.data("site-chart");
    for (const cfg of many || (one ? [one] : [])) watch(cfg);
    const occupancy = window.Portal.data("occupancy-data");
    const canvas = document.getElementById("occupancy-chart");
    if (occupancy && canvas && window.Chart) {
      new Chart(canvas, {
        type: "line",
        data: {labels: occupancy.labels, datasets: [
          {label: "Average inside", data: occupancy.avg, borderColor: TODAY,
           backgroundColor: "rgba(36, 87, 197, .12)", fill: true, tension: 0.3, pointRadius: 2},
          {label: "Peak", data: occupancy.max, borderColor: "#b54708", borderDash: [4, 3],
           pointRadius: 0, tension: 0.3},
        ]},
        options: {responsive: true, maintainAspectRatio: false, animation: false,
                  locale: window.Portal.locale,
                  interaction: {mode: "index", intersect: false},
                  plugins: {legend: {position: "bottom"}},
                  scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
      });
    }
  });
})();
