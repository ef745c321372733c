// shipwise dashboard: draws the uPlot charts from their embedded JSON and wires copy buttons.
// No network access: the data is in the page (<script type="application/json">).
(function () {
  "use strict";
  var COLORS = ["#1f5fbf", "#c0392b", "#d68910", "#7d3c98", "#117a65"];
  window.shipwiseCharts = window.shipwiseCharts || {};

  function fmtLeft(v) {
    if (v == null) return "";
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return +v.toFixed(2) + "";
  }

  function draw(box) {
    var spec = JSON.parse(document.getElementById(box.dataset.chart).textContent);
    if (!window.uPlot || !spec.labels.length) return;
    box.innerHTML = "";
    var xs = spec.labels.map(function (_, i) { return i; });
    var data = [xs].concat(spec.series.map(function (s) { return s.values; }));
    var hasRight = spec.series.some(function (s) { return s.axis === "right"; });
    var series = [{ label: "period", value: function (u, v) { return v == null ? "" : spec.labels[v]; } }];
    spec.series.forEach(function (s, i) {
      series.push({
        label: s.label, scale: s.axis === "right" ? "r" : "y", spanGaps: true,
        stroke: COLORS[i % COLORS.length], width: i === 0 ? 3 : 1.5,
        dash: s.axis === "right" ? [6, 4] : undefined,
        points: { show: true, size: i === 0 ? 6 : 4 },
        value: function (u, v) { return v == null ? "—" : fmtLeft(v); }
      });
    });
    var axes = [
      { values: function (u, ticks) { return ticks.map(function (t) { return Number.isInteger(t) ? spec.labels[t] || "" : ""; }); } },
      { scale: "y", label: spec.left, values: function (u, t) { return t.map(fmtLeft); }, size: 60 }
    ];
    if (hasRight) axes.push({ scale: "r", side: 1, label: spec.right, grid: { show: false }, size: 60 });
    var width = Math.max(280, box.clientWidth || box.parentNode.clientWidth || 600);
    var opts = {
      width: width, height: width < 500 ? 240 : 300, series: series, axes: axes,
      scales: { x: { time: false }, y: { auto: true }, r: { auto: true } },
      legend: { live: true }
    };
    var u = new window.uPlot(opts, data, box);
    window.shipwiseCharts[spec.id] = u;
    box.dataset.ready = "1";
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (box) {
      if (!box.dataset.ready) draw(box);
    });
  }

  function copy(ev) {
    var btn = ev.target.closest("button.copy");
    if (!btn) return;
    var text = document.getElementById(btn.dataset.copy).textContent;
    var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }

  function fallback(text) {
    var ta = document.createElement("textarea");
    ta.value = text; ta.setAttribute("readonly", ""); ta.className = "offscreen";
    document.body.appendChild(ta); ta.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing to do */ }
    document.body.removeChild(ta);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { drawAll(ev.target); });
  document.addEventListener("click", copy);
  var resizeTimer;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      Object.keys(window.shipwiseCharts).forEach(function (id) {
        var u = window.shipwiseCharts[id], box = document.getElementById(id);
        if (box && box.clientWidth) u.setSize({ width: box.clientWidth, height: box.clientWidth < 500 ? 240 : 300 });
      });
    }, 150);
  });
})();
